"""Events and per-sample label tracks of preprocessed runs, with MOABB's semantics."""
from __future__ import annotations

from dataclasses import dataclass

import mne
import numpy as np

from ..preprocessing.cache import CachedRun
from ..utils import IDLE

__all__ = ["run_events", "LabelTrack", "label_track", "TaskPeriod", "TASK_PERIOD_SOURCES", "IDLE"]

#: Where a trial's task period comes from, in order of precedence.
TASK_PERIOD_SOURCES = ("task_interval", "annotations", "trial_duration", "interval")


def run_events(run: CachedRun, event_id: dict) -> np.ndarray:
    """MNE events ``(n, 3)`` at the cues of a run, as MOABB paradigms find them.

    Like MOABB's ``RawToEvents``: from the stim channel when the run has one
    (:func:`mne.find_events` with ``shortest_event=0``), otherwise from the
    annotations named in ``event_id``. Sample numbers index ``run.data``
    (``first_samp`` removed).
    """
    codes = {}
    for name, value in event_id.items():
        for v in np.atleast_1d(value):
            codes[int(v)] = name
    if run.stim_events is not None:
        events = run.stim_events.copy()
    else:
        info = mne.create_info(1, run.sfreq, "misc")
        raw = mne.io.RawArray(np.zeros((1, run.n_times)), info, first_samp=run.first_samp,
                              verbose=False)
        raw.set_meas_date(run.info["meas_date"])
        raw.set_annotations(run.annotations)
        present = set(run.annotations.description)
        wanted = {k: v for k, v in event_id.items() if k in present and np.isscalar(v)}
        events = (mne.events_from_annotations(raw, event_id=wanted, verbose=False)[0]
                  if wanted else np.zeros((0, 3), dtype=np.int64))
    events = np.array(events, dtype=np.int64).reshape(-1, 3)
    events = events[np.isin(events[:, 2], list(codes))]
    events[:, 0] -= run.first_samp
    return events


def bad_spans(run: CachedRun) -> np.ndarray:
    """``(n, 2)`` sample spans [start, stop) of ``BAD*`` annotations."""
    ann = run.annotations
    keep = [d.lower().startswith("bad") for d in ann.description]
    if not any(keep):
        return np.zeros((0, 2), dtype=np.int64)
    offset = _annotation_offset(run)
    onset = np.round((ann.onset[keep] - offset) * run.sfreq).astype(np.int64)
    stop = onset + np.round(ann.duration[keep] * run.sfreq).astype(np.int64)
    return np.stack([onset, np.maximum(stop, onset + 1)], axis=1)


def _annotation_offset(run: CachedRun) -> float:
    """Seconds to subtract from annotation onsets to get time from the first sample."""
    if run.annotations.orig_time is None:
        return 0.0
    return run.first_samp / run.sfreq


@dataclass(frozen=True)
class TaskPeriod:
    """When each trial's task is on, relative to its cue, taken in this order:

    1. ``declared``: an explicit ``task_interval`` ``(start, end)`` in s after the cue;
    2. the events' own durations, where the run's annotations carry them
       (PhysionetMI's T1/T2 last 4.1 s): from the cue to cue + duration;
    3. ``trial_duration``: the duration the dataset declares (MOABB's
       ``METADATA.experiment.trial_duration``), from the cue, clipped at the next cue;
    4. ``interval``: the dataset's epoch interval, as MOABB's offline epochs.

    Examples
    --------
    >>> TaskPeriod((2.0, 4.0)).length, TaskPeriod((2.0, 4.0), trial_duration=6.0).length
    (2.0, 6.0)
    """

    interval: tuple
    declared: tuple | None = None
    trial_duration: float | None = None
    #: False: the epoch interval only, as MOABB's offline epochs (sliding windows use this)
    from_data: bool = True

    @property
    def length(self) -> float:
        """Task seconds per trial known before reading any run (annotation durations are not)."""
        if self.declared is not None:
            return float(self.declared[1] - self.declared[0])
        if self.trial_duration:
            return float(self.trial_duration)
        return float(self.interval[1] - self.interval[0])

    def spans(self, run: CachedRun, events: np.ndarray, names: dict) -> tuple[np.ndarray, np.ndarray, str]:
        """Start and stop samples of every event's task period, and the source used."""
        cues = events[:, 0]
        sf = run.sfreq
        if self.declared is not None:
            a, b = self.declared
            return cues + int(round(a * sf)), cues + int(round(b * sf)), "task_interval"
        durations = _annotation_durations(run, events, names) if self.from_data else None
        if durations is not None:
            return cues, cues + np.round(durations * sf).astype(np.int64), "annotations"
        if self.trial_duration and self.from_data:
            stop = cues + int(round(self.trial_duration * sf))
            following = np.r_[cues[1:], np.iinfo(np.int64).max]
            return cues, np.minimum(stop, following), "trial_duration"
        a, b = self.interval
        return cues + int(round(a * sf)), cues + int(round(b * sf)), "interval"


