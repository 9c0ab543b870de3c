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
from sklearn.utils.validation import check_is_fitted

from ..errors import ConfigError

__all__ = ["fine_tune", "fine_tuned", "can_fine_tune", "random_per_class", "transfer_curve"]


def random_per_class(y, n_per_class: int, *, random_state: int = 0) -> np.ndarray:
    """Indices of ``n_per_class`` randomly drawn trials of every class (sorted).

    Examples
    --------
    >>> random_per_class(["a", "b", "a", "b", "a"], 1, random_state=0).size
    2
    """
    y = np.asarray(y)
    rng = np.random.default_rng(random_state)
    picks = []
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        if len(idx) < n_per_class:
            raise ConfigError(f"class {cls!r} has {len(idx)} trials, fewer than the {n_per_class} asked for")
        picks.append(rng.choice(idx, n_per_class, replace=False))
    return np.sort(np.concatenate(picks))


def fine_tune(pretrained, X, y, *, max_epochs: int = 30, lr: float = 5e-4, freeze: bool = False,
              verbose: int = 0):
    """A copy of a fitted :class:`~neurodecode.models.DeepClassifier` trained further on target trials.

    ``pretrained`` (fitted on the source data) is left unchanged and its
    input scaling is kept; optimiser state and history start afresh. The
    parameters are those of :meth:`DeepClassifier.fine_tune`.
    """
    if not hasattr(pretrained, "fine_tune"):
        raise ConfigError(f"fine_tune needs a DeepClassifier, got {type(pretrained).__name__}")
    check_is_fitted(pretrained, "net_")  # fit it on the source data first
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
    net.partial_fit(tuned._scaled(X_arr), np.searchsorted(tuned.classes_, y))
    tuned.max_epochs = max_epochs
    return tuned


def fine_tuned(fitted, X, y, **finetune):
    """``fitted`` fine-tuned on ``(X, y)``: a network with a ``fine_tune`` method, or a fitted
    scikit-learn pipeline ending in one (its other steps kept as fitted); None for estimators that
    cannot be fine-tuned. ``fitted`` is left unchanged; ``finetune`` are :func:`fine_tune`'s settings.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> fine_tuned(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), [[0.0]], [0]) is None
    True
    """
    if not can_fine_tune(fitted):
        return None
    if callable(getattr(fitted, "fine_tune", None)):  # the capability, not the class
        return fitted.fine_tune(X, y, **finetune)
    from sklearn.pipeline import Pipeline

    head, (name, last) = fitted[:-1], fitted.steps[-1]
    return Pipeline([*head.steps, (name, last.fine_tune(head.transform(X), y, **finetune))])


def can_fine_tune(estimator) -> bool:
    """Whether ``estimator`` has a ``fine_tune`` method, itself or as the last step of a pipeline.

    Examples
    --------
    >>> from neurodecode.models import get_pipeline
    >>> can_fine_tune(get_pipeline("SSVEP-DNN")), can_fine_tune(get_pipeline("TS+LR"))
    (True, False)
    """
    steps = getattr(estimator, "steps", None)
    return callable(getattr(estimator, "fine_tune", None)) or bool(steps) and callable(
        getattr(steps[-1][1], "fine_tune", None))


def transfer_curve(estimator, source, target, *, n_per_class=(5, 10, 20, 30), repeats: int = 3,
                   finetune: dict | None = None, random_state: int = 0) -> pd.DataFrame:
    """Accuracy on held-out target trials: fine-tuned from the source against trained from scratch.

    Parameters
    ----------
    estimator : DeepClassifier
        Unfitted template; it is pretrained once on ``source``.
    source, target : tuple of (X, y)
        Pooled source windows; the target subject's windows.
    n_per_class : iterable of int
        Calibration trials per class, drawn at random from the whole target
        recording (a learning curve; cross-dataset ``shots`` instead take the
        first trials of the recording, as a calibration block would).
    repeats : int
        Random draws per count.
    finetune : dict | None
        Keyword arguments of :func:`fine_tune`.
    random_state : int

    Returns
    -------
    curve : pandas.DataFrame
        ``n_per_class``, ``repeat``, ``finetuned``, ``scratch``, ``n_test``.
    """
    X_src, y_src = source
    X_tgt, y_tgt = np.asarray(target[0]), np.asarray(target[1])
    pretrained = clone(estimator).set_params(random_state=random_state).fit(X_src, y_src)
    rows = []
    for n in n_per_class:
        for r in range(repeats):
            calib = random_per_class(y_tgt, n, random_state=random_state + 1000 * n + r)
            test = np.setdiff1d(np.arange(len(y_tgt)), calib)
            tuned = fine_tune(pretrained, X_tgt[calib], y_tgt[calib], **(finetune or {}))
            scratch = clone(estimator).set_params(random_state=random_state + r, valid_size=0)
            scratch.fit(X_tgt[calib], y_tgt[calib])
            rows.append({"n_per_class": n, "repeat": r, "n_test": len(test),
                         "finetuned": float(np.mean(tuned.predict(X_tgt[test]) == y_tgt[test])),
                         "scratch": float(np.mean(scratch.predict(X_tgt[test]) == y_tgt[test]))})
    return pd.DataFrame(rows)
