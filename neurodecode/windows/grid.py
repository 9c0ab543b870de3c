"""Where windows start, and the windows themselves as views of a signal.

The one place that turns a window length and step (samples) into window
starts and arrays: :func:`~neurodecode.windows.sliding_windows` cuts a cached
run with it, and the pseudo-online replay cuts its training and decision
windows with it.
"""
from __future__ import annotations

import numpy as np

__all__ = ["grid_starts", "grid_view", "windows_at", "trial_starts"]


def grid_starts(begin: int, end: int, n_len: int, n_step: int) -> np.ndarray:
    """Starts of the windows of ``n_len`` samples every ``n_step`` that fit in ``[begin, end)``.

    Examples
    --------
    >>> grid_starts(0, 10, 4, 3)
    array([0, 3, 6])
    """
    return np.arange(begin, end - n_len + 1, n_step)


def grid_view(data: np.ndarray, n_len: int, n_step: int, n_windows: int) -> np.ndarray:
    """``(n_windows, n_chans, n_len)`` windows every ``n_step`` from sample 0, as a read-only view.

    Examples
    --------
    >>> grid_view(np.arange(10.0)[None], 4, 3, 3)[:, 0, 0]
    array([0., 3., 6.])
    """
    view = np.lib.stride_tricks.sliding_window_view(data, n_len, axis=1)
    return view[:, ::n_step][:, :n_windows].transpose(1, 0, 2)


def windows_at(data: np.ndarray, starts, n_len: int) -> np.ndarray:
    """``(len(starts), n_chans, n_len)`` windows of ``data`` starting at ``starts`` (samples).

    Examples
    --------
    >>> windows_at(np.arange(10.0)[None], [1, 5], 3)[:, 0]
    array([[1., 2., 3.],
           [5., 6., 7.]])
    """
    view = np.lib.stride_tricks.sliding_window_view(data, n_len, axis=1)
    return view[:, np.asarray(starts)].transpose(1, 0, 2)


def trial_starts(track, n_len: int, n_step: int, begin: int = 0, end: int | None = None):
    """Windows inside trials: from each onset, every ``n_step``, while the window stays in the trial.

    Parameters
    ----------
    track : LabelTrack
        The per-sample labels of a run (:func:`~neurodecode.windows.labels.label_track`).
    n_len, n_step : int
        Window length and step, in samples.
    begin, end : int
        The stretch of the run the windows must lie in (``end`` exclusive; None: the run's end).

    Returns
    -------
    starts, trials : ndarray of int64
        Each window's start sample and the index of its trial. A later cue
        that cuts a trial short ends its windows too.
    """
    end = len(track.codes) if end is None else end
    lengths = np.bincount(track.trials[track.trials >= 0], minlength=len(track.onsets))
    starts, trials = [], []
    for k, onset in enumerate(track.onsets):
        s = grid_starts(max(onset, begin), min(onset + lengths[k], end), n_len, n_step)
        s = s[(track.trials[s] == k) & (track.trials[s + n_len - 1] == k)]
        starts.append(s)
        trials.append(np.full(len(s), k))
    return (np.concatenate(starts or [np.zeros(0, int)]).astype(np.int64),
            np.concatenate(trials or [np.zeros(0, int)]).astype(np.int64))
