"""Pseudo-online replay speed on one CPU core.

A 10-minute, 64-channel, 160 Hz synthetic motor-imagery recording is replayed
with 1 s windows every 0.1 s (6,000 decisions), every window scored alone and
timed, with TS+LR and ShallowConvNet trained on an earlier run.

Anchor, on the same windows in the same run, one window per call: for TS+LR
the same pipeline built from pyRiemann's own ``Covariances("oas")`` and
``TangentSpace`` and fitted on the same windows; for ShallowConvNet
braindecode's ``EEGClassifier.predict_proba`` on the same fitted network.
Printed: real-time factor (sum of the per-window times / 600 s, as a live
stream would see it), per-decision latency p50/p99, ratio to the anchor,
largest posterior difference, the throughput when the replay scores windows
in batches, the causal preprocessing time of the run, and peak memory.

Run: ``python benchmarks/pseudo_online_replay.py`` (about 3 minutes).
"""
from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"  # one core, set before numpy loads

import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import mne  # noqa: E402
import numpy as np  # noqa: E402

SFREQ, WINDOW, STEP, MINUTES = 160.0, 1.0, 0.1, 10
TARGETS = {"TS+LR": 0.01, "ShallowConvNet": 0.05}


def main() -> None:
    import torch
    from moabb.paradigms import LeftRightImagery
    from pyriemann import estimation, tangentspace
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from neurodecode.datasets import SyntheticMI
    from neurodecode.evaluation import PseudoOnlineEvaluation, replay
    from neurodecode.evaluation.stream import window_starts
    from neurodecode.models import get_pipeline
    from neurodecode.preprocessing import PreprocessedDataset
    from neurodecode.windows.grid import windows_at

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    channels = mne.channels.make_standard_montage("biosemi64").ch_names
    # 56 trials per class: the replayed run lasts a little over 10 minutes
    ds = SyntheticMI(n_subjects=1, n_sessions=1, n_runs=2, n_trials=56, channels=channels,
                     sfreq=SFREQ, snr=2, random_state=0)
    with tempfile.TemporaryDirectory() as tmp:
        ev = PseudoOnlineEvaluation(LeftRightImagery(fmin=8, fmax=30), [ds], window=WINDOW, step=STEP,
                                    hdf5_path=tmp, cache=False, random_state=0)
        t0 = time.perf_counter()
        fold = ev.folds(ds, 1)[1]  # train on run 0, replay run 1
        prep = time.perf_counter() - t0
        n_len, n_step = int(WINDOW * SFREQ), int(round(STEP * SFREQ))
        test = fold.test.part(0, int(MINUTES * 60 * SFREQ) + n_len - n_step)
        starts = window_starts(test, n_len, n_step)
        X, y, _, _ = ev.training_set(fold, ["left_hand", "right_hand"])
        pre = PreprocessedDataset(ds, ev.online_recipe, cache=False)
        raw = ds._get_single_subject_data(1)["0"]["1"]
        t0 = time.perf_counter()
        pre.recipe.apply_raw(raw)
        causal_s = time.perf_counter() - t0
        print(f"replayed: {test.duration:.1f} s, {len(starts)} decisions, {X.shape[1]} channels, "
              f"{SFREQ:g} Hz; training windows {X.shape}; loading + causal preprocessing of both "
              f"runs {prep:.1f} s")
        print(f"causal recipe on the {raw.times[-1]:.0f} s run: {causal_s:.2f} s "
              f"(real-time factor {causal_s / raw.times[-1]:.4f})")
        models = {"TS+LR": get_pipeline("TS+LR"),
                  "ShallowConvNet": get_pipeline("ShallowConvNet", max_epochs=5, valid_size=0)}
        windows = windows_at(test.data, starts, n_len)
        for name, pipeline in models.items():
            est = ev.prepare(pipeline, SFREQ).fit(X, y)
            decisions = replay(est, test, n_len, n_step, n_timed=None)
            ours = decisions["infer_s"].to_numpy()
            t0 = time.perf_counter()
            for i in range(0, len(windows), 256):
                est.predict_proba(windows[i:i + 256])
            batched = time.perf_counter() - t0
            if name == "TS+LR":
                anchor_call = make_pipeline(estimation.Covariances("oas"), tangentspace.TangentSpace(),
                                            LogisticRegression(C=1.0, max_iter=1000)).fit(X, y).predict_proba
            else:
                anchor_call = (lambda x: est.net_.predict_proba(est._scaled(x.astype(np.float32))))  # noqa: E731
            anchor, posteriors = np.empty(len(starts)), []
            for i in range(len(starts)):
                t0 = time.perf_counter()
                posteriors.append(anchor_call(windows[i:i + 1])[0])
                anchor[i] = time.perf_counter() - t0
            diff = np.abs(np.asarray(posteriors)
                          - decisions[[c for c in decisions if c.startswith("p_")]].to_numpy()).max()
            rtf = ours.sum() / test.duration
            print(f"{name:15s} RTF {rtf:.4f} (target <= {TARGETS[name]}) | per decision p50 "
                  f"{np.median(ours) * 1e3:.2f} ms p99 {np.percentile(ours, 99) * 1e3:.2f} ms | "
                  f"anchor p50 {np.median(anchor) * 1e3:.2f} ms p99 {np.percentile(anchor, 99) * 1e3:.2f} ms "
                  f"| ratio {ours.sum() / anchor.sum():.3f} | max |posterior diff| {diff:.2e} | "
                  f"batched throughput RTF {batched / test.duration:.4f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
