"""Windowing: trials around events and sliding windows over preprocessed runs."""
from ..utils import IDLE
from .core import METADATA_COLUMNS, Windows
from .cut import preprocessed, sliding_windows, trial_windows
from .labels import LabelTrack, label_track, run_events

__all__ = ["Windows", "METADATA_COLUMNS", "trial_windows", "sliding_windows", "preprocessed",
           "label_track", "LabelTrack", "run_events", "IDLE"]
