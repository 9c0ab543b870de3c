"""Wall time of one benchmark definition: local engine (one process) against Dask with 2 workers.

Both runs start from an empty output folder, with the same seeds, in this
process's environment. Printed: each wall time, the ratio Dask / local, the
peak memory of this process and its children, and the largest score
difference between the two result tables (the anchor is the local run).

Run: ``python benchmarks/benchmark_engines.py [CONFIG.yml]`` (default: the
quickstart definition, about 3 minutes in all).
"""
from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main(config: str) -> None:
    from neurodecode.benchmark import run_benchmark

    times, results = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for engine, n_jobs in (("local", 1), ("dask", 2)):
            t0 = time.perf_counter()
            out = run_benchmark(config, output=Path(tmp) / engine, engine=engine, n_jobs=n_jobs, quiet=True)
            times[engine] = time.perf_counter() - t0
            results[engine] = out.results
            print(f"{engine:5s} ({n_jobs} worker(s)): {times[engine]:.1f} s, {out.n_run} tasks, "
                  f"{len(out.failures)} failed")
    keys = ["dataset", "evaluation", "pipeline", "subject", "session"] + \
        (["run"] if "run" in results["local"] else [])
    a = results["local"].set_index(keys)["score"]
    b = results["dask"].set_index(keys)["score"].reindex(a.index)
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(f"ratio dask/local {times['dask'] / times['local']:.3f} | max |score diff| "
          f"{np.nanmax(np.abs(a.to_numpy() - b.to_numpy())):.2e} over {len(a)} rows | "
          f"peak RSS of one process {peak / 1024:.0f} MB")


if __name__ == "__main__":
    from neurodecode.utils import resource_path

    main(sys.argv[1] if len(sys.argv) > 1 else str(resource_path("benchmarks", "quickstart.yml")))
