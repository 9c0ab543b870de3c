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
from ..private_api import unlocked
from .base import RawStep, data_channels, where

__all__ = ["Bandpass", "Highpass", "Lowpass", "Notch", "Resample", "Crop", "RawFilterBank"]

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

    def apply(self, raw):
        return band_filter(raw, self.l_freq, self.h_freq, self.method, self.causal, self.order, self.name)

    def streaming_stage(self, info):
        """The coefficients MNE designs for the causal filter, run with their state."""
        from mne.filter import create_filter

        from .stages import FIR, SOS, Rows, iir_sos, probe_raw

        rows = data_channels(info)
        _check_cutoffs(self.name, probe_raw(info), self.l_freq, self.h_freq)
        if self.method == "iir":
            return Rows(rows, SOS(iir_sos(info, self.l_freq, self.h_freq, self.order), len(rows))), info
        h = create_filter(None, info["sfreq"], self.l_freq, self.h_freq, phase="minimum", fir_design="firwin",
                          verbose=False)
        return Rows(rows, FIR(h, len(rows))), info


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

    def streaming_stage(self, info):
        """One forward band-stop per frequency, as the causal ``apply`` runs them, with their state."""
        from .stages import SOS, Rows, iir_sos

        rows = data_channels(info)
        freqs = np.atleast_1d(np.asarray(self.freqs, dtype=float))
        filters = [SOS(iir_sos(info, f + self.width / 2, f - self.width / 2, 2), len(rows)) for f in freqs]

        def run(x):
            for f in filters:
                x = f(x)
            return x

        return Rows(rows, run), info


class Resample(RawStep):
    """Resample to ``sfreq`` Hz.

    The default is MNE's FFT resampling, which looks ahead. ``causal=True``
    resamples by any rational ratio with :class:`CausalResampler`: a
    polyphase anti-aliasing FIR (``scipy.signal.resample_poly``'s design) run
    forward only, so each output sample uses input up to its own time.
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
        import mne

        full = raw.get_data()
        resampler = CausalResampler(raw.info["sfreq"], self.sfreq, len(full))
        data = resampler.process(full)
        # a stim channel keeps the largest code of the input samples each output sample closes,
        # so events survive and are never reported before they happen
        last = resampler.last_input(np.arange(data.shape[1]))
        for i in mne.pick_types(raw.info, meg=False, stim=True):
            data[i] = np.maximum.reduceat(full[i], np.r_[0, last[:-1] + 1])
        info = _at_rate(raw.info.copy(), self.sfreq)
        first = int(round(raw.first_samp * resampler.up / resampler.down))
        out = mne.io.RawArray(data, info, first_samp=first, verbose=False)
        out.set_annotations(raw.annotations)
        return out

    def streaming_stage(self, info):
        """The data channels through a :class:`CausalResampler`."""
        if info["sfreq"] == self.sfreq:
            return (lambda x: x), info
        import mne

        from .stages import Resampler

        rows = data_channels(info)
        out = _at_rate(mne.pick_info(info, rows), self.sfreq)
        return Resampler(rows, CausalResampler(info["sfreq"], self.sfreq, len(rows))), out


def _at_rate(info, sfreq: float):
    """``info`` (changed in place) saying the data are now at ``sfreq`` Hz, low-passed below its Nyquist."""
    with unlocked(info):
        info["sfreq"] = float(sfreq)
        info["lowpass"] = min(info["lowpass"], sfreq / 2)
    return info


class CausalResampler:
    """Resample a stream by any rational ratio, forward only and chunk by chunk.

    The anti-aliasing filter is ``scipy.signal.resample_poly``'s (a Kaiser
    FIR with cut-off at the lower Nyquist), applied as a causal polyphase
    filter: output sample ``m`` (time ``m / sfreq_out``) uses input samples up
    to time ``m / sfreq_out`` only. It equals ``scipy.signal.upfirdn`` over
    the whole signal whatever the chunk sizes, and lags a zero-phase
    resampling by :attr:`delay` output samples (the FIR's half length).

    Parameters
    ----------
    sfreq_in, sfreq_out : float
        Rates in Hz; their ratio must be rational (to 1e-9).
    n_channels : int

    Examples
    --------
    >>> import numpy as np
    >>> r = CausalResampler(250.0, 128.0, 1)
    >>> (r.up, r.down, r.delay)
    (64, 125, 10)
    >>> x = np.random.default_rng(0).normal(size=(1, 1000))
    >>> whole = CausalResampler(250.0, 128.0, 1).process(x)
    >>> parts = np.concatenate([r.process(x[:, :333]), r.process(x[:, 333:])], axis=1)
    >>> np.allclose(whole, parts, rtol=1e-12, atol=0)
    True
    """

    def __init__(self, sfreq_in: float, sfreq_out: float, n_channels: int):
        from fractions import Fraction

        import scipy.signal

        ratio = Fraction(float(sfreq_out) / float(sfreq_in)).limit_denominator(10000)
        if abs(float(ratio) - sfreq_out / sfreq_in) > 1e-9:
            raise ConfigError(f"resample: {sfreq_in:g} Hz -> {sfreq_out:g} Hz is not a rational ratio")
        self.up, self.down = ratio.numerator, ratio.denominator
        big = max(self.up, self.down)
        # resample_poly's design, with the half length a multiple of `down` so the delay is whole samples
        half = self.down * int(np.ceil(10 * big / self.down))
        self.h = scipy.signal.firwin(2 * half + 1, 1.0 / big, window=("kaiser", 5.0)) * self.up
        self.delay = half // self.down
        self.n_taps = int(np.ceil(len(self.h) / self.up))
        # per phase p: taps h[p + up*j], j = 0..n_taps-1 (zero past the end)
        padded = np.zeros(self.up * self.n_taps)
        padded[:len(self.h)] = self.h
        self._phases = padded.reshape(self.n_taps, self.up).T  # (up, n_taps)
        self._history = np.zeros((n_channels, self.n_taps - 1))
        self._n_in = 0  # input samples seen
        self._n_out = 0  # output samples produced

    def last_input(self, m: np.ndarray) -> np.ndarray:
        """Index of the newest input sample that output samples ``m`` use."""
        return (np.asarray(m, dtype=np.int64) * self.down) // self.up

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Resample the next ``(n_channels, n)`` samples; returns every output sample now complete."""
        chunk = np.asarray(chunk, dtype=float)
        buf = np.concatenate([self._history, chunk], axis=1)  # buf[:, k] is input n_in - n_taps + 1 + k
        n_in = self._n_in + chunk.shape[1]
        m = np.arange(self._n_out, (n_in * self.up - 1) // self.down + 1 if n_in else 0)  # last input < n_in
        last = self.last_input(m)
        phase = (m * self.down) % self.up
        pos = last - (self._n_in - self._history.shape[1])  # position of input `last` in buf
        idx = pos[:, None] - np.arange(self.n_taps)[None, :]  # inputs last, last-1, ...
        taps = self._phases[phase] * (idx >= 0)  # inputs before the stream began are zeros
        out = np.einsum("mj,cmj->cm", taps, buf[:, np.clip(idx, 0, None)])
        self._history = buf[:, buf.shape[1] - (self.n_taps - 1):] if self.n_taps > 1 else buf[:, :0]
        self._n_in, self._n_out = n_in, self._n_out + len(m)
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


class RawFilterBank(RawStep):
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
        data_picks = data_channels(raw.info)
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
