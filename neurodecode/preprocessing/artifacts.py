"""Artifact steps: bad-channel detection and repair, ICA, amplitude rejection of windows."""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError, InvalidDataError
from .base import RawStep, WindowStep, check_positions, where

__all__ = ["BadChannels", "ICAClean", "Faster", "RejectPeakToPeak"]

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


class Faster(RawStep):
    """FASTER (Nolan et al. 2010) through ``mne-faster``: bad channels, bad epochs, bad ICA components.

    The recording is cut into consecutive ``epoch_length`` s epochs, on which
    FASTER's statistics are computed, as in the EEGNet-family comparison:

    1. bad channels (variance, correlation, Hurst exponent, kurtosis, line
       noise beyond ``threshold`` robust z-scores) are interpolated (or only
       marked, ``interpolate=False``);
    2. bad epochs (amplitude range, deviation, variance) are annotated
       ``BAD_faster``, so the trials that overlap them are dropped at
       epoching (MOABB and MNE reject by annotation);
    3. ICA components (correlation with EOG or the frontal proxies,
       kurtosis, spectral slope, Hurst exponent, median gradient) are removed.

    FASTER's fourth step (channels bad within single epochs) repairs epochs,
    not a continuous recording, so it is left out.

    Parameters
    ----------
    threshold : float
        Robust z-score beyond which a channel, epoch or component is bad.
    epoch_length : float
        Length (s) of the epochs the statistics are computed on.
    interpolate : bool
        Interpolate bad channels with spherical splines (needs positions).
    bad_epochs, ica : bool
        Run steps 2 and 3.
    n_components : int | float
        ICA components (at most the number of good channels minus one).
    eog_proxy : list of str
        Frontal channels used as EOG when the recording has no EOG channel.
    random_state : int
        Seed of the ICA.
    """

    name = "faster"
    libraries = ("mne", "numpy", "scipy", "mne-faster", "python-picard")

    def __init__(self, threshold: float = 3.0, epoch_length: float = 2.0, interpolate: bool = True,
                 bad_epochs: bool = True, ica: bool = True, n_components: int | float = 15,
                 eog_proxy: list = ("Fp1", "Fp2"), random_state: int = 0):
        self.threshold = threshold
        self.epoch_length = epoch_length
        self.interpolate = interpolate
        self.bad_epochs = bad_epochs
        self.ica = ica
        self.n_components = n_components
        self.eog_proxy = eog_proxy
        self.random_state = random_state
        if threshold <= 0 or epoch_length <= 0:
            raise ConfigError(f"faster: threshold and epoch_length must be positive, got {threshold!r} and "
                              f"{epoch_length!r}")

    def apply(self, raw):
        import mne
        from mne_faster import find_bad_channels, find_bad_epochs

        if self.interpolate:
            check_positions(raw.copy().pick("eeg"), self.name)
        epochs = self._epochs(raw)
        if len(epochs) < 3:
            raise InvalidDataError(where(raw), f"faster: the recording holds {len(epochs)} epochs of "
                                   f"{self.epoch_length:g} s; FASTER's statistics need at least 3")
        with mne.utils.use_log_level("WARNING"):  # mne-faster logs every metric at INFO
            bads = find_bad_channels(epochs, thres=self.threshold)
        n_eeg = len(epochs.ch_names)  # good EEG channels: the epochs hold nothing else
        if len(bads) > n_eeg // 2:
            raise InvalidDataError(where(raw), f"faster: {len(bads)} of {n_eeg} channels are bad; the "
                                   "recording cannot be repaired")
        raw.info["bads"] = sorted(set(raw.info["bads"]) | set(bads))
        if bads and self.interpolate:
            raw.interpolate_bads(reset_bads=True, mode="accurate", verbose=False)
        epochs = self._epochs(raw)
        if self.bad_epochs:
            with mne.utils.use_log_level("WARNING"):
                bad = find_bad_epochs(epochs, thres=self.threshold)
            if bad:  # onsets relative to orig_time when the annotations have one, else to the first sample
                onsets = (epochs.events[bad, 0] - raw.first_samp) / raw.info["sfreq"]
                shift = raw.first_time if raw.annotations.orig_time is not None else 0.0
                raw.set_annotations(raw.annotations + mne.Annotations(
                    onsets + shift, self.epoch_length, "BAD_faster", orig_time=raw.annotations.orig_time))
        if self.ica:
            self._remove_components(raw)
        return raw

    def _epochs(self, raw, kind: str = "eeg"):
        import mne

        return mne.make_fixed_length_epochs(raw, self.epoch_length, reject_by_annotation=False,
                                            preload=True, verbose=False).pick(kind, exclude="bads")

    def _remove_components(self, raw) -> None:
        import mne
        from mne.preprocessing import ICA
        from mne_faster import find_bad_components

        high_passed = raw.copy().filter(1.0, None, picks="data", verbose=False)  # as MNE advises for ICA
        epochs = self._epochs(high_passed)
        good = len(epochs.ch_names)
        n = min(self.n_components, good - 1) if isinstance(self.n_components, int) else self.n_components
        ica = ICA(n_components=n, method="picard", random_state=self.random_state, max_iter="auto",
                  verbose=False)
        ica.fit(epochs, verbose=False)
        eog = [c for c, t in zip(raw.ch_names, raw.get_channel_types()) if t == "eog"]
        metrics = ["eog_correlation", "kurtosis", "power_gradient", "hurst", "median_gradient"]
        if eog:
            epochs = epochs.add_channels([self._epochs(high_passed.copy().pick(eog), "eog")], force_update_info=True)
        else:  # mne-faster correlates components with EOG channels: the frontal proxies stand in for one
            proxy = [c for c in epochs.ch_names if c.lower() in {p.lower() for p in self.eog_proxy}]
            if proxy:
                info = mne.create_info(["EOG-proxy"], epochs.info["sfreq"], "eog")
                eog_epochs = mne.EpochsArray(epochs.get_data(picks=proxy).mean(axis=1, keepdims=True), info,
                                             epochs.events, tmin=epochs.tmin, verbose=False)
                epochs = epochs.add_channels([eog_epochs], force_update_info=True)
            else:
                metrics.remove("eog_correlation")
        with mne.utils.use_log_level("WARNING"):
            bad = find_bad_components(ica, epochs, thres=self.threshold, use_metrics=metrics)
        ica.exclude = sorted(int(i) for i in bad)
        ica.apply(raw, verbose=False)


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
