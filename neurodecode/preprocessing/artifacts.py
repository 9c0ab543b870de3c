"""Artifact steps: bad-channel detection and repair, ICA, amplitude rejection of windows."""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError, InvalidDataError
from .base import RawStep, WindowStep, check_positions, where

__all__ = ["BadChannels", "ICAClean", "RejectPeakToPeak"]

_DETECTORS = ("nan_flat", "deviation", "correlation", "hf_noise", "ransac")


class BadChannels(RawStep):
    """Detect bad EEG channels (PREP/FASTER/RANSAC criteria, via pyprep) and interpolate them.

    Detectors: ``nan_flat`` (NaN or flat), ``deviation`` (robust amplitude
    z-score), ``correlation`` (low correlation with the other channels),
    ``hf_noise`` (high-frequency noise ratio) and ``ransac`` (poorly
    predicted from random subsets of the others; needs positions).

    Parameters
    ----------
    detectors : list of str
        Which criteria to apply.
    interpolate : bool
        Interpolate the bad channels with spherical splines (needs positions);
        otherwise they are only marked in ``info["bads"]``.
    max_bad_fraction : float
        A recording with more bad channels than this is refused.
    random_state : int
        Seed of RANSAC.
    """

    name = "bad_channels"
    libraries = ("mne", "numpy", "scipy", "pyprep")

    def __init__(self, detectors: list = ("nan_flat", "deviation", "correlation", "hf_noise"),
                 interpolate: bool = True, max_bad_fraction: float = 0.5, random_state: int = 0):
        self.detectors = detectors
        self.interpolate = interpolate
        self.max_bad_fraction = max_bad_fraction
        self.random_state = random_state
        unknown = sorted(set(detectors) - set(_DETECTORS))
        if unknown:
            raise ConfigError(f"bad_channels: unknown detector(s) {unknown}; valid: {list(_DETECTORS)}")

    def apply(self, raw):
        from pyprep import NoisyChannels

        if "ransac" in self.detectors or self.interpolate:
            check_positions(raw.copy().pick("eeg"), self.name)
        eeg = raw.copy().pick("eeg")
        data = eeg.get_data()
        if not np.all(np.isfinite(data)) and np.all(~np.isfinite(data).all(axis=1)):
            raise InvalidDataError(where(raw), "bad_channels: every channel contains NaN")
        if np.all(np.ptp(data, axis=1) < 1e-15):
            raise InvalidDataError(where(raw), "bad_channels: every channel is flat; the "
                                   "recording carries no signal")
        noisy = NoisyChannels(eeg, random_state=self.random_state,
                              ransac="ransac" in self.detectors,
                              correlation="correlation" in self.detectors)
        noisy.find_bad_by_nan_flat()
        for detector in self.detectors:
            if detector not in ("nan_flat", "ransac"):
                getattr(noisy, f"find_bad_by_{detector.replace('_', '')}")()
        if "ransac" in self.detectors:
            noisy.find_bad_by_ransac()
        bads = sorted(set(noisy.get_bads()) | set(raw.info["bads"]))
        n = len(eeg.ch_names)
        if len(bads) >= n or len(bads) > self.max_bad_fraction * n:
            raise InvalidDataError(where(raw), f"bad_channels: {len(bads)} of {n} channels are "
                                   f"bad ({', '.join(bads[:8])}{' ...' if len(bads) > 8 else ''}); "
                                   "the recording cannot be repaired; exclude it or raise "
                                   "max_bad_fraction")
        raw.info["bads"] = bads
        if bads and self.interpolate:
            raw.interpolate_bads(reset_bads=True, mode="accurate", verbose=False)
        return raw


