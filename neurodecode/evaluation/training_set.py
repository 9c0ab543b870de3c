"""The windows a pseudo-online fold trains on: every task window, and idle windows drawn to a ratio."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..utils import IDLE
from ..windows.grid import windows_at
from .splits import Fold
from .stream import training_windows

__all__ = ["training_set"]


def training_set(fold: Fold, *, window: float, train_step: float, n_classes: int, idle_ratio: float = 1.0,
                 random_state=None, idle: str = "class") -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                  pd.DataFrame]:
    """``X, y, groups`` and window metadata (stream, start, stop) to train ``fold`` on.

    Windows of ``window`` seconds every ``train_step`` seconds that lie wholly
    inside one trial (its class) or wholly in idle time, from the fold's
    training runs only. All task windows are kept; idle windows are drawn
    without replacement (``random_state``) to ``idle_ratio`` times the mean
    size of the ``n_classes`` task classes. ``groups`` numbers the
    (run, trial or idle stretch) each window comes from, so grouped
    cross-validation never splits overlapping windows. ``idle`` only names
    the mode in the error raised when the runs have no idle time.
    """
    first = fold.train[0]
    n_len = int(round(window * first.sfreq))
    n_step = max(int(round(train_step * first.sfreq)), 1)
    parts = []
    for i, stream in enumerate(fold.train):
        w = training_windows(stream, n_len, n_step)
        w["stream"] = i
        parts.append(w)
    meta = pd.concat(parts, ignore_index=True)
    task = meta["label"] != IDLE
    where = f"{first.tag} and the other training runs"
    if not task.any():
        raise ConfigError(f"{where}: no window of {window:g} s fits inside a trial")
    idle_rows = np.flatnonzero(~task)
    if len(idle_rows) == 0:
        raise ConfigError(f"idle={idle!r} needs idle time in the training runs, but "
                          f"{where} have none (every sample is inside a task interval); declare "
                          "rest classes with rest=[...] or use a dataset with pauses")
    n_idle = min(len(idle_rows), math.ceil(idle_ratio * task.sum() / n_classes))
    rng = np.random.default_rng(random_state)
    keep = np.sort(np.r_[np.flatnonzero(task), rng.choice(idle_rows, n_idle, replace=False)])
    meta = meta.iloc[keep].reset_index(drop=True)
    meta["stop"] = meta["start"] + n_len
    X = np.concatenate([windows_at(fold.train[i].data, g["start"].to_numpy(), n_len)
                        for i, g in meta.groupby("stream", sort=True)]).astype(np.float32)
    groups = pd.factorize(pd.Series(list(zip(meta["stream"], meta["group"]))))[0]
    return X, meta["label"].to_numpy(object), groups, meta
