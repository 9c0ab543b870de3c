"""Cutting preprocessed runs into windows: trials around events, and sliding windows."""
from __future__ import annotations

import mne
import numpy as np
import pandas as pd

from ..datasets import get_dataset
from ..errors import ConfigError, InvalidDataError
from ..preprocessing import PreprocessedDataset, RunCache
from ..preprocessing.base import data_channels
from ..preprocessing.cache import CachedRun
from ..utils import IDLE
from .core import METADATA_COLUMNS, Windows
from .grid import grid_starts, grid_view
from .labels import bad_spans, label_track, run_events

__all__ = ["trial_windows", "sliding_windows", "preprocessed"]

_RULES = ("end", "majority")


def preprocessed(dataset, recipe=None, cache: bool | RunCache = True) -> PreprocessedDataset:
    """``dataset`` (a name, a MOABB dataset or a :class:`PreprocessedDataset`) seen through ``recipe``."""
    if isinstance(dataset, PreprocessedDataset):
        if recipe is not None:
            raise ConfigError("dataset is already preprocessed; pass recipe=None")
        return dataset
    if isinstance(dataset, str):
        dataset = get_dataset(dataset)
    return PreprocessedDataset(dataset, recipe, cache=cache)


def _data_picks(run: CachedRun) -> np.ndarray | slice:
    """The data channels (not stim), as a slice when contiguous so windows stay views."""
    picks = data_channels(run.info, misc=True)
    if len(picks) == 0:
        raise InvalidDataError(str(run.path or "run"), "no data channel left after preprocessing")
    if np.array_equal(picks, np.arange(picks[0], picks[-1] + 1)):
        return slice(int(picks[0]), int(picks[-1]) + 1)
    return picks


def _data_names(run: CachedRun) -> list[str]:
    return [run.ch_names[i] for i in np.arange(len(run.ch_names))[_data_picks(run)]]


def data_signal(run: CachedRun) -> tuple[np.ndarray, list[str]]:
    """The data channels of a run ``(n_chans, n_times)`` (a view when contiguous) and their names."""
    return run.data[_data_picks(run)], _data_names(run)


def _bands(ch_names) -> list:
    bands = []
    for name in ch_names:
        if "|" not in name:
            return []
        lo, hi = name.split("|")[1].split("-")
        if (float(lo), float(hi)) in bands:
            break
        bands.append((float(lo), float(hi)))
    return bands


def _runs(pre: PreprocessedDataset, subjects):
    subjects = pre.subject_list if subjects is None else list(subjects)
    unknown = sorted(set(subjects) - set(pre.subject_list))
    if unknown:
        raise ConfigError(f"{pre.code} has no subject {unknown}; subjects: {pre.subject_list}")
    if not subjects:
        raise ConfigError(f"no subject given for {pre.code}")
    for subject in subjects:
        for session, runs in pre.runs(subject).items():
            for run, entry in runs.items():
                yield subject, session, run, entry


def _assemble(plans, n_times, out, recipe, sfreq, ch_names) -> Windows:
    """Copy the planned windows into one array (a file when ``out`` is given)."""
    total = sum(len(p[1]) for p in plans)
    if total == 0:
        raise InvalidDataError("dataset", "no window could be cut: no matching event inside the runs")
    n_chans = len(ch_names)
    if out is not None:
        X = np.lib.format.open_memmap(out, mode="w+", dtype=np.float32,
                                      shape=(total, n_chans, n_times))
    else:
        X = np.empty((total, n_chans, n_times), dtype=np.float32)
    i = 0
    for entry, starts, _meta in plans:
        picks = _data_picks(entry)
        for s in starts:
            X[i] = entry.data[picks, s:s + n_times]
            i += 1
    metadata = pd.concat([p[2] for p in plans], ignore_index=True)
    X, metadata = recipe.apply_windows(X, metadata)
    return Windows(X, metadata, ch_names, sfreq, _bands(ch_names), recipe.digest)


def _check_same_layout(first: CachedRun, entry: CachedRun, tag: str) -> None:
    if _data_names(first) != _data_names(entry) or first.sfreq != entry.sfreq:
        raise InvalidDataError(tag, "runs differ in channels or sampling rate; add 'harmonise' "
                               "and 'resample' steps to the recipe")


