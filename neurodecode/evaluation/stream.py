"""Runs as time-ordered streams: their label truth, training windows and causal replay."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from time import perf_counter

import numpy as np
import pandas as pd

from ..errors import ConfigError, InvalidDataError
from ..models.decision import online_parts, posterior_classes
from ..preprocessing.cache import CachedRun
from ..utils import IDLE
from ..windows import LabelTrack, label_track
from ..windows.cut import data_signal
from ..windows.grid import grid_starts, trial_starts, windows_at
from ..windows.labels import TaskPeriod, bad_spans

__all__ = ["RunStream", "make_stream", "training_windows", "replay"]


@dataclass
class RunStream:
    """One preprocessed run (or a stretch of it) with its per-sample truth.

    Attributes
    ----------
    data : ndarray, shape (n_chans, n_times)
        The data channels of the whole run.
    track : LabelTrack
        Task classes and trials per sample; 0 (idle) elsewhere.
    excluded : ndarray of bool
        Samples that are neither task nor idle (events outside the paradigm,
        ``BAD`` annotations); no training window touches them.
    scored : ndarray of bool
        Samples whose decisions are scored: not excluded, not in a guard margin.
    begin, end : int
        The stretch in use, in samples (the whole run unless a split cut it).
    """

    subject: int
    session: str
    run: str
    data: np.ndarray
    sfreq: float
    ch_names: list
    track: LabelTrack
    excluded: np.ndarray
    scored: np.ndarray
    begin: int = 0
    end: int = -1

    def __post_init__(self):
        if self.end < 0:
            self.end = self.data.shape[1]

    @property
    def tag(self) -> str:
        return f"subject {self.subject} session {self.session} run {self.run}"

    @property
    def duration(self) -> float:
        return (self.end - self.begin) / self.sfreq

    def part(self, begin: int, end: int) -> RunStream:
        """The stretch ``[begin, end)`` of this run (samples)."""
        return dataclasses.replace(self, begin=max(begin, self.begin), end=min(end, self.end))

    def trials(self, n_len: int) -> pd.DataFrame:
        """Trials whose onset a window of ``n_len`` samples can reach: ``trial``, ``onset`` (s), ``label``."""
        onsets = self.track.onsets
        ok = (onsets >= self.begin + n_len - 1) & (onsets < self.end)
        return pd.DataFrame({"trial": np.flatnonzero(ok), "onset": onsets[ok] / self.sfreq,
                             "label": np.asarray(self.track.trial_labels, dtype=object)[ok]})

    @property
    def has_task(self) -> bool:
        return bool((self.track.codes[self.begin:self.end] > 0).any())


def make_stream(run: CachedRun, subject, session, run_name, events: dict, rest, other_events: dict,
                period: TaskPeriod, guard: float) -> RunStream:
    """Build the stream of a preprocessed run.

    ``events`` are the paradigm's classes plus the ``rest`` classes (which
    count as idle), each active over its task ``period``; ``other_events``
    (the dataset's remaining events) are excluded over theirs. ``guard``
    seconds either side of every change of truth are left out of the scores.
    """
    track = label_track(run, events, period.interval, rest, period=period)
    excluded = np.zeros(run.n_times, dtype=bool)
    if other_events:
        excluded |= label_track(run, other_events, period.interval, period=period).codes > 0
    for a, b in bad_spans(run):
        excluded[max(a, 0):b] = True
    scored = ~excluded
    g = int(round(guard * run.sfreq))
    if g > 0:
        state = np.where(excluded, -1, track.codes)
        for b in np.flatnonzero(np.diff(state)) + 1:
            scored[max(b - g, 0):b + g] = False
    data, ch_names = data_signal(run)
    return RunStream(subject, str(session), str(run_name), data, run.sfreq, ch_names, track,
                     excluded, scored)


def check_length(stream: RunStream, n_len: int) -> None:
    """Refuse a stretch shorter than one window."""
    if stream.end - stream.begin < n_len:
        raise InvalidDataError(stream.tag, f"{stream.duration:.2f} s of signal is shorter than "
                                           f"one window ({n_len / stream.sfreq:g} s); use shorter "
                                           "windows or drop this run")


def window_starts(stream: RunStream, n_len: int, n_step: int) -> np.ndarray:
    """Start samples of the windows of length ``n_len`` every ``n_step`` inside the stretch."""
    check_length(stream, n_len)
    return grid_starts(stream.begin, stream.end, n_len, n_step)


def training_windows(stream: RunStream, n_len: int, n_step: int) -> pd.DataFrame:
    """Training windows of a stream: task windows cut as offline training does, and idle windows.

    Task windows start at each trial's onset and every ``n_step`` samples
    after it, as long as they stay inside the trial; idle windows lie on a
    grid of ``n_step`` and wholly in idle time. Windows touching excluded
    samples, or outside the stream's stretch, are not used. Returns ``start``
    (sample), ``label``, ``trial`` and ``group`` (the trial, or the idle
    stretch between two onsets, for grouped cross-validation).
    """
    track = stream.track
    bad = np.r_[0, np.cumsum(stream.excluded)]
    busy = np.r_[0, np.cumsum(track.codes > 0)]
    task_starts, trials = trial_starts(track, n_len, n_step, stream.begin, stream.end)
    grid = window_starts(stream, n_len, n_step)
    idle = grid[(busy[grid + n_len] - busy[grid] == 0)]
    starts = np.r_[task_starts, idle]
    clean = bad[starts + n_len] - bad[starts] == 0
    labels = np.r_[np.array([track.name(int(track.codes[s])) for s in task_starts], dtype=object),
                   np.full(len(idle), IDLE, dtype=object)]
    stretch = np.searchsorted(track.onsets, idle, side="right")
    out = pd.DataFrame({"start": starts, "label": labels, "trial": np.r_[trials, np.full(len(idle), -1)],
                        "group": np.r_[trials, -1 - stretch]})
    return out[clean].sort_values("start", kind="stable").reset_index(drop=True)


def replay(estimator, stream: RunStream, n_len: int, n_step: int, n_timed: int | None = 200,
           batch_size: int = 256) -> pd.DataFrame:
    """Decisions of a fitted estimator on a stream, in time order.

    Every window ends at its decision time and is scored on its own content
    only; smoothing and the idle threshold then run causally over the
    sequence. Windows are scored ``batch_size`` at a time for speed, and
    ``n_timed`` of them (evenly spread; ``None``: all) are also scored alone,
    one call each, as a live stream would: that gives the inference times,
    and a pipeline whose output for a window depends on the other windows of
    the batch is refused.

    Returns
    -------
    decisions : DataFrame
        ``time`` (s from the run's start, the window's end), ``start_sample``,
        ``stop_sample``, ``truth``, ``prediction``, ``scored``, ``trial``,
        ``infer_s`` (NaN for windows not timed) and one ``p_<class>`` column
        per posterior.
    """
    starts = window_starts(stream, n_len, n_step)
    X = windows_at(stream.data, starts, n_len)
    per_window, decide = online_parts(estimator)
    P = np.concatenate([per_window(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])
    timed = np.arange(len(X)) if n_timed is None or n_timed >= len(X) else \
        np.unique(np.linspace(0, len(X) - 1, n_timed).round().astype(int))
    infer = np.full(len(X), np.nan)
    for i in timed:
        t0 = perf_counter()
        alone = per_window(X[i:i + 1])[0]
        infer[i] = perf_counter() - t0
        if not np.allclose(alone, P[i], rtol=1e-4, atol=1e-6):
            raise ConfigError(f"{type(estimator).__name__} scores a window differently alone than "
                              "among other windows, so it cannot run online; make every step act "
                              "on each window independently")
    t0 = perf_counter()
    labels = np.asarray(decide(P), dtype=object)
    infer[timed] += (perf_counter() - t0) / len(X)
    last = starts + n_len - 1
    track = stream.track
    names = np.array([IDLE] + list(track.classes), dtype=object)
    out = pd.DataFrame({
        "time": (last + 1) / stream.sfreq, "start_sample": starts, "stop_sample": last + 1,
        "truth": names[track.codes[last]], "prediction": labels,
        "scored": stream.scored[last], "trial": track.trials[last], "infer_s": infer,
    })
    classes = posterior_classes(estimator)
    if P.shape[1] == len(classes):
        for j, name in enumerate(classes):
            out[f"p_{name}"] = P[:, j]
    return out


def check_same_layout(streams, where: str) -> None:
    first = streams[0]
    for s in streams[1:]:
        if s.ch_names != first.ch_names or s.sfreq != first.sfreq:
            raise ConfigError(f"{where}: {s.tag} differs from {first.tag} in channels or sampling "
                              "rate; add 'harmonise' and 'resample' steps to the recipe")
