"""Band-pass + trial windows: MOABB vs braindecode vs neurodecode (cold and warm cache).

Each method runs in its own fresh process, so peak RSS is that method's
alone; wall time is measured inside the process, after imports. Arrays are
compared with MOABB's ``paradigm.get_data`` output (µV).

    python benchmarks/preprocessing_windows.py physionet
    python benchmarks/preprocessing_windows.py kalunga
    python benchmarks/preprocessing_windows.py large --large-gb 8.5

``large`` builds a synthetic motor-imagery set of more than 8 GB of float32
signal and runs neurodecode only, writing the windows to a memory-mapped
file; MOABB and braindecode hold everything in RAM (float64), which needs
more than this machine's 24 GB, so they run on its first 4 subjects.
Environment: NEURODECODE_DATA / NEURODECODE_HOME as for the package.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BAND = (8.0, 30.0)
LARGE_CHANNELS, LARGE_SFREQ, LARGE_TRIALS = 64, 250.0, 110  # ~20 min per subject


def _dataset(name: str, n_subjects: int):
    from neurodecode.datasets import SyntheticMI, get_dataset

    if name == "physionet":
        return get_dataset("PhysionetMI"), [1], ["left_hand", "right_hand"], "LeftRightImagery"
    if name == "kalunga":
        return get_dataset("Kalunga2016"), list(range(1, 10)), None, "SSVEP"
    import mne

    channels = mne.channels.make_standard_montage("biosemi64").ch_names  # a 64-channel cap
    ds = SyntheticMI(n_subjects=n_subjects, n_sessions=1, n_runs=1, n_trials=LARGE_TRIALS,
                     channels=channels[:LARGE_CHANNELS], sfreq=LARGE_SFREQ, random_state=1)
    return ds, list(range(1, n_subjects + 1)), ["left_hand", "right_hand"], "LeftRightImagery"


def worker(method: str, name: str, n_subjects: int, out: str, cache_dir: str) -> dict:
    import warnings

    import mne

    warnings.simplefilter("ignore")
    mne.set_log_level("ERROR")
    from neurodecode.config import apply

    apply()
    dataset, subjects, events, paradigm_name = _dataset(name, n_subjects)
    t0 = time.perf_counter()
    if method == "moabb":
        from moabb import paradigms

        X, y, _ = getattr(paradigms, paradigm_name)(fmin=BAND[0], fmax=BAND[1]).get_data(dataset, subjects)
        np.save(out, X.astype(np.float32))
        n = len(X)
    elif method == "braindecode":
        X = _braindecode(dataset, subjects, events)
        np.save(out, X.astype(np.float32))
        n = len(X)
    else:
        from neurodecode.preprocessing import RunCache
        from neurodecode.windows import trial_windows

        w = trial_windows(dataset, subjects, recipe=[{"bandpass": {"l_freq": BAND[0], "h_freq": BAND[1]}}],
                          events=events, cache=RunCache(cache_dir),
                          out=out if n_subjects > 4 else None)  # the full large set: to disk
        n = len(w)
        if not isinstance(w.X, np.memmap):
            np.save(out, w.X * np.float32(1e6))
        else:
            w.X.flush()
    wall = time.perf_counter() - t0
    return {"method": method, "windows": n, "wall_s": wall,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _braindecode(dataset, subjects, events):
    """braindecode's own path: Preprocessor('filter') then create_windows_from_events."""
    from braindecode.datasets import BaseConcatDataset, RawDataset
    from braindecode.preprocessing import (
        Preprocessor,
        create_windows_from_events,
        preprocess,
    )

    parts = []
    wanted = set(events or dataset.event_id)
    for subject in subjects:
        for session, runs in dataset.get_data([subject])[subject].items():
            for run, raw in runs.items():
                if not wanted & set(raw.annotations.description):
                    continue  # e.g. PhysionetMI's feet runs have no left/right trial
                raw = raw.copy().pick("eeg")  # MOABB's get_data already set cue annotations
                parts.append(RawDataset(raw, {"subject": subject, "session": session, "run": run}))
    concat = BaseConcatDataset(parts)
    preprocess(concat, [Preprocessor("filter", l_freq=BAND[0], h_freq=BAND[1], method="iir",
                                     picks="data", verbose=False)], n_jobs=1)
    mapping = {e: i for i, e in enumerate(events or sorted(dataset.event_id))}
    windows = create_windows_from_events(concat, trial_start_offset_samples=0,
                                         trial_stop_offset_samples=1, mapping=mapping,
                                         preload=True, drop_bad_windows=True)
    return np.stack([windows[i][0] for i in range(len(windows))]) * 1e6


