"""Transfer learning: pretrain a network on source subjects or datasets, fine-tune on few target trials.

Following the EEGNet-family transfer studies, MIRepNet's few-shot adaptation
and two-stage SSVEP training (a global model, then per-subject
fine-tuning), a :class:`~neurodecode.models.DeepClassifier` is first fitted
on the pooled source windows, then trained further on ``n`` calibration
trials per class of the target, with the source input scaling kept. Source
datasets with different montages must share channels first: put the
``harmonise`` step in the recipe.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..errors import ConfigError
from .deep import DeepClassifier

__all__ = ["fine_tune", "few_shot_indices", "transfer_curve"]


def few_shot_indices(y, n_per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of ``n_per_class`` randomly drawn trials of every class (sorted).

    Examples
    --------
    >>> few_shot_indices(["a", "b", "a", "b", "a"], 1, seed=0).size
    2
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    picks = []
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        if len(idx) < n_per_class:
            raise ConfigError(f"class {cls!r} has {len(idx)} trials, fewer than the {n_per_class} asked for")
        picks.append(rng.choice(idx, n_per_class, replace=False))
    return np.sort(np.concatenate(picks))


def fine_tune(pretrained: DeepClassifier, X, y, max_epochs: int = 30, lr: float = 5e-4,
              freeze: bool = False, verbose: int = 0) -> DeepClassifier:
    """Continue training a fitted network on target trials; returns a new estimator.

    ``pretrained`` (fitted on the source data) is left unchanged; the other
    parameters are those of :meth:`DeepClassifier.fine_tune`.
    """
    if not isinstance(pretrained, DeepClassifier) or not hasattr(pretrained, "net_"):
        raise ConfigError("fine_tune needs a fitted DeepClassifier; fit it on the source data first")
    return pretrained.fine_tune(X, y, max_epochs=max_epochs, lr=lr, freeze=freeze, verbose=verbose)


def transfer_curve(estimator: DeepClassifier, source, target, shots=(5, 10, 20, 30), repeats: int = 3,
                   finetune: dict | None = None, seed: int = 0) -> pd.DataFrame:
    """Accuracy on held-out target trials: fine-tuned from the source against trained from scratch.

    Parameters
    ----------
    estimator : DeepClassifier
        Unfitted template; it is pretrained once on ``source``.
    source, target : tuple of (X, y)
        Pooled source windows; the target subject's windows.
    shots : iterable of int
        Calibration trials per class drawn from the target.
    repeats : int
        Random draws per shot count.
    finetune : dict | None
        Keyword arguments of :func:`fine_tune`.
    seed : int

    Returns
    -------
    curve : pandas.DataFrame
        ``shots``, ``repeat``, ``finetuned``, ``scratch``, ``n_test``.
    """
    X_src, y_src = source
    X_tgt, y_tgt = np.asarray(target[0]), np.asarray(target[1])
    pretrained = clone(estimator).set_params(seed=seed).fit(X_src, y_src)
    rows = []
    for n in shots:
        for r in range(repeats):
            calib = few_shot_indices(y_tgt, n, seed=seed + 1000 * n + r)
            test = np.setdiff1d(np.arange(len(y_tgt)), calib)
            tuned = fine_tune(pretrained, X_tgt[calib], y_tgt[calib], **(finetune or {}))
            scratch = clone(estimator).set_params(seed=seed + r, valid_size=0).fit(X_tgt[calib], y_tgt[calib])
            rows.append({"shots": n, "repeat": r, "n_test": len(test),
                         "finetuned": float(np.mean(tuned.predict(X_tgt[test]) == y_tgt[test])),
                         "scratch": float(np.mean(scratch.predict(X_tgt[test]) == y_tgt[test]))})
    return pd.DataFrame(rows)
