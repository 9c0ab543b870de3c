"""Temporal steps: band-pass/high-pass/low-pass, notch, resample, crop, filter bank.

Filtering goes through MNE. With ``causal=True`` no output sample depends
on a later input sample: IIR filters run forward only (``phase="forward"``)
and FIR filters are designed minimum-phase by MNE and applied by direct
convolution (:func:`scipy.signal.lfilter`), which, unlike MNE's FFT
overlap-add, leaves past outputs bit-identical when future samples change.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError, InvalidDataError
from .base import RawStep, where

__all__ = ["Bandpass", "Highpass", "Lowpass", "Notch", "Resample", "Crop", "FilterBank"]

_METHODS = ("fir", "iir")


def _check_method(name: str, method: str, order: int) -> None:
    if method not in _METHODS:
        raise ConfigError(f"{name}: method must be one of {_METHODS}, got {method!r}")
    if int(order) < 1:
        raise ConfigError(f"{name}: order must be a positive integer, got {order!r}")


def _check_cutoffs(step: str, raw, *freqs) -> None:
    nyquist = raw.info["sfreq"] / 2.0
    for f in freqs:
        if f is not None and f >= nyquist:
            raise InvalidDataError(where(raw), f"{step}: cutoff {f:g} Hz is at or above the "
                                   f"Nyquist frequency {nyquist:g} Hz (sfreq "
                                   f"{raw.info['sfreq']:g} Hz); lower the cutoff")
        if f is not None and f <= 0:
            raise InvalidDataError(where(raw), f"{step}: cutoff {f:g} Hz must be positive")


def band_filter(raw, l_freq, h_freq, method: str, causal: bool, order: int, step: str):
    """Filter the data channels of ``raw`` in place (MNE), optionally causally."""
    _check_cutoffs(step, raw, l_freq, h_freq)
    if method == "iir":
        raw.filter(l_freq, h_freq, method="iir", picks="data",
                   iir_params=dict(order=int(order), ftype="butter", output="sos"),
                   phase="forward" if causal else "zero", verbose=False)
    elif not causal:
        raw.filter(l_freq, h_freq, method="fir", picks="data", phase="zero", verbose=False)
    else:
        _causal_fir(raw, l_freq, h_freq)
    return raw


def _causal_fir(raw, l_freq, h_freq) -> None:
    from mne.filter import create_filter
    from scipy.signal import lfilter

    h = create_filter(None, raw.info["sfreq"], l_freq, h_freq, phase="minimum",
                      fir_design="firwin", verbose=False)
    raw.apply_function(lambda x: lfilter(h, 1.0, x, axis=-1), picks="data", channel_wise=False)


class Bandpass(RawStep):
    """Band-pass filter (Hz), zero-phase or causal.

    ``method="iir"`` with ``order=4`` and ``causal=False`` is exactly the
    filter that MOABB paradigms apply.
    """

    name = "bandpass"

    def __init__(self, l_freq: float = 8.0, h_freq: float = 30.0, method: str = "iir",
                 order: int = 4, causal: bool = False):
        self.l_freq = l_freq
        self.h_freq = h_freq
        self.method = method
        self.order = order
        self.causal = causal
        _check_method(self.name, method, order)



    def _band(self):
        return self.l_freq, self.h_freq

    def apply(self, raw):
        lo, hi = self._band()
        return band_filter(raw, lo, hi, self.method, self.causal, self.order, self.name)


class Highpass(Bandpass):
    """High-pass filter at ``l_freq`` Hz."""

    name = "highpass"

    def __init__(self, l_freq: float = 1.0, method: str = "iir", order: int = 4,
                 causal: bool = False):
        super().__init__(l_freq, None, method, order, causal)



class Lowpass(Bandpass):
    """Low-pass filter at ``h_freq`` Hz."""

    name = "lowpass"

    def __init__(self, h_freq: float = 40.0, method: str = "iir", order: int = 4,
                 causal: bool = False):
        super().__init__(None, h_freq, method, order, causal)



class Notch(RawStep):
    """Notch out the line frequency (Hz) and the harmonics listed in ``freqs``."""

    name = "notch"

    def __init__(self, freqs: float | list = 50.0, width: float = 2.0, causal: bool = False):
        self.freqs = freqs
        self.width = width
        self.causal = causal



    def apply(self, raw):
        freqs = np.atleast_1d(np.asarray(self.freqs, dtype=float))
        _check_cutoffs(self.name, raw, *(freqs + self.width / 2))
        if not self.causal:
            raw.notch_filter(freqs, notch_widths=self.width, picks="data", verbose=False)
            return raw
        for f in freqs:  # forward-only band-stop per frequency
            raw.filter(f + self.width / 2, f - self.width / 2, method="iir", picks="data",
                       iir_params=dict(order=2, ftype="butter", output="sos"),
                       phase="forward", verbose=False)
        return raw


class Resample(RawStep):
    """Resample to ``sfreq`` Hz.

    The default is MNE's FFT resampling, which looks ahead. ``causal=True``
    needs an integer decimation factor: a forward-only low-pass at 0.4·sfreq
    followed by keeping every k-th sample.
    """

    name = "resample"

    def __init__(self, sfreq: float = 128.0, causal: bool = False):
        self.sfreq = sfreq
        self.causal = causal
        if float(sfreq) <= 0:
            raise ConfigError(f"resample: sfreq must be positive, got {sfreq!r}")



    def apply(self, raw):
        if raw.info["sfreq"] == self.sfreq:
            return raw
        if not self.causal:
            return raw.resample(self.sfreq, verbose=False)
        factor = raw.info["sfreq"] / self.sfreq
        if abs(factor - round(factor)) > 1e-9 or factor < 1:
            raise InvalidDataError(where(raw),
                                   f"causal resample needs an integer decimation factor; "
                                   f"{raw.info['sfreq']:g} Hz -> {self.sfreq:g} Hz is not one")
        band_filter(raw, None, 0.4 * self.sfreq, "iir", True, 8, self.name)
        return _decimate(raw, int(round(factor)))


def _decimate(raw, k: int):
    """Keep every k-th sample; a stim channel keeps the largest code of the k samples up to
    each kept one, so events survive and are never reported before they happen."""
    import mne

    full = raw.get_data()
    data = full[:, ::k]
    n_new = data.shape[1]
    for i in mne.pick_types(raw.info, meg=False, stim=True):
        padded = np.zeros(n_new * k)
        padded[k - 1:k - 1 + full.shape[1]] = full[i][:n_new * k - k + 1]
        data[i] = padded.reshape(n_new, k).max(axis=1)
    info = raw.info.copy()
    with info._unlock():
        info["sfreq"] = raw.info["sfreq"] / k
        info["lowpass"] = min(info["lowpass"], info["sfreq"] / 2)
    out = mne.io.RawArray(data, info, first_samp=raw.first_samp // k, verbose=False)
    out.set_annotations(raw.annotations)
    return out


class Crop(RawStep):
    """Keep ``tmin``..``tmax`` seconds of each recording (``tmax=None``: to the end)."""

    name = "crop"

    def __init__(self, tmin: float = 0.0, tmax: float | None = None):
        self.tmin = tmin
        self.tmax = tmax

    always_causal = True

    def apply(self, raw):
        if self.tmin >= raw.times[-1] or (self.tmax is not None and self.tmax <= self.tmin):
            raise InvalidDataError(where(raw), f"crop: {self.tmin}..{self.tmax} s is empty for a "
                                   f"recording of {raw.times[-1]:.1f} s")
        tmax = None if self.tmax is None else min(self.tmax, raw.times[-1])
        return raw.crop(self.tmin, tmax, verbose=False)


class FilterBank(RawStep):
    """Split every data channel into band-passed copies, one per band (Hz).

    Channel ``C3`` becomes ``C3|8-12``, ``C3|12-16`` ..., channel-major.
    :meth:`neurodecode.windows.Windows.filterbank` reshapes windows back to
    MOABB's filter-bank layout ``(n_windows, n_chans, n_times, n_bands)``.
    Put it last among the raw steps.
    """

    name = "filter_bank"

    def __init__(self, bands: list = ((8, 12), (12, 16), (16, 20), (20, 24), (24, 28), (28, 32)),
                 method: str = "iir", order: int = 4, causal: bool = False):
        self.bands = bands
        self.method = method
        self.order = order
        self.causal = causal
        _check_method(self.name, method, order)
        if not bands or any(len(b) != 2 or b[0] >= b[1] for b in bands):
            raise ConfigError(f"filter_bank: bands must be [low, high] pairs with low < high, "
                              f"got {bands!r}")



    def apply(self, raw):
        import mne

        data_picks = mne.pick_types(raw.info, meg=True, eeg=True, seeg=True, ecog=True,
                                    exclude=[])
        other = [raw.ch_names[i] for i in range(len(raw.ch_names)) if i not in set(data_picks)]
        copies = []
        for lo, hi in self.bands:
            band = raw.copy().pick(data_picks)
            band_filter(band, lo, hi, self.method, self.causal, self.order, self.name)
            band.rename_channels({c: f"{c}|{lo:g}-{hi:g}" for c in band.ch_names})
            copies.append(band)
        out = copies[0].add_channels(copies[1:], force_update_info=True)
        if other:
            out.add_channels([raw.copy().pick(other)], force_update_info=True)
        # channel-major order: C3|b1, C3|b2, ..., C4|b1, ...
        n_bands, names = len(self.bands), out.ch_names
        n_data = len(data_picks)
        order = [names[b * n_data + c] for c in range(n_data) for b in range(n_bands)]
        return out.reorder_channels(order + names[n_bands * n_data:])
