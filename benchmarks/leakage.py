"""How much overlapping sliding windows in shuffled k-fold inflate scores: a measured leak.

MOABB 1.7's motor-imagery paradigms take ``overlap=`` and cut overlapping
windows from each trial; its ``WithinSessionEvaluation`` then puts them in
shuffled k-fold, so windows of one trial land in both the training and the
test folds. This script compares, on the same data and pipelines:

(a) MOABB: ``overlap=`` windows scored by MOABB's ``WithinSessionEvaluation`` (ROC-AUC);
(b) the same windows, folds grouped by trial (``StratifiedGroupKFold``, ROC-AUC);
(c) neurodecode's pseudo-online replay (leave-one-run-out): nMCC over left/right/idle, and
    the left-vs-right nMCC of its task decisions (decisions that name a hand inside a trial).

Control: the trial labels shuffled at the trial level (every window of a trial
keeps its trial's new label, the same permutation for every protocol), averaged
over ``N_SHUFFLES`` permutations. Left and right cannot be learnt then, so a
protocol that scores above chance on them leaks. (Task against idle still can:
shuffling hands leaves when the trials are, so (c)'s N+1-class nMCC stays
above chance by design; its left-vs-right nMCC is the control.)

Run: ``python benchmarks/leakage.py`` (PhysionetMI S001 from ../shared/data and
SyntheticMI; about 15 minutes on 2 cores).
"""
from __future__ import annotations

import logging
import tempfile
import warnings

import numpy as np
import pandas as pd

WINDOW, OVERLAP, SEED = 1.0, 75, 42  # 1 s windows every 0.25 s
N_SHUFFLES = 5


def shuffled(dataset, random_state: int):
    """The same dataset with the task labels of its trials permuted within each run."""
    import mne

    task = {dataset.event_id[k] for k in ("left_hand", "right_hand")}
    names = {v: k for k, v in dataset.event_id.items()}

    class Shuffled(type(dataset)):
        def _get_single_subject_data(self, subject):
            out = super()._get_single_subject_data(subject)
            rng = np.random.default_rng(random_state + int(subject))
            for runs in out.values():
                for raw in runs.values():
                    _permute(raw, task, names, rng)
            return out

    copy = Shuffled.__new__(Shuffled)
    # the download guard wraps loaders on the instance; the class method must run here
    copy.__dict__.update({k: v for k, v in dataset.__dict__.items()
                          if k not in ("_get_single_subject_data", "data_path")})
    mne.set_log_level("ERROR")
    return copy


def _permute(raw, task: set, names: dict, rng) -> None:
    import mne

    stim = mne.pick_types(raw.info, stim=True)
    if len(stim):
        data = raw._data[stim[0]]
        at = np.flatnonzero(np.isin(data, list(task)))
        data[at] = rng.permutation(data[at])
        codes = dict(zip(at, data[at]))
        sf = raw.info["sfreq"]
        offset = raw.first_samp / sf if raw.annotations.orig_time is not None else 0.0
        desc = raw.annotations.description.copy()
        for i, onset in enumerate(raw.annotations.onset):
            s = int(round((onset - offset) * sf))
            if s in codes:
                desc[i] = names[int(codes[s])]
        raw.set_annotations(mne.Annotations(raw.annotations.onset, raw.annotations.duration, desc,
                                            raw.annotations.orig_time))
    else:
        ann = raw.annotations
        desc = ann.description.copy()
        at = np.flatnonzero(np.isin(desc, [names[c] for c in task]))
        desc[at] = rng.permutation(desc[at])
        raw.set_annotations(mne.Annotations(ann.onset, ann.duration, desc, ann.orig_time))


def _pipelines():
    from neurodecode.models import get_pipeline

    return {"TS+LR": get_pipeline("TS+LR"), "CSP+LDA": get_pipeline("CSP+LDA")}


def moabb_overlap(dataset, subject) -> dict:
    """(a) MOABB's WithinSessionEvaluation on MOABB's overlapping windows."""
    from moabb.evaluations import WithinSessionEvaluation
    from moabb.paradigms import LeftRightImagery

    paradigm = LeftRightImagery(fmin=8, fmax=30, tmax=WINDOW, overlap=OVERLAP)
    with tempfile.TemporaryDirectory() as tmp:
        ev = WithinSessionEvaluation(paradigm=paradigm, datasets=[dataset], random_state=SEED, hdf5_path=tmp,
                                     overwrite=True)
        res = ev.process(_pipelines())
    res = res[res["subject"].astype(str) == str(subject)]
    return res.groupby("pipeline")["score"].mean().to_dict()


