"""Anomaly audit: planted corruptions found by the hvEEGNet VAE and by the classical detectors, on the same trials.

For each dataset the trials are cut, and 2.5 % of them (disjoint draws) get
each corruption of :data:`neurodecode.windows.corruptions.CORRUPTIONS`. One
cross-fitted run then scores every trial with every detector, and the AUROC
of each type is its corrupted trials against the untouched ones. Also:

- **clean copy**: the same trials uncorrupted; the share each detector flags
  at alpha = 0.05 (its false-positive rate; nominal 5 %);
- **per-subject reference** (datasets of several subjects): every detector
  trained per subject (``reference="subject"``) on the same corrupted copy,
  and its false-positive rate on the clean copy;
- **controls**: an untrained encoder (``epochs=0``) and a VAE trained on
  time-shuffled trials, on the corrupted copy;
- **seed**: a retrain with another `random_state` on the clean copy, and the overlap
  of the two top-5 % sets;
- **real data**: the top-ranked trials of the clean copy, with a description
  of their signal;
- **drop_anomalies downstream** (Kalunga2016): MOABB's within-session
  evaluation of TS+LR with and without ``DropAnomalies`` (Potato and
  peak-to-peak, quantile 0.9), paired over subjects with MOABB's test;
- **speed**: ``neurodecode audit DATASET --anomaly`` in a child process, its
  wall time and peak RSS, against pyRiemann's Potato alone on the same trials.

Run: ``.venv/bin/python benchmarks/anomaly.py`` (about 25 minutes on 2 cores).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _offline import use_shared_data  # noqa: E402

REPO, SHARED = use_shared_data()

DATASETS = {
    "SyntheticMI": {"name": "SyntheticMI", "subjects": [1, 2], "params": {}, "recipe": None},
    "Kalunga2016": {"name": "Kalunga2016", "subjects": list(range(1, 10)), "params": {},
                    "recipe": [{"bandpass": {"l_freq": 1.0, "h_freq": 40.0}}]},
    "PhysionetMI": {"name": "PhysionetMI", "subjects": [1], "params": {"imagined": True, "executed": False},
                    "recipe": [{"pick": {"types": ["eeg"]}}, {"bandpass": {"l_freq": 1.0, "h_freq": 40.0}}]},
}
SHARE = 0.025   # of the trials planted with each corruption
FOLDS = 3       # cross-fitting folds in this benchmark (the CLI's default is 5)
EPOCHS = 20
THRESHOLD_TYPES = ("flat", "clipping", "burst", "pop")  # what amplitude rules are built for


def windows_of(key):
    from neurodecode.datasets import get_dataset
    from neurodecode.windows import trial_windows

    spec = DATASETS[key]
    ds = get_dataset(spec["name"], subjects=spec["subjects"], **spec["params"])
    return ds, trial_windows(ds, spec["subjects"], recipe=spec["recipe"])


def plant(windows, random_state=0):
    from neurodecode.windows.corruptions import CORRUPTIONS, corrupt

    rng = np.random.default_rng(random_state)
    n = max(2, int(round(SHARE * len(windows))))
    order = rng.permutation(len(windows))
    truth = np.full(len(windows), "", dtype=object)
    X = windows.X.astype(np.float64)
    subjects = windows.metadata["subject"].to_numpy()
    for i, kind in enumerate(CORRUPTIONS):
        rows = order[i * n:(i + 1) * n]
        if kind == "other_subject" and len(np.unique(subjects)) < 2:
            continue
        X = corrupt(X, kind, rows, sfreq=windows.sfreq, subjects=subjects, random_state=random_state + i)
        truth[rows] = kind
    return dataclasses.replace(windows, X=X.astype(np.float32)), truth


def aurocs(table, truth, detectors, tag):
    from sklearn.metrics import roc_auc_score

    rows = []
    for kind in [k for k in pd.unique(truth) if k]:
        sel = (truth == kind) | (truth == "")
        rec = {"run": tag, "corruption": kind, "n": int((truth == kind).sum())}
        for det in detectors:
            rec[det] = roc_auc_score(truth[sel] == kind, table[f"{det}_score"].to_numpy()[sel])
        rows.append(rec)
    return rows


def describe(windows, row):
    """What a look at a trial shows: its largest channel ratios to that channel's median trial."""
    X = windows.X
    sd = X.std(axis=-1)
    ratio = sd[row] / np.median(sd, axis=0)
    ptp = np.ptp(X[row], axis=-1) / np.median(np.ptp(X, axis=-1), axis=0)
    ch = int(np.argmax(np.abs(np.log(ratio))))
    corr = np.corrcoef(X[row])
    typical = np.median([np.corrcoef(x) for x in X[:: max(1, len(X) // 50)]], axis=0)
    dev = np.abs(corr - typical).max(axis=1)
    return (f"{windows.ch_names[ch]} SD x{ratio[ch]:.2f}, ptp x{ptp[ch]:.2f}; max |ptp ratio| "
            f"{np.abs(np.log(ptp)).max():.2f} (log); largest correlation change {dev.max():.2f} "
            f"on {windows.ch_names[int(np.argmax(dev))]}; max |x| {np.abs(X[row]).max() * 1e6:.0f} uV")


def speed(key, out: Path) -> dict:
    spec = DATASETS[key]
    cmd = [sys.executable, "-m", "neurodecode.cli", "audit", spec["name"], "--anomaly", "--subjects",
           *map(str, spec["subjects"]), "--out", str(out / f"cli-{key}")]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code:
        print(output[-3000:])
    return {"dataset": key, "cli_wall_s": wall, "cli_peak_rss_mb": usage.ru_maxrss / 1024, "exit": code}


def downstream(out: Path) -> pd.DataFrame:
    import warnings

    from moabb.analysis.meta_analysis import compute_pvals_perm
    from moabb.evaluations import WithinSessionEvaluation
    from moabb.paradigms import SSVEP

    from neurodecode.datasets import get_dataset
    from neurodecode.models import get_pipeline
    from neurodecode.models.anomaly import DropAnomalies
    from neurodecode.preprocessing.dataset import with_recipe

    ds = get_dataset("Kalunga2016", subjects=list(range(1, 10)))
    paradigm = with_recipe(SSVEP(fmin=3, fmax=45, n_classes=4), [{"bandpass": {"l_freq": 1.0, "h_freq": 40.0}}])
    base = get_pipeline("TS+LR")
    pipelines = {"TS+LR": base,
                 "TS+LR drop potato q0.9": DropAnomalies(base, detector="potato", quantile=0.9),
                 "TS+LR drop ptp q0.9": DropAnomalies(base, detector="ptp", quantile=0.9)}
    ev = WithinSessionEvaluation(paradigm=paradigm, datasets=[ds], overwrite=True, random_state=42,
                                 hdf5_path=str(out / "moabb"), n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ev.process(pipelines)
    subj = res.groupby(["subject", "pipeline"])["score"].mean().unstack("pipeline")
    rows = []
    for name in pipelines:
        if name == "TS+LR":
            continue
        pair = subj[[name, "TS+LR"]].reset_index(drop=True)
        rows.append({"pipeline": name, "n_subjects": len(pair), "without": pair["TS+LR"].mean(),
                     "with": pair[name].mean(), "difference": (pair[name] - pair["TS+LR"]).mean(),
                     "p_higher": float(compute_pvals_perm(pair)[0, 1]),
                     "p_lower": float(compute_pvals_perm(pair[["TS+LR", name]])[0, 1])})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "results" / "anomaly-bench")
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-downstream", action="store_true")
    args = parser.parse_args(argv)
    import mne

    from neurodecode.evaluation.anomaly import score_windows

    mne.set_log_level("ERROR")
    args.out.mkdir(parents=True, exist_ok=True)
    detectors = ("vae", "potato", "ptp", "rules")
    auc_rows, fpr_rows, overlap_rows, speed_rows = [], [], [], []
    for key in args.datasets:
        t0 = time.perf_counter()
        _, windows = windows_of(key)
        corrupted, truth = plant(windows)
        vae = {"epochs": EPOCHS}
        several = windows.metadata["subject"].nunique() > 1
        runs = {"VAE": (corrupted, vae, detectors, "pooled"),
                "untrained encoder": (corrupted, {"epochs": 0}, ("vae",), "pooled"),
                "time-shuffled training": (corrupted, {**vae, "shuffle_time": True}, ("vae",), "pooled"),
                "per-subject reference": (corrupted, vae, detectors, "subject"),
                "per-subject reference, clean copy": (windows, vae, detectors, "subject")}
        for tag, (w, params, dets, reference) in runs.items():
            if reference == "subject" and not several:
                continue
            t = time.perf_counter()
            audit = score_windows(w, folds=FOLDS, detectors=dets, vae_params=params, reference=reference,
                                  dataset_code=key)
            if w is corrupted:
                auc_rows += [dict(r, dataset=key) for r in aurocs(audit.table, truth, dets, tag)]
            else:
                fpr_rows += [{"dataset": key, "reference": reference, "detector": det, "n_trials": len(w),
                              "flagged_pct": 100 * audit.table[f"{det}_flag"].mean(), "nominal_pct": 5.0}
                             for det in dets]
            print(f"{key} {tag}: {time.perf_counter() - t:.0f} s", flush=True)
        clean = {}
        for random_state in (0, 1):
            clean[random_state] = score_windows(windows, folds=FOLDS, detectors=detectors, vae_params=vae,
                                        random_state=random_state, dataset_code=key).table
        for det in detectors:
            fpr_rows.append({"dataset": key, "reference": "pooled", "detector": det, "n_trials": len(windows),
                             "flagged_pct": 100 * clean[0][f"{det}_flag"].mean(), "nominal_pct": 5.0})
        k = max(1, int(round(0.05 * len(windows))))
        tops = [set(t.nsmallest(k, "rank").index) for t in clean.values()]
        overlap_rows.append({"dataset": key, "top_5pct": k, "overlap": len(tops[0] & tops[1]),
                             "overlap_pct": 100 * len(tops[0] & tops[1]) / k})
        top = clean[0].nsmallest(10, "rank")
        print(f"\n{key}: top-ranked trials of the clean copy (random_state=0)")
        for row, r in top.iterrows():
            print(f"  rank {r['rank']}: subject {r.subject} session {r.session} run {r.run} at {r.onset:.1f} s "
                  f"label {r.label}: score {r.anomaly_score:.3f}, top channel {r.top_channel}, potato "
                  f"{r.potato_score:.2f}, ptp {r.ptp_score:.2f}, rules {r.rules_score:.2f}; {describe(windows, row)}")
        clean[0].to_csv(args.out / f"{key}-clean.csv", index=False)
        pd.DataFrame(auc_rows).to_csv(args.out / "auroc.csv", index=False)  # each dataset as it ends
        pd.DataFrame(fpr_rows).to_csv(args.out / "false_positives.csv", index=False)
        print(f"{key}: {time.perf_counter() - t0:.0f} s in all\n", flush=True)
    aucs = pd.DataFrame(auc_rows)
    aucs.to_csv(args.out / "auroc.csv", index=False)
    pd.set_option("display.width", 200)
    print("AUROC per corruption (corrupted trials against untouched ones):")
    print(aucs.round(3).to_markdown(index=False))
    print("\nFalse-positive rate on the clean copy at alpha = 0.05:")
    print(pd.DataFrame(fpr_rows).round(2).to_markdown(index=False))
    print("\nTop-5 % overlap of two seeds (clean copy):")
    print(pd.DataFrame(overlap_rows).round(1).to_markdown(index=False))
    if not args.skip_downstream and "Kalunga2016" in args.datasets:
        table = downstream(args.out)
        table.to_csv(args.out / "downstream.csv", index=False)
        print("\ndrop_anomalies, Kalunga2016 1-9 within-session (MOABB), TS+LR:")
        print(table.round(4).to_markdown(index=False))
    if not args.skip_speed:
        for key in [k for k in args.datasets if k != "SyntheticMI"]:
            rec = speed(key, args.out)
            _, windows = windows_of(key)
            from neurodecode.models.anomaly import PotatoScorer

            t = time.perf_counter()
            for _ in range(5):  # the CLI's 5 folds
                PotatoScorer().fit(windows.X).anomaly_score(windows.X)
            rec["potato_only_s"] = time.perf_counter() - t
            rec["ratio"] = rec["cli_wall_s"] / rec["potato_only_s"]
            speed_rows.append(rec)
        print("\nSpeed: neurodecode audit --anomaly (5 folds, every detector) in a child process, against "
              "pyRiemann's Potato alone fitted and scored 5 times on the same trials:")
        print(pd.DataFrame(speed_rows).round(2).to_markdown(index=False))
    print(f"\npeak RSS of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
