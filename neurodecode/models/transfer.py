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

import copy

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

    Parameters
    ----------
    pretrained : DeepClassifier
        Fitted on the source data; left unchanged.
    X, y
        Target calibration windows (same channels, length and classes).
    max_epochs : int
        Fine-tuning epochs; with so few trials there is no validation split.
    lr : float
        Initial learning rate (cosine-annealed to 0 over ``max_epochs``).
    freeze : bool
        Train only the classification head (``final_layer``), keeping the
        source feature extractor.
    verbose : int
        0 is quiet.
    """
    if not isinstance(pretrained, DeepClassifier) or not hasattr(pretrained, "net_"):
        raise ConfigError("fine_tune needs a fitted DeepClassifier; fit it on the source data first")
    X_arr, _, _ = pretrained._signal(X)
    if X_arr.shape[1:] != (pretrained.n_chans_, pretrained.n_times_):
        raise ConfigError(
            f"target windows are {X_arr.shape[1]} ch x {X_arr.shape[2]} samples but the source network "
            f"expects {pretrained.n_chans_} x {pretrained.n_times_}: harmonise channels and window length"
        )
    y = np.asarray(y)
    unknown = sorted(set(y) - set(pretrained.classes_))
    if unknown:
        raise ConfigError(f"target classes {unknown} were not in the source classes {list(pretrained.classes_)}")
    import torch
    from skorch.callbacks import LRScheduler

    tuned = copy.deepcopy(pretrained)  # weights only: optimiser state and history start afresh
    net = tuned.net_
    schedule = LRScheduler(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=max_epochs)
    net.set_params(max_epochs=max_epochs, train_split=None, verbose=verbose, optimizer__lr=lr,
                   callbacks=[("lr_scheduler", schedule)])
    for name, param in net.module_.named_parameters():
        param.requires_grad = not freeze or name.startswith("final_layer")
    net.initialize_callbacks()
    net.initialize_optimizer()
    net.initialize_history()
    y_idx = np.searchsorted(tuned.classes_, y)
    net.partial_fit(tuned._scaled(X_arr), y_idx)
    tuned.max_epochs = max_epochs
    return tuned


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
