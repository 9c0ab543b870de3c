"""Throughput of the runner's engines, and its offline wall time against MOABB's ``process()``.

Part 1, scaling: a 16-unit synthetic benchmark (SyntheticMI, 16 subjects of
2 x 160 trials at 250 Hz, offline within-session, 5 pipelines: 16 units of
(dataset, subject, evaluation), about 11 s each, 80 tasks), run from an empty
output folder by ``neurodecode benchmark`` in a fresh process for each engine:

- local, 1 worker: the driver runs the units itself, with BLAS and torch held
  to one thread (``OMP_NUM_THREADS=1``...), as each parallel worker has;
- local, 2 worker processes;
- Dask ``LocalCluster``, 2 single-thread workers.

Wall time is the whole command (start-up, imports and workers included).
Printed: wall time, units per minute, the efficiency n workers / 1 worker,
the peak RSS of the driver and of its largest worker, and whether every score
equals the 1-worker run's bit for bit.

Part 2, MOABB anchor: Kalunga2016 subjects 1-9 with TS+LR, FB-TS+LR, MDM and
TRCA, offline within-session, through ``neurodecode benchmark`` (local, 1 and 2
workers) and through MOABB's ``WithinSessionEvaluation.process()`` in a fresh
process (``n_jobs=1``, and ``n_jobs=2`` for reference), all timed as whole
commands. Printed: each wall time, its ratio to MOABB's, and whether the
scores are bit-equal.

Run: ``python benchmarks/benchmark_engines.py [--part scaling|moabb|both]``
(about 10 minutes; needs ``../shared/data`` for part 2).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from memory import PeakRSS  # benchmarks/memory.py

ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
SCALING = {"name": "scaling", "random_state": 0, "pipelines": ["CSP+LDA", "TS+LR", "MDM", "FgMDM", "TS+SVM"],
           "datasets": [{"name": "SyntheticMI", "params": {"n_subjects": 16, "n_sessions": 1, "n_runs": 2,
                                                           "n_trials": 80, "sfreq": 250, "snr": 1.0,
                                                           "random_state": 0}}],
           "paradigm": {"name": "LeftRightImagery", "params": {"fmin": 8, "fmax": 30}},
           "evaluations": ["within-session"]}
KALUNGA = {"name": "kalunga-offline", "random_state": 42, "pipelines": ["TS+LR", "FB-TS+LR", "MDM", "TRCA"],
           "datasets": [{"name": "Kalunga2016", "subjects": list(range(1, 10))}],
           "paradigm": {"name": "SSVEP", "params": {"fmin": 3, "fmax": 45, "n_classes": 4, "resample": 128}},
           "evaluations": ["within-session"]}
KEYS = ["pipeline", "subject", "session"]


def timed(cmd: list[str], env: dict) -> tuple[float, PeakRSS]:
    """Wall time of a command as a whole, and the peak RSS of it and its children."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with PeakRSS(proc.pid) as peak:
        _, err = proc.communicate(timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[2:5])} failed: {err.strip().splitlines()[-1:]}")
    return time.perf_counter() - t0, peak


def run_ours(config: dict, folder: Path, engine: str, n_jobs: int, env: dict) -> tuple[float, PeakRSS, pd.DataFrame]:
    path = folder / f"{engine}-{n_jobs}.yml"
    out = folder / path.stem
    path.write_text(yaml.safe_dump({**config, "output": str(out)}))
    cmd = [sys.executable, "-m", "neurodecode.cli", "benchmark", str(path), "--quiet", "--engine", engine,
           "--n-jobs", str(n_jobs)]
    wall, peak = timed(cmd, env)
    table = pd.read_csv(out / "results.csv", keep_default_na=False)
    return wall, peak, table.astype({"subject": int, "session": str}).set_index(KEYS)["score"].sort_index()


