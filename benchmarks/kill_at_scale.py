"""SIGKILL a benchmark run again and again; its resumed store must equal a clean run's.

The run: SyntheticMI with ``--subjects`` subjects (52), two evaluations
(offline within-session and pseudo-online) and two pipelines (CSP+LDA, TS+LR):
2 x 52 = 104 units of (dataset, subject, evaluation), 208 tasks, through
``neurodecode benchmark --n-jobs 2``. It is started, killed with SIGKILL
(the driver and its workers, as a job scheduler does) at a random moment after
it stored at least one more task, and started again, ``--kills`` (10) times;
then it runs to its end. A clean run of the same definition in another folder
is the anchor.

Printed: the kills and how many tasks were stored at each, then lost tasks
(in the clean run, not in the resumed one), duplicated rows, tasks stored more
than once as complete, and whether every score is bit-identical. Exit status 1
if any of these is not 0 / identical.

Run: ``python benchmarks/kill_at_scale.py [--subjects 52] [--kills 10] [--random-state 0]`` (about 10 minutes).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml


def _ends(store: Path) -> list[dict]:
    if not store.exists():
        return []
    lines = store.read_bytes().split(b"\n")[:-1]  # the part after the last newline is unfinished
    return [r for r in map(json.loads, lines) if r["type"] == "end"]


def _run(cmd: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=52)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    rng = random.Random(args.random_state)
    tmp = Path(tempfile.mkdtemp(prefix="neurodecode-kills-"))
    config = {"name": "kills", "random_state": 3, "pipelines": ["CSP+LDA", "TS+LR"],
              "datasets": [{"name": "SyntheticMI", "params": {
                  "n_subjects": args.subjects, "n_sessions": 1, "n_runs": 2, "n_trials": 10, "sfreq": 128,
                  "snr": 1.0, "random_state": 0}}],
              "paradigm": {"name": "LeftRightImagery", "params": {"fmin": 8, "fmax": 30}},
              "evaluations": ["within-session", {"type": "pseudo-online", "window": 1.0, "step": 0.5}]}
    n_tasks = 2 * 2 * args.subjects
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "NEURODECODE_HOME": str(tmp / "home")}
    killed = tmp / "killed"
    (tmp / "killed.yml").write_text(yaml.safe_dump({**config, "output": str(killed)}))
    cmd = [sys.executable, "-m", "neurodecode.cli", "benchmark", str(tmp / "killed.yml"), "--quiet",
           "--n-jobs", str(args.n_jobs)]
    t0 = time.perf_counter()
    for k in range(1, args.kills + 1):
        before = len(_ends(killed / "store.jsonl"))
        if before >= n_tasks:
            print(f"the run ended before kill {k}: make it larger (--subjects)")
            return 1
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)  # its own process group: driver and workers
        deadline = time.time() + 600
        while len(_ends(killed / "store.jsonl")) <= before and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 3.0))  # a random moment after at least one more task was stored
        if proc.poll() is not None:
            print(f"the run ended before kill {k}: make it larger (--subjects)")
            return 1
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        print(f"kill {k:2d}: {len(_ends(killed / 'store.jsonl')):3d}/{n_tasks} tasks stored", flush=True)
    final = _run(cmd, env, 1800)
    if final.returncode != 0:
        print(f"the resumed run failed ({final.returncode}): {final.stderr.strip().splitlines()[-1:]}")
        return 1
    wall = time.perf_counter() - t0
    clean_folder = tmp / "clean"
    (tmp / "clean.yml").write_text(yaml.safe_dump({**config, "output": str(clean_folder)}))
    clean = _run(cmd[:4] + [str(tmp / "clean.yml")] + cmd[5:], env, 1800)
    if clean.returncode != 0:
        print(f"the clean run failed: {clean.stderr.strip().splitlines()[-1:]}")
        return 1
    keys = ["evaluation", "pipeline", "subject", "session", "run"]
    a = pd.read_csv(killed / "results.csv", keep_default_na=False)
    b = pd.read_csv(clean_folder / "results.csv", keep_default_na=False)
    lost = len(set(b["task"]) - set(a["task"]))
    duplicated = int(a.duplicated(keys).sum())
    complete = [e["task"] for e in _ends(killed / "store.jsonl") if e["status"] == "ok"]
    twice = len(complete) - len(set(complete))
    merged = a.merge(b, on=keys, suffixes=("", "_clean"), how="outer", indicator=True)
    identical = bool((merged["_merge"] == "both").all()) and np.array_equal(
        merged["score"].to_numpy(float), merged["score_clean"].to_numpy(float), equal_nan=False)
    print(f"{args.kills} kills, {wall / 60:.1f} min to resume to the end; {len(a)} rows vs {len(b)} clean; "
          f"lost tasks {lost}, duplicated rows {duplicated}, tasks stored complete twice {twice}, "
          f"scores bit-identical: {identical}")
    # a resumed run skips the tasks stored complete, so none may be stored twice
    ok = lost == 0 and duplicated == 0 and twice == 0 and identical and len(a) == len(b)
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
