"""Offline within-session scores of a benchmark run against MOABB's own ``WithinSessionEvaluation``.

Anchor: MOABB's ``WithinSessionEvaluation.process()`` with the same
paradigm, pipelines, subjects and random_state, run here on all subjects at once.
The benchmark runs the same public ``process()`` one subject per task.
Printed: both wall times and their ratio, the largest score difference, and
whether the scores are bit-equal.

Run: ``python benchmarks/offline_vs_moabb.py CONFIG.yml RESULTS_FOLDER`` after
``neurodecode benchmark CONFIG.yml``; the benchmark's own wall time for its
offline tasks is read from its store.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def main(config: str, folder: str) -> None:
    import mne
    from moabb.evaluations import WithinSessionEvaluation

    from neurodecode.benchmark import load_config
    from neurodecode.benchmark.build import build_pipeline, make_paradigm
    from neurodecode.config import apply
    from neurodecode.datasets import get_dataset
    from neurodecode.evaluation.compare import moabb_groups

    apply()
    mne.set_log_level("ERROR")
    cfg = load_config(config)
    ours = pd.read_csv(Path(folder) / "results.csv", keep_default_na=False)
    ours = ours[(ours["evaluation"] == "offline/within-session") & (ours["error"] == "")]
    store = [json.loads(line) for line in (Path(folder) / "store.jsonl").read_text().splitlines()]
    offline_tasks = set(ours["task"])
    ours_s = sum(r["seconds"] for r in store if r["type"] == "end" and r["task"] in offline_tasks)
    paradigm = make_paradigm(cfg.paradigm)
    spec = cfg.datasets[0]
    dataset = get_dataset(spec["name"], subjects=spec["subjects"], **spec["params"])
    pipelines = {p["name"]: build_pipeline(p, getattr(paradigm, "resample", None)) for p in cfg.pipelines}
    stored, moabb_s = [], 0.0
    for group, extra in moabb_groups(pipelines):  # frequency-named SSVEP pipelines need mne_labels
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ev = WithinSessionEvaluation(paradigm=paradigm, datasets=[dataset], random_state=cfg.random_state,
                                         hdf5_path=tmp, overwrite=True, **extra)
            t0 = time.perf_counter()
            stored.append(ev.process(group))
            moabb_s += time.perf_counter() - t0
    stored = pd.concat(stored, ignore_index=True)
    key = ["pipeline", "subject"]
    a = ours.set_index(key)["score"].sort_index()
    c = stored.astype({"subject": int}).set_index(key)["score"].reindex(a.index)
    print(f"{spec['code']} subjects {spec['subjects']}, {len(a)} scores, pipelines {list(pipelines)}")
    print(f"max |ours - MOABB process()| {np.abs(a - c).max():.2e}; bit-equal: "
          f"{np.array_equal(a.to_numpy(), c.to_numpy())}")
    print(f"wall: ours (offline tasks, sum) {ours_s:.1f} s, MOABB process() {moabb_s:.1f} s, "
          f"ratio {ours_s / moabb_s:.3f}")
    for name, g in a.groupby(level="pipeline"):
        print(f"  {name:15s} mean {g.mean():.4f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