def grouped_overlap(dataset, subject) -> dict:
    """(b) The same windows, cross-validated with folds grouped by trial."""
    from moabb.paradigms import LeftRightImagery
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_score

    paradigm = LeftRightImagery(fmin=8, fmax=30, tmax=WINDOW, overlap=OVERLAP)
    epochs, y, meta = paradigm.get_data(dataset, [subject], return_epochs=True)
    X = epochs.get_data(copy=False)
    starts = epochs.events[:, 0]
    stride = int(round(WINDOW * epochs.info["sfreq"] * (1 - OVERLAP / 100)))
    # a new trial wherever the run, session or label changes, or the windows stop being contiguous
    key = meta["session"].astype(str) + "/" + meta["run"].astype(str)
    new = np.r_[True, (key.to_numpy()[1:] != key.to_numpy()[:-1]) | (y[1:] != y[:-1])
                | (np.diff(starts) != stride)]
    groups = np.cumsum(new)
    out = {}
    for name, pipe in _pipelines().items():
        scores = []
        for session in meta["session"].unique():
            m = (meta["session"] == session).to_numpy()
            cv = StratifiedGroupKFold(5, shuffle=True, random_state=SEED)
            scores.append(cross_val_score(clone(pipe), X[m], y[m], groups=groups[m], cv=cv,
                                          scoring="roc_auc").mean())
        out[name] = float(np.mean(scores))
    return out


def pseudo_online(dataset, subject) -> tuple[dict, dict]:
    """(c) neurodecode's leave-one-run-out replay: nMCC, and left-vs-right nMCC of the task decisions."""
    from pathlib import Path

    from moabb.paradigms import LeftRightImagery

    from neurodecode.evaluation import PseudoOnlineEvaluation, nmcc

    rest = ["rest"] if "rest" in dataset.event_id else []
    with tempfile.TemporaryDirectory() as tmp:
        ev = PseudoOnlineEvaluation(LeftRightImagery(fmin=8, fmax=30), [dataset], window=WINDOW,
                                    step=WINDOW * (1 - OVERLAP / 100), rest=rest, random_state=SEED,
                                    hdf5_path=tmp, cache=False, timed_windows=20, predictions_dir=Path(tmp) / "p")
        rows = ev.evaluate_subject(dataset, subject, _pipelines())
        decisions = pd.concat([pd.read_parquet(f) for f in (Path(tmp) / "p").rglob("*.parquet")])
    task = decisions[decisions["scored"] & (decisions["truth"] != "idle") & (decisions["prediction"] != "idle")]
    hands = {name: nmcc(g["truth"].astype(str), g["prediction"].astype(str)) for name, g in task.groupby("pipeline")}
    return pd.DataFrame(rows).groupby("pipeline")["score"].mean().to_dict(), hands


def main() -> None:
    import mne

    from neurodecode.config import apply
    from neurodecode.datasets import SyntheticMI, get_dataset

    apply()
    mne.set_log_level("ERROR")
    logging.getLogger("moabb").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    physionet = get_dataset("PhysionetMI", imagined=True, executed=False)
    physionet.subject_list = [1]
    datasets = [(physionet, 1), (SyntheticMI(n_subjects=1, n_sessions=1, n_runs=3, n_trials=20, sfreq=160,
                                             snr=0.5, random_state=3), 1)]
    rows = []
    for dataset, subject in datasets:
        variants = [("true", dataset)] + [(f"shuffled by trial #{k}", shuffled(dataset, SEED + 100 * k))
                                          for k in range(N_SHUFFLES)]
        for labels, ds in variants:
            a, b = moabb_overlap(ds, subject), grouped_overlap(ds, subject)
            c, hands = pseudo_online(ds, subject)
            for name in a:
                rows.append({"dataset": dataset.code, "labels": labels.split(" #")[0], "pipeline": name,
                             "(a) MOABB overlap, shuffled k-fold (AUC)": a[name],
                             "(b) same windows, trial-grouped folds (AUC)": b[name],
                             "(c) replay nMCC, N+1 classes": c[name],
                             "(c) replay left-vs-right nMCC": hands.get(name, float("nan"))})
    per_run = pd.DataFrame(rows)
    table = per_run.groupby(["dataset", "labels", "pipeline"], sort=False).agg(["mean", "std"])
    table.columns = [f"{c} {s}" if s == "std" else c for c, s in table.columns]
    means = [c for c in table.columns if not c.endswith(" std")]
    table = table[means + [c for c in table.columns if c.endswith(" std")]]
    table.insert(2, "inflation (a) - (b)", table["(a) MOABB overlap, shuffled k-fold (AUC)"]
                 - table["(b) same windows, trial-grouped folds (AUC)"])
    table = table.reset_index()
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        print(f"windows of {WINDOW:g} s, overlap {OVERLAP}% (step {WINDOW * (1 - OVERLAP / 100):g} s); "
              f"chance: AUC 0.5, nMCC 0.5; shuffled rows: mean (and std) over {N_SHUFFLES} permutations")
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