def _meta(subject, session, run, starts, n_times, sfreq, labels, trials) -> pd.DataFrame:
    starts = np.asarray(starts, dtype=np.int64)
    return pd.DataFrame({
        "subject": subject, "session": str(session), "run": str(run),
        "start_sample": starts, "stop_sample": starts + n_times,
        "start_time": starts / sfreq, "stop_time": (starts + n_times) / sfreq,
        "label": np.asarray(labels, dtype=object), "trial": np.asarray(trials, dtype=np.int64),
    }, columns=METADATA_COLUMNS)


@mne.utils.verbose
def trial_windows(dataset, subjects=None, *, recipe=None, events=None, tmin: float = 0.0,
                  tmax: float | None = None, cache: bool | RunCache = True, out=None,
                  verbose=None) -> Windows:
    """Windows around events, with the same semantics as MOABB paradigms.

    A window spans cue + ``interval[0]`` + ``tmin`` to cue + ``interval[0]``
    + ``tmax`` (``tmax=None``: cue + ``interval[1]``), both ends included,
    where ``interval`` is the dataset's. Windows that overlap a ``BAD``
    annotation or leave the run are dropped, as :class:`mne.Epochs` does.

    Parameters
    ----------
    dataset : str | moabb.datasets.base.BaseDataset | PreprocessedDataset
    subjects : list of int | None
        Default: all subjects of the dataset.
    recipe : Recipe | dict | list | str | None
        Preprocessing; its window steps run on the windows.
    events : list of str | None
        Event names to keep (default: all of the dataset's).
    tmin, tmax : float
        Seconds, relative to the start of the dataset's interval.
    cache : bool | RunCache
    out : str | Path | None
        Write the windows to this ``.npy`` file (memory-mapped) instead of RAM.
    %(verbose)s

    Returns
    -------
    windows : Windows
    """
    pre = preprocessed(dataset, recipe, cache)
    event_id = dict(pre.event_id)
    keep = list(event_id) if events is None else list(events)
    unknown = [e for e in keep if e not in event_id]
    if unknown:
        raise ConfigError(f"{pre.code} has no event {unknown}; events: {sorted(event_id)}")
    interval = pre.interval
    t0 = tmin + interval[0]
    t1 = interval[1] if tmax is None else tmax + interval[0]
    if t1 <= t0:
        raise ConfigError(f"empty window: tmin={tmin} s, tmax={tmax} s")
    names = {v: k for k, v in event_id.items()}
    plans, first = [], None
    for subject, session, run, entry in _runs(pre, subjects):
        first = first or entry
        _check_same_layout(first, entry, pre.tag(subject, session, run))
        sfreq = entry.sfreq
        i0, i1 = int(round(t0 * sfreq)), int(round(t1 * sfreq))
        n_times = i1 - i0 + 1
        ev = run_events(entry, event_id)
        ev = ev[np.isin(ev[:, 2], [event_id[k] for k in keep])]
        _, first_idx = np.unique(ev[:, 0], return_index=True)  # event_repeated="drop"
        ev = ev[np.sort(first_idx)]
        starts = ev[:, 0] + i0
        ok = (starts >= 0) & (starts + n_times <= entry.n_times)
        for a, b in bad_spans(entry):
            ok &= ~((starts < b) & (starts + n_times > a))
        ev, starts = ev[ok], starts[ok]
        labels = [names[int(v)] for v in ev[:, 2]]
        plans.append((entry, starts,
                      _meta(subject, session, run, starts, n_times, sfreq, labels,
                            np.arange(len(starts)))))
    ch_names = _data_names(first)
    return _assemble(plans, n_times, out, pre.recipe, first.sfreq, ch_names)


