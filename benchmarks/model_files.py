"""Model files: the safe format (JSON + skops + safetensors) against the pickle it replaced.

For a classical pipeline (TS+LR), an SSVEP one with large learned templates (TRCA) and a network
(ShallowConvNet), fitted on the same synthetic windows: file size, save and load time (median of
7), peak memory of a load, and whether predictions after a load are bit-equal to the fitted
estimator's. The anchor is what neurodecode wrote before (``pickle.dumps`` of the same estimator,
the network's weights through its own state).

    python benchmarks/model_files.py
"""
from __future__ import annotations

import pickle
import statistics
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def _median_seconds(fn, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _peak_mb(fn) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> int:
    from neurodecode.models import get_pipeline, load_model, save_model
    from neurodecode.models.signal import fill_sfreq
    from neurodecode.windows import Windows

    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 8, 256)).astype("float32")
    y = np.repeat(["13", "17"], 40)
    X[y == "17", :3] += np.sin(2 * np.pi * 17 * np.arange(256) / 128.0).astype("float32")
    w = Windows(X, pd.DataFrame({"label": y}), [f"C{i}" for i in range(8)], 128.0)
    folder = Path(tempfile.mkdtemp())
    rows = []
    for name, params in (("TS+LR", {}), ("TRCA", {}), ("ShallowConvNet", {"max_epochs": 5})):
        est = fill_sfreq(get_pipeline(name, **params), 128.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
        expected = est.predict_proba(X)
        safe = folder / f"{name}.ndmodel"
        legacy = folder / f"{name}.pickle"
        meta = {"format": 1, "ch_names": w.ch_names, "sfreq": 128.0, "n_times": 256}
        save_safe = _median_seconds(lambda: save_model(est, safe, w))
        save_pickle = _median_seconds(lambda: legacy.write_bytes(pickle.dumps({"meta": meta, "estimator": est})))
        load_safe = _median_seconds(lambda: load_model(safe))
        load_pickle = _median_seconds(lambda: pickle.loads(legacy.read_bytes()))
        rows.append({
            "pipeline": name, "bytes_safe": safe.stat().st_size, "bytes_pickle": legacy.stat().st_size,
            "save_ms_safe": 1e3 * save_safe, "save_ms_pickle": 1e3 * save_pickle,
            "load_ms_safe": 1e3 * load_safe, "load_ms_pickle": 1e3 * load_pickle,
            "load_ratio": load_safe / load_pickle,
            "peak_mb_safe": _peak_mb(lambda: load_model(safe)),
            "peak_mb_pickle": _peak_mb(lambda: pickle.loads(legacy.read_bytes())),
            "bit_equal_safe": bool(np.array_equal(load_model(safe).estimator.predict_proba(X), expected)),
            "bit_equal_pickle": bool(np.array_equal(
                pickle.loads(legacy.read_bytes())["estimator"].predict_proba(X), expected)),
        })
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.float_format", "{:.2f}".format):
        print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