class ICAClean(RawStep):
    """Remove ocular, cardiac, muscle and (optionally) ICLabel-flagged components (MNE's ICA).

    ICA (Picard by default) is fitted on a 1 Hz high-passed copy, every
    ``decim``-th sample. Components are excluded when they correlate with an
    EOG channel (or, without one, with the frontal proxies ``eog_proxy``),
    with an ECG channel if present, when MNE's ``find_bads_muscle`` flags
    them (``muscle=True``: flat high-frequency spectrum, peripheral, focal;
    needs positions), and, with ``iclabel=True``, when mne-icalabel gives one
    of ``iclabel_labels`` a probability of at least ``iclabel_threshold``.
    """

    name = "ica"
    libraries = ("mne", "numpy", "scipy", "python-picard")

    def __init__(self, n_components: float | int = 15, method: str = "picard", decim: int = 3,
                 eog_proxy: list = ("Fp1", "Fp2"), eog_threshold: float = 3.0,
                 muscle: bool = True, iclabel: bool = False, iclabel_threshold: float = 0.8,
                 iclabel_labels: list = ("eye blink", "muscle artifact", "heart beat"),
                 random_state: int = 0):
        self.n_components = n_components
        self.method = method
        self.decim = decim
        self.eog_proxy = eog_proxy
        self.eog_threshold = eog_threshold
        self.muscle = muscle
        self.iclabel = iclabel
        self.iclabel_threshold = iclabel_threshold
        self.iclabel_labels = iclabel_labels
        self.random_state = random_state

    def dependencies(self) -> tuple[str, ...]:
        # the ICLabel network changes the output only when it is used
        return self.libraries + (("mne-icalabel", "torch") if self.iclabel else ())

    def apply(self, raw):
        from mne.preprocessing import ICA

        if self.iclabel or self.muscle:
            check_positions(raw.copy().pick("eeg"), self.name)
        fit_raw = raw.copy().filter(1.0, None, picks="data", verbose=False)
        n_eeg = len(fit_raw.copy().pick("eeg").ch_names)
        n_components = min(self.n_components, n_eeg - 1) if isinstance(self.n_components, int) \
            else self.n_components
        ica = ICA(n_components=n_components, method=self.method,
                  random_state=self.random_state, max_iter="auto", verbose=False)
        ica.fit(fit_raw, picks="eeg", decim=self.decim, verbose=False)
        exclude = set()
        types = raw.get_channel_types()
        eog = [c for c, t in zip(raw.ch_names, types) if t == "eog"]
        eog = eog or [c for c in raw.ch_names if c.lower() in {p.lower() for p in self.eog_proxy}]
        for ch in eog:
            idx, _ = ica.find_bads_eog(fit_raw, ch_name=ch, threshold=self.eog_threshold,
                                       verbose=False)
            exclude.update(idx)
        if "ecg" in types:
            idx, _ = ica.find_bads_ecg(fit_raw, method="correlation", verbose=False)
            exclude.update(idx)
        if self.muscle:
            idx, _ = ica.find_bads_muscle(fit_raw, verbose=False)
            exclude.update(idx)
        if self.iclabel:
            from mne_icalabel import label_components

            labels = label_components(fit_raw, ica, method="iclabel")
            for i, (label, p) in enumerate(zip(labels["labels"], labels["y_pred_proba"])):
                if label in self.iclabel_labels and p >= self.iclabel_threshold:
                    exclude.add(i)
        ica.exclude = sorted(int(i) for i in exclude)
        return ica.apply(raw, verbose=False)


class RejectPeakToPeak(WindowStep):
    """Drop windows whose peak-to-peak amplitude exceeds ``threshold`` (V) on any channel,
    or (with ``flat``) falls below ``flat`` (V) on any channel."""

    name = "reject_peak_to_peak"
    libraries = ("numpy",)

    def __init__(self, threshold: float = 150e-6, flat: float | None = None):
        self.threshold = threshold
        self.flat = flat
        if threshold is not None and threshold <= 0:
            raise ConfigError(f"reject_peak_to_peak: threshold must be positive volts, got {threshold!r}")

    def apply(self, X, metadata):
        ptp = np.ptp(X, axis=-1)
        keep = np.ones(len(X), dtype=bool)
        if self.threshold is not None:
            keep &= (ptp <= self.threshold).all(axis=1)
        if self.flat is not None:
            keep &= (ptp >= self.flat).all(axis=1)
        return X[keep], metadata[keep].reset_index(drop=True)
