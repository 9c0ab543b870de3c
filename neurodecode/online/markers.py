"""The truth a live decoder logs beside its decisions, read from the stream's marker outlet."""
from __future__ import annotations

import numpy as np

from ..utils import IDLE

__all__ = ["MarkerTruth"]


class MarkerTruth:
    """The truth at a time from the marker stream ``<stream>-annotations`` (mne-lsl's one-hot
    annotations: one channel per event name, value = duration in s): the task class whose
    event covers that time, else idle (rest classes are idle)."""

    def __init__(self, stream: str, meta: dict):
        from mne_lsl.lsl import StreamInlet, resolve_streams

        self.events: list[tuple[float, float, str]] = []
        self.classes, self.rest = set(meta["classes"]), set(meta.get("rest", []))
        found = resolve_streams(timeout=1.0, name=f"{stream}-annotations")
        self.inlet = None
        if found:
            self.inlet = StreamInlet(found[0], recover=False)
            self.inlet.open_stream(timeout=5.0)
            self.names = self.inlet.get_sinfo(timeout=5.0).get_channel_names()

    def pull(self) -> None:
        if self.inlet is None:
            return
        try:
            data, stamps = self.inlet.pull_chunk(timeout=0.0)
        except Exception:  # noqa: BLE001  (markers are optional; the data stream reports its own loss)
            self.close()
            return
        for row, t in zip(np.asarray(data), stamps):
            for j in np.flatnonzero(row != 0):
                self.events.append((float(t), max(float(row[j]), 0.0), self.names[j]))

    def truth(self, t: float):
        if self.inlet is None and not self.events:
            return None
        for onset, dur, name in reversed(self.events):
            if onset <= t < onset + dur and name in self.classes and name not in self.rest:
                return name
        return IDLE

    def close(self) -> None:
        if self.inlet is not None:
            self.inlet.close_stream()
            self.inlet = None