@mne.utils.verbose
def sliding_windows(dataset, subjects=None, *, recipe=None, length: float = 1.0, step: float = 0.25,
                    rest=(), rule: str = "end", min_overlap: float = 0.5, interval=None,
                    cache: bool | RunCache = True, out=None, verbose=None) -> Windows:
    """Overlapping windows over whole runs, labelled from each run's label track.

    A task class is active from cue + ``interval[0]`` to cue + ``interval[1]``;
    every other sample is ``"idle"`` (see :func:`~neurodecode.windows.label_track`).
    A window's label is the class at its last sample (``rule="end"``, the
    decision time online) or the class covering most of it
    (``rule="majority"``). A task label needs the task to cover at least
    ``min_overlap`` of the window; otherwise the window is idle.

    Parameters
    ----------
    dataset : str | moabb.datasets.base.BaseDataset | PreprocessedDataset
    subjects : list of int | None
    recipe : Recipe | dict | list | str | None
    length, step : float
        Window length and step in seconds.
    rest : list of str
        Dataset classes that mean "no task" and are labelled idle.
    rule : "end" | "majority"
    min_overlap : float
        Fraction of the window in [0, 1].
    interval : (float, float) | None
        Task interval relative to the cue; default the dataset's.
    cache : bool | RunCache
    out : str | Path | None
        Write the windows to this ``.npy`` file instead of RAM.
    %(verbose)s

    Returns
    -------
    windows : Windows
        With one run and no window steps, ``X`` is a view of the cached run.

    Examples
    --------
    >>> from neurodecode.datasets import SyntheticMI
    >>> w = sliding_windows(SyntheticMI(n_subjects=1, n_sessions=1, n_runs=1, n_trials=2),
    ...                     length=1.0, step=0.5, cache=False)
    >>> w.X.shape[1:], sorted(set(w.y))
    ((31, 250), ['idle', 'left_hand', 'right_hand'])
    """
    if rule not in _RULES:
        raise ConfigError(f"rule must be one of {_RULES}, got {rule!r}")
    if not 0 <= min_overlap <= 1:
        raise ConfigError(f"min_overlap must be in [0, 1], got {min_overlap!r}")
    if length <= 0 or step <= 0:
        raise ConfigError(f"length and step must be positive seconds, got {length}, {step}")
    pre = preprocessed(dataset, recipe, cache)
    unknown = [r for r in rest if r not in pre.event_id]
    if unknown:
        raise ConfigError(f"rest class(es) {unknown} not in {pre.code}'s events {sorted(pre.event_id)}")
    interval = pre.interval if interval is None else interval
    plans, first, views = [], None, []
    for subject, session, run, entry in _runs(pre, subjects):
        first = first or entry
        _check_same_layout(first, entry, pre.tag(subject, session, run))
        sfreq = entry.sfreq
        n_len, n_step = int(round(length * sfreq)), int(round(step * sfreq))
        if n_len > entry.n_times:
            raise InvalidDataError(pre.tag(subject, session, run),
                                   f"windows of {length:g} s are longer than the run "
                                   f"({entry.n_times / sfreq:.2f} s); shorten them")
        if n_step < 1:
            raise ConfigError(f"step {step} s is shorter than one sample at {sfreq:g} Hz")
        track = label_track(entry, pre.event_id, interval, rest)
        starts = grid_starts(0, entry.n_times, n_len, n_step)
        labels, trials = _window_labels(track, starts, n_len, rule, min_overlap)
        plans.append((entry, starts, _meta(subject, session, run, starts, n_len, sfreq,
                                           labels, trials)))
        views.append(_strided(entry, n_len, n_step, len(starts)))
    ch_names = _data_names(first)
    if len(plans) == 1 and out is None and views[0] is not None:
        X, metadata = pre.recipe.apply_windows(views[0], plans[0][2])
        return Windows(X, metadata, ch_names, first.sfreq, _bands(ch_names), pre.recipe.digest)
    return _assemble(plans, n_len, out, pre.recipe, first.sfreq, ch_names)


def _strided(entry: CachedRun, n_len: int, n_step: int, n_windows: int):
    """Windows of one run as a read-only view (None when the data channels are not contiguous)."""
    picks = _data_picks(entry)
    return grid_view(entry.data[picks], n_len, n_step, n_windows) if isinstance(picks, slice) else None


def _window_labels(track, starts, n_len, rule, min_overlap):
    """Label and trial id of each window from the per-sample track."""
    n_classes = len(track.classes) + 1
    counts = np.zeros((n_classes, len(track.codes) + 1), dtype=np.int64)
    for k in range(n_classes):
        counts[k, 1:] = np.cumsum(track.codes == k)
    stops = starts + n_len
    cover = counts[:, stops] - counts[:, starts]  # samples of each class in each window
    if rule == "end":
        code = track.codes[stops - 1].astype(np.int64)
    else:
        code = cover.argmax(axis=0)
    frac = cover[code, np.arange(len(starts))] / n_len
    code = np.where((code > 0) & (frac < min_overlap), 0, code)
    labels = np.array([IDLE] + list(track.classes), dtype=object)[code]
    # the trial a task window belongs to: the one at its end, else the one covering it most
    trial = np.where(code > 0, track.trials[stops - 1], -1)
    mismatch = (code > 0) & ((trial < 0) | (track.codes[stops - 1] != code))
    for i in np.flatnonzero(mismatch):
        seg = track.trials[starts[i]:stops[i]][track.codes[starts[i]:stops[i]] == code[i]]
        trial[i] = np.bincount(seg).argmax()
    return labels, trial
