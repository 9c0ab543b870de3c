"""MEG and mixed-sensor steps: channel types as a setting, per-type scaling, Maxwell filtering.

Magnetometers (T), planar gradiometers (T/m) and EEG (V) differ by orders of
magnitude: in one covariance matrix the largest type swamps the others. The
``scale`` step brings every type to MNE's display units (fT, fT/cm, µV), the
scale at which each type's signals are of the same order.
"""
from __future__ import annotations

import logging

import numpy as np

from ..errors import ConfigError
from .base import RawStep, where

__all__ = ["Scale", "Maxwell"]

#: MNE's default scalings: T -> fT, T/m -> fT/cm, V -> µV.
MNE_SCALINGS = {"mag": 1e15, "grad": 1e13, "eeg": 1e6}
logger = logging.getLogger("neurodecode")


class Scale(RawStep):
    """Multiply each channel type by a fixed factor, so mixed sensor types share one scale.

    ``scalings="mne"`` uses MNE's display units: magnetometers T -> fT (1e15),
    gradiometers T/m -> fT/cm (1e13), EEG V -> µV (1e6); or give
    ``{type: factor}``. The output is in those units. Fixed factors use no
    future sample, so the step is causal.

    Examples
    --------
    >>> import mne, numpy as np
    >>> info = mne.create_info(["M", "G"], 100.0, ["mag", "grad"])
    >>> raw = mne.io.RawArray(np.array([[1e-13], [1e-11]]), info, verbose=False)
    >>> Scale().apply(raw).get_data().ravel().round(6).tolist()
    [100.0, 100.0]
    """

    name = "scale"
    always_causal = True

    def __init__(self, scalings: str | dict = "mne"):
        self.scalings = scalings
        if scalings != "mne" and not (isinstance(scalings, dict) and all(
                isinstance(v, (int, float)) and v > 0 for v in scalings.values())):
            raise ConfigError(f"scale: scalings must be 'mne' or {{type: positive factor}}, got {scalings!r}")

    def apply(self, raw):
        factors = MNE_SCALINGS if self.scalings == "mne" else self.scalings
        types = np.array(raw.get_channel_types())
        for kind, factor in factors.items():
            picks = np.flatnonzero(types == kind)
            if len(picks):
                raw.apply_function(lambda x, f=factor: x * f, picks=picks, channel_wise=False)
        return raw


class Maxwell(RawStep):
    """MNE's Maxwell filter (SSS, or tSSS with ``st_duration``), skipped on data already filtered.

    When ``info["proc_history"]`` shows that SSS was applied (at acquisition
    or by MaxFilter) the data are left as they are and a log line says so;
    MNE's head-position and other warnings are passed on. ``compensation``
    sets the CTF reference-sensor compensation grade before filtering (None
    keeps the recorded one). SSS is a spatial projection of each sample, so
    causal; tSSS (``st_duration``) projects windows of that length, so not.
    """

    name = "maxwell"
    libraries = ("mne", "numpy", "scipy")

    @property
    def is_causal(self) -> bool:
        return self.st_duration is None

    def __init__(self, st_duration: float | None = None, origin="auto", coord_frame: str = "head",
                 compensation: int | None = None):
        self.st_duration = st_duration
        self.origin = origin
        self.coord_frame = coord_frame
        self.compensation = compensation

    def apply(self, raw):
        import mne

        if self.compensation is not None:
            raw.apply_gradient_compensation(self.compensation)
        history = raw.info.get("proc_history") or []
        if any(h.get("max_info", {}).get("sss_info") for h in history):
            logger.info(f"{where(raw)}: maxwell skipped, SSS already applied (info['proc_history'])")
            return raw
        if not any(t in ("mag", "grad") for t in raw.get_channel_types()):
            raise ConfigError(f"{where(raw)}: maxwell needs MEG channels; this recording has "
                              f"{sorted(set(raw.get_channel_types()))}")
        return mne.preprocessing.maxwell_filter(raw, origin=self.origin, st_duration=self.st_duration,
                                                coord_frame=self.coord_frame, verbose="warning")