def _annotation_durations(run: CachedRun, events: np.ndarray, names: dict) -> np.ndarray | None:
    """Each event's duration (s) from the annotation of the same name at its sample, or None
    unless every event has one longer than a sample."""
    ann = run.annotations
    if len(events) == 0 or len(ann) == 0:
        return None
    onsets = np.round((ann.onset - _annotation_offset(run)) * run.sfreq).astype(np.int64)
    lasting = {(int(o), d): float(t) for o, d, t in zip(onsets, ann.description, ann.duration)
               if t > 1.0 / run.sfreq}
    out = np.zeros(len(events))
    for i, (sample, _, value) in enumerate(events):  # the annotation at the event's sample, +-1
        found = [lasting.get((int(sample) + k, names[int(value)])) for k in (0, -1, 1)]
        found = [t for t in found if t is not None]
        if not found:
            return None
        out[i] = found[0]
    return out


@dataclass
class LabelTrack:
    """Per-sample truth of a run: class code (0 = idle, k = ``classes[k-1]``) and trial id."""

    codes: np.ndarray
    trials: np.ndarray
    classes: list[str]
    onsets: np.ndarray  # sample where each trial becomes active
    trial_labels: list[str]
    #: Samples of every cue, rest included, in time order.
    cues: np.ndarray = None
    #: Which :data:`TASK_PERIOD_SOURCES` entry gave the task periods.
    source: str = "interval"

    def name(self, code: int) -> str:
        return IDLE if code == 0 else self.classes[code - 1]

    @property
    def cue_to_cue(self) -> float:
        """Median samples between consecutive cues (rest included); NaN with fewer than two."""
        return float(np.median(np.diff(self.cues))) if self.cues is not None and len(self.cues) > 1 else np.nan


def label_track(run: CachedRun, event_id: dict, interval, rest=(), period: TaskPeriod | None = None) -> LabelTrack:
    """The label track of a run.

    Each event of ``event_id`` is active over its task period (see
    :class:`TaskPeriod`; without one, MOABB's cue + ``interval[0]`` to cue +
    ``interval[1]``, samples ``[a, b)``); everything else is idle. Classes
    named in ``rest`` (Kalunga's ``rest``, PhysionetMI's ``rest``) count as
    idle. Where trials overlap, the later cue wins.
    """
    events = run_events(run, event_id)
    events = events[np.argsort(events[:, 0], kind="stable")]
    names = {v: k for k, v in event_id.items()}
    classes = sorted(k for k in event_id if k not in set(rest))
    codes = np.zeros(run.n_times, dtype=np.int16)
    trials = np.full(run.n_times, -1, dtype=np.int32)
    period = TaskPeriod(tuple(interval), from_data=False) if period is None else period
    starts, stops, source = period.spans(run, events, names)
    onsets, trial_labels = [], []
    for (_, _, value), start, stop in zip(events, starts, stops):
        label = names[int(value)]
        if label in rest:
            continue
        start, stop = max(int(start), 0), min(int(stop), run.n_times)
        if stop <= start:
            continue
        codes[start:stop] = classes.index(label) + 1
        trials[start:stop] = len(onsets)
        onsets.append(start)
        trial_labels.append(label)
    return LabelTrack(codes, trials, classes, np.asarray(onsets, dtype=np.int64), trial_labels,
                      cues=events[:, 0].copy(), source=source)
