"""Pseudo-online metrics: nMCC, Wolpaw ITR, idle false positives, latency, trial accuracy.

Every decision is one window's output at its end time. Decisions inside guard
margins or other, unscored events are left out of the scores (``scored``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, balanced_accuracy_score, matthews_corrcoef

from ..utils import IDLE

__all__ = ["nmcc", "score_probabilities", "wolpaw_itr", "false_activations", "detector_curve", "decision_metrics",
           "METRIC_COLUMNS",
           "chance_level"]

#: Columns added to MOABB's result rows by pseudo-online evaluations.
METRIC_COLUMNS = ["mcc", "itr", "itr_window", "fa_per_min", "detection_rate", "accuracy",
                  "balanced_accuracy", "idle_fpr", "task_tpr", "latency_mean", "latency_median",
                  "trial_accuracy", "n_decisions", "infer_mean_ms", "infer_p99_ms", "rtf"]


def chance_level(scoring: str, n_classes: int) -> float:
    """The score of a chance-level decoder under MOABB's ``scoring``: 0.5 for ROC-AUC, else 1 / classes
    (accuracy on balanced classes). nMCC's chance is 0.5 whatever the classes.

    Examples
    --------
    >>> chance_level("roc_auc", 2), chance_level("accuracy", 4)
    (0.5, 0.25)
    """
    return 0.5 if scoring == "roc_auc" else 1.0 / n_classes


def score_probabilities(scoring: str, y, proba) -> float:
    """MOABB's ``scoring`` (``accuracy`` or ``roc_auc``) of class probabilities ``proba`` against class indices ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7]])
    >>> score_probabilities("accuracy", [0, 1, 0], p), score_probabilities("roc_auc", [0, 1, 0], p)
    (0.6666666666666666, 0.5)
    """
    from sklearn.metrics import roc_auc_score

    y, proba = np.asarray(y), np.asarray(proba)
    if scoring == "roc_auc":
        if len(np.unique(y)) < 2:
            return float("nan")
        if proba.shape[1] == 2:
            return float(roc_auc_score(y, proba[:, 1]))
        return float(roc_auc_score(y, proba, multi_class="ovr", labels=np.arange(proba.shape[1])))
    if scoring != "accuracy":
        raise ValueError(f"scoring {scoring!r}: the federated evaluation scores accuracy or roc_auc")
    return float(accuracy_score(y, proba.argmax(1)))


def nmcc(truth, pred) -> float:
    """Normalised Matthews correlation ``(MCC + 1) / 2`` in [0, 1]; chance is 0.5.

    Examples
    --------
    >>> nmcc(["a", "b", "idle"], ["a", "b", "idle"]), nmcc(["a", "b"], ["b", "a"])
    (1.0, 0.0)
    """
    return (matthews_corrcoef(truth, pred) + 1) / 2


def wolpaw_itr(accuracy: float, n_classes: int, step: float) -> float:
    """Wolpaw information transfer rate in bits/min.

    ``B = log2 N + P log2 P + (1 - P) log2((1 - P) / (N - 1))`` bits per
    selection, with ``N`` classes and accuracy ``P``; one selection every
    ``step`` seconds gives ``B * 60 / step``. Below chance (``P <= 1/N``) the
    rate is 0. Pseudo-online ``itr`` uses one selection per trial (N task
    classes, P the trial accuracy, ``step`` the median cue-to-cue period);
    ``itr_window`` one per window decision (N + 1 classes, ``step``).

    Examples
    --------
    >>> round(wolpaw_itr(1.0, 4, 1.0), 6), wolpaw_itr(0.25, 4, 1.0)
    (120.0, 0.0)
    """
    n, p = int(n_classes), float(accuracy)
    if n < 2 or p <= 1 / n:
        return 0.0
    bits = np.log2(n) + p * np.log2(p)
    if p < 1:
        bits += (1 - p) * np.log2((1 - p) / (n - 1))
    return float(bits * 60.0 / step)


def false_activations(decisions: pd.DataFrame, step: float) -> float:
    """False activations per minute of idle time.

    An activation is a run of consecutive non-idle decisions; it is false
    when its first decision falls outside every task period (truth idle).
    Idle time is the scored decisions whose truth is idle, times ``step``.
    For decisions that leave idle independently with probability q, a run
    starts at a decision with probability q(1 - q), so the rate is
    ``q (1 - q) 60 / step``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"truth": ["idle"] * 6, "prediction": ["idle", "a", "a", "idle", "b", "idle"],
    ...                   "scored": [True] * 6})
    >>> false_activations(d, step=10.0)  # 2 activations in 1 minute of idle time
    2.0
    """
    pred = decisions["prediction"].to_numpy(object) != IDLE
    truth_idle = decisions["truth"].to_numpy(object) == IDLE
    scored = decisions["scored"].to_numpy(bool)
    starts = pred & ~np.r_[False, pred[:-1]]
    minutes = float(np.sum(scored & truth_idle)) * step / 60.0
    return float(np.sum(starts & truth_idle & scored) / minutes) if minutes > 0 else np.nan


def detector_curve(decisions: pd.DataFrame, step: float, thresholds=None) -> pd.DataFrame:
    """True-positive rate against false activations per minute, swept over a decision threshold.

    At threshold t a window's decision is its most probable task class when
    that class's posterior (``p_<class>`` columns, idle excluded) is at least
    t, else idle: the way self-paced BCI papers trace a detector. TPR is the
    share of scored task decisions that name the right class;
    ``fa_per_min`` is :func:`false_activations`. The default thresholds run
    from the uniform posterior 1/K (K posterior columns, idle included) to 1:
    below it nearly every window fires, the decisions merge into one long
    activation, and false activations fall again for no merit.

    Returns
    -------
    curve : DataFrame
        ``threshold``, ``tpr``, ``fa_per_min``.
    """
    cols = [c for c in decisions if c.startswith("p_") and c != f"p_{IDLE}"]
    if not cols:
        return pd.DataFrame(columns=["threshold", "tpr", "fa_per_min"])
    if thresholds is None:
        k = sum(c.startswith("p_") for c in decisions)
        thresholds = np.linspace(1.0 / k, 1.0, 21)
    P = decisions[cols].to_numpy(float)
    best = np.asarray([c[2:] for c in cols], dtype=object)[P.argmax(1)]
    top = P.max(1)
    truth = decisions["truth"].to_numpy(object)
    task = (truth != IDLE) & decisions["scored"].to_numpy(bool)
    rows = []
    for t in thresholds:
        pred = np.where(top >= t, best, IDLE)
        tpr = float(np.mean(pred[task] == truth[task])) if task.any() else np.nan
        rows.append({"threshold": float(t), "tpr": tpr,
                     "fa_per_min": false_activations(decisions.assign(prediction=pred), step)})
    return pd.DataFrame(rows)


def decision_metrics(decisions: pd.DataFrame, trials: pd.DataFrame, n_classes: int,
                     step: float, duration: float, cue_to_cue: float = np.nan) -> dict:
    """Scores of one replayed run.

    Parameters
    ----------
    decisions : DataFrame
        One row per window: ``time`` (s, the decision time), ``truth``,
        ``prediction``, ``scored`` (bool), ``trial`` (-1 outside trials) and
        ``infer_s`` (inference time in s of the windows timed, NaN for others).
    trials : DataFrame
        The trials that start inside the replayed stretch: ``trial`` (the id
        used in ``decisions``), ``onset`` (s, cue + interval start) and ``label``.
    n_classes : int
        Task classes plus idle.
    step : float
        Seconds between decisions.
    duration : float
        Seconds of signal replayed. The real-time factor is the mean
        inference time per window times the number of windows over it.
    cue_to_cue : float
        Median seconds between consecutive cues: the time one selection takes.

    Returns
    -------
    metrics : dict
        ``score`` (nMCC) and :data:`METRIC_COLUMNS`. Latencies are seconds from
        a trial's onset to its first correct decision, over detected trials.
    """
    scored = decisions[decisions["scored"].to_numpy(bool)]
    truth = scored["truth"].to_numpy(object)
    pred = scored["prediction"].to_numpy(object)
    idle = truth == IDLE
    mcc = matthews_corrcoef(truth, pred) if len(truth) else np.nan
    acc = accuracy_score(truth, pred) if len(truth) else np.nan
    latencies, votes = _per_trial(decisions, trials)
    infer = decisions["infer_s"].dropna().to_numpy(float)
    trial_acc = float(np.mean(votes)) if votes else np.nan
    return {
        "score": (mcc + 1) / 2,
        "mcc": mcc,
        "itr": wolpaw_itr(trial_acc, n_classes - 1, cue_to_cue) if np.isfinite(cue_to_cue) else np.nan,
        "itr_window": wolpaw_itr(acc, n_classes, step),
        "fa_per_min": false_activations(decisions, step),
        "detection_rate": len(latencies) / len(trials) if len(trials) else np.nan,
        "accuracy": acc,
        "balanced_accuracy": balanced_accuracy_score(truth, pred) if len(truth) else np.nan,
        "idle_fpr": float(np.mean(pred[idle] != IDLE)) if idle.any() else np.nan,
        "task_tpr": float(np.mean(pred[~idle] == truth[~idle])) if (~idle).any() else np.nan,
        "latency_mean": float(np.mean(latencies)) if latencies else np.nan,
        "latency_median": float(np.median(latencies)) if latencies else np.nan,
        "trial_accuracy": trial_acc,
        "n_decisions": float(len(truth)),
        "infer_mean_ms": float(infer.mean() * 1e3),
        "infer_p99_ms": float(np.percentile(infer, 99) * 1e3),
        "rtf": float(infer.mean() * len(decisions) / duration),
    }


def _per_trial(decisions: pd.DataFrame, trials: pd.DataFrame):
    """Latency of each detected trial, and whether each trial's majority vote is right.

    The vote is over the trial's non-idle decisions; a trial with none counts as wrong.
    """
    latencies, votes = [], []
    trial_ids = decisions["trial"].to_numpy()
    times = decisions["time"].to_numpy(float)
    pred = decisions["prediction"].to_numpy(object)
    for k, onset, label in trials[["trial", "onset", "label"]].itertuples(index=False):
        mine = trial_ids == k
        if not mine.any():
            votes.append(False)
            continue
        hit = mine & (pred == label)
        if hit.any():
            latencies.append(float(times[hit][0] - onset))
        active = pred[mine][pred[mine] != IDLE]
        if len(active) == 0:
            votes.append(False)
            continue
        names, counts = np.unique(active.astype(str), return_counts=True)
        votes.append(names[counts.argmax()] == label)
    return latencies, votes