def _run(method, name, n_subjects, out, cache_dir):
    cmd = [sys.executable, __file__, "--worker", method, name, "--subjects", str(n_subjects),
           "--out", out, "--cache", cache_dir]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{method} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _large_subjects(gb: float) -> int:
    per_subject = LARGE_CHANNELS * LARGE_SFREQ * (2 + LARGE_TRIALS * 2 * 5.5) * 4  # bytes, approx
    return int(np.ceil(gb * 1e9 / per_subject))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["physionet", "kalunga", "large"])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--subjects", type=int, default=4)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--large-gb", type=float, default=8.5)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.dataset, args.subjects, args.out, args.cache)))
        return
    tmp = Path(tempfile.mkdtemp(prefix="nd-bench-"))
    try:
        _compare(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _compare(args, tmp: Path) -> None:
    cache_dir = str(tmp / "cache")
    rows = []
    n_small = args.subjects if args.dataset == "large" else 0
    for method in ("moabb", "braindecode"):
        rows.append(_run(method, args.dataset, n_small, str(tmp / f"{method}.npy"), cache_dir))
    reference = np.load(tmp / "moabb.npy", mmap_mode="r")
    rows[0]["max_abs_diff_uv"] = 0.0
    rows[1]["max_abs_diff_uv"] = _diff(reference, np.load(tmp / "braindecode.npy", mmap_mode="r"))
    for method in ("neurodecode-cold", "neurodecode-warm"):
        row = _run(method, args.dataset, n_small, str(tmp / "nd.npy"), cache_dir)
        row["max_abs_diff_uv"] = _diff(reference, np.load(tmp / "nd.npy", mmap_mode="r"))
        rows.append(row)
    scale = float(np.abs(reference).max())
    print(f"\n{args.dataset}: {rows[0]['windows']} windows, |X| max {scale:.1f} uV "
          f"(float32 step there: {np.spacing(np.float32(scale)):.1e} uV)")
    _print(rows, rows[0]["wall_s"])
    if args.dataset == "large":
        shutil.rmtree(cache_dir, ignore_errors=True)
        n = _large_subjects(args.large_gb)
        print(f"\nlarge: {n} subjects x {LARGE_CHANNELS} ch x ~20 min at {LARGE_SFREQ:g} Hz "
              f"(> {args.large_gb:g} GB float32), neurodecode only, windows to a .npy memmap")
        big = [_run(m, "large", n, str(tmp / "big.npy"), cache_dir)
               for m in ("neurodecode-cold", "neurodecode-warm")]
        size = sum(f.stat().st_size for f in Path(cache_dir).rglob("data.npy")) / 1e9
        print(f"cached continuous float32 signal: {size:.2f} GB; windows file "
              f"{(tmp / 'big.npy').stat().st_size / 1e9:.2f} GB")
        _print(big, None)


def _diff(a, b) -> float:
    if a.shape != b.shape:
        return float("nan")
    return float(max(np.abs(a[i:i + 256] - b[i:i + 256]).max() for i in range(0, len(a), 256)))


def _print(rows, anchor) -> None:
    print(f"{'method':18s} {'windows':>8s} {'wall s':>8s} {'vs MOABB':>9s} {'peak RSS MB':>12s} "
          f"{'max |diff| uV':>14s}")
    for r in rows:
        ratio = f"{anchor / r['wall_s']:8.1f}x" if anchor else "       -"
        diff = r.get("max_abs_diff_uv", float("nan"))
        print(f"{r['method']:18s} {r['windows']:8d} {r['wall_s']:8.2f} {ratio:>9s} "
              f"{r['peak_rss_mb']:12.0f} {diff:14.2e}")


if __name__ == "__main__":
    main()
