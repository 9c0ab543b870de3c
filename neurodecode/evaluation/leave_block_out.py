"""Leave-one-block-out within-session evaluation, with three training strategies and a data-length sweep.

SSVEP speller papers (Nakanishi et al. 2018; Guney et al. 2022) score each
block of a session with models trained on the session's other blocks, and
report accuracy and ITR against the length of data used, because that curve
is what speller designers choose from. Guney et al. also train in two stages:
a global model on every subject, then a fine-tune per subject.

For every fold ``b`` (a block: a run, or one of ``n`` contiguous stretches of
each session's trials in recording order), every data length ``L`` and every
pipeline:

* ``subject``: the pipeline fitted on the target subject's session, blocks other than ``b``;
* ``global``: one model fitted on the blocks other than ``b`` of every subject and
  session, once per fold and length (not once per subject), tested on each
  subject's block ``b``;
* ``two-stage``: a copy of that global model fine-tuned on the subject's
  training blocks (networks, through their ``fine_tune``; other pipelines get no
  two-stage rows).

No trial of block ``b`` enters any model scored on block ``b``
(:attr:`LeaveBlockOut.log_` keeps the indices, for tests). Windows start at
the trial start (MOABB's ``interval[0]``, where the paradigm's ``tmin=0``
begins) plus ``latency`` and last ``L`` seconds. ITR is Wolpaw's, one
selection per trial, ``L + gaze_shift`` seconds per selection.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter

import numpy as np

from ..errors import ConfigError, UnknownNameError
from ..utils import natural_key
from .metrics import chance_level, nmcc, wolpaw_itr

__all__ = ["LeaveBlockOut", "TRAININGS", "SETTINGS", "check_settings", "block_labels"]

#: The training strategies, in the order rows are made.
TRAININGS = ("subject", "global", "two-stage")
#: Settings of a leave-block-out evaluation.
SETTINGS = ("training", "blocks", "data_lengths", "latency", "gaze_shift", "finetune")


def check_settings(settings: dict) -> dict:
    """Settings checked and completed with their defaults; one line per mistake.

    Examples
    --------
    >>> check_settings({"training": "two-stage", "data_lengths": [0.2, 0.4]})["training"]
    ['two-stage']
    >>> check_settings({"latency": -0.1})
    Traceback (most recent call last):
    ...
    neurodecode.errors.ConfigError: latency must be >= 0 s (windows start at the cue plus latency), got -0.1
    """
    out = {"training": ["subject"], "blocks": "run", "data_lengths": None, "latency": 0.0, "gaze_shift": 0.0,
           "finetune": {}, **settings}
    training = [out["training"]] if isinstance(out["training"], str) else list(out["training"] or [])
    for t in training:
        if t not in TRAININGS:
            raise UnknownNameError("training", str(t), TRAININGS)
    if not training:
        raise ConfigError(f"training must name one or more of {list(TRAININGS)}")
    out["training"] = [t for t in TRAININGS if t in training]
    blocks = out["blocks"]
    if blocks != "run" and not (isinstance(blocks, int) and not isinstance(blocks, bool) and blocks >= 2):
        raise ConfigError(f"blocks must be 'run' (each run a block) or an integer >= 2 (contiguous blocks of "
                          f"each session's trials), got {blocks!r}")
    for key in ("latency", "gaze_shift"):
        value = out[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
            what = " (windows start at the cue plus latency)" if key == "latency" else ""
            raise ConfigError(f"{key} must be >= 0 s{what}, got {value!r}")
        out[key] = float(value)
    lengths = out["data_lengths"]
    if lengths is not None:
        lengths = [lengths] if isinstance(lengths, (int, float)) else list(lengths)
        if not lengths or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 for v in lengths):
            raise ConfigError(f"data_lengths must be positive seconds, got {out['data_lengths']!r}")
        out["data_lengths"] = sorted({float(v) for v in lengths})
    if not isinstance(out["finetune"], dict) or set(out["finetune"]) - {"max_epochs", "lr", "freeze"}:
        raise ConfigError(f"finetune takes max_epochs, lr and freeze (DeepClassifier.fine_tune), "
                          f"got {out['finetune']!r}")
    return out


def block_labels(metadata, blocks) -> np.ndarray:
    """The block of every trial: the rank of its run within its session (``"run"``), or which of
    ``blocks`` contiguous stretches of its session's trials (in recording order) it falls in.

    Examples
    --------
    >>> import pandas as pd
    >>> meta = pd.DataFrame({"subject": [1] * 5, "session": ["0"] * 5, "run": ["0", "0", "1", "1", "1"]})
    >>> block_labels(meta, "run").tolist(), block_labels(meta, 2).tolist()
    ([0, 0, 1, 1, 1], [0, 0, 0, 1, 1])
    """
    out = np.empty(len(metadata), dtype=int)
    for (subject, session), idx in metadata.groupby(["subject", "session"], sort=False).indices.items():
        if blocks == "run":
            runs = metadata["run"].to_numpy()[idx]
            order = {r: i for i, r in enumerate(sorted(set(runs), key=natural_key))}
            if len(order) < 2:
                raise ConfigError(f"subject {subject} session {session} has one run, so no run can be left out; "
                                  "set blocks: N to cut each session into N contiguous blocks")
            out[idx] = [order[r] for r in runs]
        else:
            if len(idx) < blocks:
                raise ConfigError(f"subject {subject} session {session} has {len(idx)} trials, fewer than "
                                  f"blocks={blocks}")
            for b, part in enumerate(np.array_split(idx, blocks)):
                out[part] = b
    return out


@dataclass
class LeaveBlockOut:
    """Leave-one-block-out scores of pipelines on one dataset's trials; see the module docstring.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_chans, n_times)
        Trials from the trial start, at least ``latency + max(data_lengths)`` long.
    y : ndarray of str
    metadata : DataFrame
        ``subject``, ``session``, ``run`` per trial, in recording order within each session.
    sfreq : float
        Hz.
    scoring : str
        The paradigm's metric (``score`` column); ``accuracy`` is always computed too.
    settings : dict
        :func:`check_settings` output.

    Attributes
    ----------
    log_ : list of dict
        One entry per fitted model: ``training``, ``block``, ``data_length``,
        ``subject`` (None for global models), ``fit`` (trial indices it saw,
        both stages for two-stage) and ``test`` (trial indices scored).
    """

    X: np.ndarray
    y: np.ndarray
    metadata: object
    sfreq: float
    scoring: str = "accuracy"
    settings: dict = field(default_factory=lambda: check_settings({}))
    log_: list = field(default_factory=list)

    def __post_init__(self):
        self.y = np.asarray(self.y)
        self.blocks = block_labels(self.metadata, self.settings["blocks"])
        self.subjects = self.metadata["subject"].to_numpy()
        self.sessions = self.metadata["session"].astype(str).to_numpy()
        self.classes = np.unique(self.y)
        seconds = self.X.shape[-1] / self.sfreq
        lengths = self.settings["data_lengths"] or [round(seconds - self.settings["latency"], 6)]
        last = self.settings["latency"] + max(lengths)
        if last > seconds + 1e-9:
            raise ConfigError(f"a data length of {max(lengths):g} s from a latency of {self.settings['latency']:g} s "
                              f"ends at {last:g} s, after the {seconds:g} s of each trial")
        self.lengths = lengths

    def window(self, length: float) -> np.ndarray:
        """Every trial from ``latency`` for ``length`` seconds (a view)."""
        start = int(round(self.settings["latency"] * self.sfreq))
        return self.X[..., start:start + int(round(length * self.sfreq))]

    def evaluate(self, name: str, pipeline) -> list[dict]:
        """Rows of every subject and session: one per training strategy and data length."""
        from sklearn.base import clone
        from sklearn.metrics import get_scorer

        from ..models.transfer import fine_tuned

        scorer = get_scorer(self.scoring)
        training, finetune = self.settings["training"], self.settings["finetune"]
        rows = []
        for length in self.lengths:
            X = self.window(length)
            per: dict = {}  # (subject, session, training) -> per-block results
            for block in np.unique(self.blocks):
                test_all = self.blocks == block
                global_model, global_s = None, 0.0
                if "global" in training or "two-stage" in training:
                    fit = np.flatnonzero(~test_all)
                    t0 = perf_counter()
                    global_model = clone(pipeline).fit(X[fit], self.y[fit])
                    global_s = perf_counter() - t0
                    self.log_.append({"training": "global", "block": block, "data_length": length,
                                      "subject": None, "fit": fit, "test": np.flatnonzero(test_all)})
                for subject, session in dict.fromkeys(zip(self.subjects, self.sessions)):
                    mine = (self.subjects == subject) & (self.sessions == session)
                    test, fit = np.flatnonzero(mine & test_all), np.flatnonzero(mine & ~test_all)
                    if not len(test):
                        continue
                    models = {}
                    if "subject" in training:
                        t0 = perf_counter()
                        models["subject"] = (clone(pipeline).fit(X[fit], self.y[fit]), perf_counter() - t0, fit)
                    if "global" in training:
                        models["global"] = (global_model, global_s, np.flatnonzero(~test_all))
                    if "two-stage" in training:
                        t0 = perf_counter()
                        tuned = fine_tuned(global_model, X[fit], self.y[fit], **finetune)
                        if tuned is not None:
                            both = np.union1d(np.flatnonzero(~test_all), fit)
                            models["two-stage"] = (tuned, global_s + perf_counter() - t0, both)
                    for kind, (model, seconds, seen) in models.items():
                        if kind != "global":
                            self.log_.append({"training": kind, "block": block, "data_length": length,
                                              "subject": subject, "fit": seen, "test": test})
                        pred = model.predict(X[test])
                        accuracy = float(np.mean(pred == self.y[test]))
                        score = accuracy if self.scoring == "accuracy" else float(scorer(model, X[test], self.y[test]))
                        per.setdefault((subject, session, kind), []).append({
                            "score": score, "accuracy": accuracy, "nmcc": nmcc(self.y[test], pred),
                            "n_test": len(test), "n_train": len(seen), "seconds": seconds})
            rows += self._rows(name, length, per)
        return rows

    def _rows(self, name: str, length: float, per: dict) -> list[dict]:
        n_classes = len(self.classes)
        selection = length + self.settings["gaze_shift"]
        rows = []
        for (subject, session, kind), folds in per.items():
            accuracy = float(np.mean([f["accuracy"] for f in folds]))
            rows.append({
                "subject": int(subject), "session": session, "pipeline": name,
                "training": kind, "data_length": length, "score": float(np.mean([f["score"] for f in folds])),
                "accuracy": accuracy, "nmcc": float(np.mean([f["nmcc"] for f in folds])), "n_classes": n_classes,
                "selection_time": selection,
                "itr": wolpaw_itr(accuracy, n_classes, selection), "n_blocks": len(folds),
                "n_train": int(np.mean([f["n_train"] for f in folds])), "n_test": sum(f["n_test"] for f in folds),
                "samples": sum(f["n_test"] for f in folds), "channels": self.X.shape[1],
                "chance": chance_level(self.scoring, n_classes), "time": sum(f["seconds"] for f in folds)})
        return rows
