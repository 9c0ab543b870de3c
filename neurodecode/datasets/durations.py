"""Event durations that a MOABB loader drops, restored from the recording's own files.

The pseudo-online truth takes each trial's task period from its event's
duration where the recording carries one. Some MOABB loaders rebuild the
annotations from a stim channel with zero durations: PhysionetMI's EDF files
say that T1/T2 last 4.1 s, but ``PhysionetMI`` returns them as 0 s. For such
datasets the original annotations are read again (MNE's own reader, the
files already on disk) and their durations copied onto the run's events.
"""
from __future__ import annotations

import numpy as np

__all__ = ["restore_event_durations"]


def _physionet_files(dataset, subject) -> list:
    import mne

    from ..config import get_config

    runs = [*getattr(dataset, "hand_runs", []), *getattr(dataset, "feet_runs", [])]
    return mne.datasets.eegbci.load_data(subject, runs, path=str(get_config().data_root), update_path=False,
                                         verbose="ERROR")


#: Dataset code -> the recording files of a subject whose annotations keep the durations.
_SOURCES = {"PhysionetMotorImagery": _physionet_files}


def restore_event_durations(dataset, subject, runs: dict) -> dict:
    """Copy event durations from the original files onto ``runs`` (``{session: {run: Raw}}``), in place.

    A run is matched to the file whose annotations have the same onsets;
    runs of other datasets, or with no matching file, are left as they are.
    """
    source = _SOURCES.get(dataset.code)
    if source is None:
        return runs
    import mne

    originals = []
    for path in source(dataset, subject):
        ann = mne.io.read_raw(path, preload=False, verbose="ERROR").annotations
        originals.append((np.round(ann.onset, 3), ann.duration))
    for by_run in runs.values():
        for raw in by_run.values():
            ann = raw.annotations
            for onsets, durations in originals:
                if len(onsets) == len(ann) and np.array_equal(onsets, np.round(ann.onset, 3)):
                    raw.set_annotations(mne.Annotations(ann.onset, durations, ann.description, ann.orig_time))
                    break
    return runs
