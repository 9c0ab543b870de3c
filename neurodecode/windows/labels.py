"""Events and per-sample label tracks of preprocessed runs, with MOABB's semantics."""
from __future__ import annotations

from dataclasses import dataclass

import mne
import numpy as np

from ..preprocessing.cache import CachedRun
from ..utils import IDLE

__all__ = ["run_events", "LabelTrack", "label_track", "IDLE"]



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
        with info._unlock():
            info["meas_date"] = run.info["meas_date"]
        raw = mne.io.RawArray(np.zeros((1, run.n_times)), info, first_samp=run.first_samp,
                              verbose=False)
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


@dataclass
class LabelTrack:
    """Per-sample truth of a run: class code (0 = idle, k = ``classes[k-1]``) and trial id."""

    codes: np.ndarray
    trials: np.ndarray
    classes: list[str]
    onsets: np.ndarray  # sample where each trial becomes active
    trial_labels: list[str]

    def name(self, code: int) -> str:
        return IDLE if code == 0 else self.classes[code - 1]


def label_track(run: CachedRun, event_id: dict, interval, rest=()) -> LabelTrack:
    """The label track of a run.

    Each event of ``event_id`` is active from cue + ``interval[0]`` to cue +
    ``interval[1]`` (samples ``[a, b)``); everything else is idle. Classes
    named in ``rest`` (Kalunga's ``rest``, PhysionetMI's ``rest``) count as
    idle. Where trials overlap, the later cue wins.
    """
    events = run_events(run, event_id)
    names = {v: k for k, v in event_id.items()}
    classes = sorted(k for k in event_id if k not in set(rest))
    codes = np.zeros(run.n_times, dtype=np.int16)
    trials = np.full(run.n_times, -1, dtype=np.int32)
    a0 = int(round(interval[0] * run.sfreq))
    a1 = int(round(interval[1] * run.sfreq))
    onsets, trial_labels = [], []
    for sample, _, value in events:
        label = names[int(value)]
        if label in rest:
            continue
        start, stop = max(sample + a0, 0), min(sample + a1, run.n_times)
        if stop <= start:
            continue
        codes[start:stop] = classes.index(label) + 1
        trials[start:stop] = len(onsets)
        onsets.append(start)
        trial_labels.append(label)
    return LabelTrack(codes, trials, classes, np.asarray(onsets, dtype=np.int64), trial_labels)