def moabb_anchor(config_path: str, n_jobs: int, out_csv: str) -> None:
    """MOABB's own ``process()`` on a benchmark definition (run in a fresh process)."""
    import warnings

    import mne
    from moabb.evaluations import WithinSessionEvaluation

    from neurodecode.benchmark import load_config
    from neurodecode.benchmark.build import build_pipeline, make_paradigm
    from neurodecode.config import apply
    from neurodecode.datasets import get_dataset
    from neurodecode.evaluation.compare import moabb_groups

    apply()
    mne.set_log_level("ERROR")
    warnings.simplefilter("ignore")
    cfg = load_config(config_path)
    paradigm = make_paradigm(cfg.paradigm)
    spec = cfg.datasets[0]
    dataset = get_dataset(spec["name"], subjects=spec["subjects"], **spec["params"])
    pipelines = {p["name"]: build_pipeline(p, getattr(paradigm, "resample", None)) for p in cfg.pipelines}
    tables = []
    for group, extra in moabb_groups(pipelines):  # frequency-named SSVEP pipelines need mne_labels
        with tempfile.TemporaryDirectory() as tmp:
            ev = WithinSessionEvaluation(paradigm=paradigm, datasets=[dataset], random_state=cfg.random_state,
                                         hdf5_path=tmp, overwrite=True, n_jobs=n_jobs, **extra)
            tables.append(ev.process(group))
    table = pd.concat(tables, ignore_index=True)
    table["score"] = table["score"].astype("float64")  # MOABB keeps float32; its exact value survives the CSV
    table.to_csv(out_csv, index=False)


def scaling(env: dict) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs = [("local", 1, "1 thread", {**env, **ONE_THREAD}), ("local", 2, "1 thread each", env),
                ("dask", 2, "1 thread each", env)]
        results = {}
        for engine, n_jobs, threads, run_env in runs:
            sub = folder / f"{engine}-{n_jobs}-{threads.replace(' ', '-')}"
            sub.mkdir()
            wall, peak, scores = run_ours(SCALING, sub, engine, n_jobs, run_env)
            results[engine, n_jobs, threads] = scores
            rows.append({"engine": engine, "workers": n_jobs, "threads": threads, "wall_s": wall,
                         "units_per_min": 16 / wall * 60, "driver_MB": peak.root / 2**20,
                         "largest_worker_MB": max(peak.largest_children(1) or [0.0])})
    table = pd.DataFrame(rows)
    table["efficiency"] = table["units_per_min"] / table["units_per_min"].iloc[0]
    base = results["local", 1, "1 thread"]
    table["scores_equal"] = [np.array_equal(base.to_numpy(), s.reindex(base.index).to_numpy())
                             for s in results.values()]
    print(f"16 units (SyntheticMI, 16 subjects x within-session, {len(SCALING['pipelines'])} pipelines), "
          f"{len(base)} scores")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


def moabb(env: dict) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "kalunga.yml"
        path.write_text(yaml.safe_dump({**KALUNGA, "output": str(folder / "unused")}))
        anchor = {}
        for n_jobs in (1, 2):
            out = folder / f"moabb-{n_jobs}.csv"
            wall, peak = timed([sys.executable, __file__, "--anchor", str(path), str(n_jobs), str(out)], env)
            table = pd.read_csv(out).astype({"subject": int, "session": str}).set_index(KEYS)["score"]
            anchor[n_jobs] = (wall, peak, table.sort_index())
        ours = {n: run_ours(KALUNGA, folder, "local", n, env) for n in (1, 2)}
    ref_wall, _, ref = anchor[1]
    print(f"Kalunga2016 1-9, {KALUNGA['pipelines']}, offline within-session, {len(ref)} scores")
    for label, (wall, peak, scores) in [("MOABB process(), n_jobs=1 (anchor)", anchor[1]),
                                        ("MOABB process(), n_jobs=2", anchor[2]),
                                        ("neurodecode, local 1 worker", ours[1]),
                                        ("neurodecode, local 2 workers", ours[2])]:
        equal = np.array_equal(ref.to_numpy(), scores.reindex(ref.index).to_numpy())
        print(f"  {label:36s} {wall:6.1f} s  ratio {wall / ref_wall:.3f}  peak RSS driver "
              f"{peak.root / 2**20:.0f} MB, largest child {max(peak.largest_children(1) or [0.0]):.0f} MB  "
              f"scores bit-equal to MOABB: {equal}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--anchor":
        moabb_anchor(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["scaling", "moabb", "both"], default="both")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    if args.part in ("scaling", "both"):
        scaling(env)
    if args.part in ("moabb", "both"):
        moabb(env)


if __name__ == "__main__":
    main()
