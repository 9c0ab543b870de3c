"""A benchmark run on a synthetic dataset of more than 8 GB, with peak memory of driver and workers.

The dataset: ``--subjects`` (110) subjects of SyntheticMI, each 2 runs of about
10 minutes, 64 channels (a BioSemi-64 cap) at 160 Hz: 110 x 20 min x 64 ch x
160 Hz is 10.8 GB as float64 (what MNE holds in memory) and 5.4 GB as float32
(what the run cache stores). The benchmark generates each subject, preprocesses
it into the run cache (notch at 50 Hz, band-pass 1-40 Hz) and scores TS+LR
within-session with MOABB's own evaluation, through the runner's local engine
with ``--n-jobs`` (2) worker processes.

Printed: wall time, units per minute, peak RSS of the driver and of each
worker (sampled every 0.25 s with psutil, and the kernel's own maximum for the
driver and its children), the cache size on disk, the mean score and the
number of failed tasks. It takes about half an hour on 2 cores; it is not part
of the test suite.

Run: ``python benchmarks/large_synthetic.py [--subjects 110] [--n-jobs 2] [--workdir DIR]``.
The cache and the results go under ``--workdir`` (default ``.bench-large/``), and
are removed at the end unless ``--keep``.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import time
from pathlib import Path

from memory import PeakRSS  # benchmarks/memory.py


def _folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=110)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--workdir", default=".bench-large")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    work = Path(args.workdir).resolve()
    os.environ["NEURODECODE_HOME"] = str(work / "home")  # the run cache goes here, in the workers too
    import mne

    from neurodecode.benchmark import run_benchmark

    channels = mne.channels.make_standard_montage("biosemi64").ch_names
    params = {"n_subjects": args.subjects, "n_sessions": 1, "n_runs": 2, "n_trials": 55, "sfreq": 160.0,
              "channels": channels, "random_state": 1}
    n_times = 0
    from neurodecode.datasets import SyntheticMI

    probe = SyntheticMI(**params)
    for run in range(2):
        n_times += probe.generate_run(1, 0, run)[0].n_times  # every subject has the same length
    gb64 = args.subjects * n_times * len(channels) * 8 / 1e9
    print(f"dataset: {args.subjects} subjects x {n_times / 160 / 60:.1f} min x {len(channels)} ch x 160 Hz = "
          f"{gb64:.1f} GB as float64, {gb64 / 2:.1f} GB as float32", flush=True)
    config = {"name": "large-synthetic", "datasets": [{"name": "SyntheticMI", "params": params}],
              "paradigm": {"name": "LeftRightImagery", "params": {"fmin": 8, "fmax": 30}},
              "recipe": [{"notch": {"freqs": [50.0]}}, {"bandpass": {"l_freq": 1.0, "h_freq": 40.0}}],
              "pipelines": ["TS+LR"], "evaluations": ["within-session"], "random_state": 0,
              "output": str(work / "results")}
    t0 = time.perf_counter()
    with PeakRSS() as peak:
        result = run_benchmark(config, engine="local", n_jobs=args.n_jobs, quiet=True, report=False)
    wall = time.perf_counter() - t0
    cache = _folder_size(work / "home")
    self_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_max = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"wall {wall / 60:.1f} min, {result.n_run} unit(s) at {result.n_run / wall * 60:.1f} units/min, "
          f"{len(result.failures)} failed, mean score {result.results['score'].mean():.3f}")
    print(f"peak RSS: driver {peak.root / 2**20:.0f} MB (kernel: {self_max:.0f} MB), workers "
          f"{', '.join(f'{w:.0f}' for w in peak.largest_children(args.n_jobs))} MB "
          f"(kernel, largest child: {child_max:.0f} MB)")
    print(f"cache on disk: {cache / 1e9:.2f} GB in {work / 'home'}")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
