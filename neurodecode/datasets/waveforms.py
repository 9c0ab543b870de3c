"""Signal pieces the generators draw from: coloured and narrow-band noise, blinks, muscle bursts, onsets.

Shared by the synthetic EEG and MEG datasets and by the artifact sources of
:mod:`neurodecode.preprocessing.denoising`, so that what they learn on is what
the generators add.
"""
from __future__ import annotations

import numpy as np

__all__ = ["colored_noise", "narrowband", "add_outer", "poisson_onsets", "blink_waveform", "emg_burst"]


def blink_waveform(n: int, width: float, sfreq: float, center: float | None = None) -> np.ndarray:
    """A blink as the generator draws it: a Gaussian of ``width`` s (sd), peak 1, centred at ``center`` s
    (by default 4 sd, so the blink starts from rest).

    Examples
    --------
    >>> w = blink_waveform(100, 0.05, 250.0)
    >>> int(w.argmax()), float(w.max())
    (50, 1.0)
    """
    t = np.arange(n) / sfreq - (4 * width if center is None else center)
    return np.exp(-0.5 * (t / width) ** 2)


def emg_burst(rng, n: int, sfreq: float, *, fmin: float = 20.0, exponent: float = 0.0) -> np.ndarray:
    """A muscle burst as the generator draws it: white (``exponent`` 0) noise above ``fmin`` Hz under a Hann
    envelope, unit variance before the envelope."""
    return colored_noise(rng, (n,), sfreq, exponent=exponent, fmin=fmin) * np.hanning(n)


def colored_noise(rng, shape, sfreq, exponent=1.0, fmin=0.5, dtype=np.float64):
    """Gaussian noise with power ~ 1/f**exponent above ``fmin`` Hz, unit variance, in ``dtype``."""
    n = shape[-1]
    spectrum = np.fft.rfft(rng.standard_normal(shape, dtype=dtype), axis=-1)
    freqs = np.fft.rfftfreq(n, 1.0 / sfreq)
    spectrum *= np.where(freqs >= fmin, np.maximum(freqs, fmin) ** (-exponent / 2), 0.0).astype(dtype)
    out = np.fft.irfft(spectrum, n=n, axis=-1)
    del spectrum
    out /= out.std(axis=-1, keepdims=True)
    return out


def add_outer(out: np.ndarray, weights: np.ndarray, signal: np.ndarray) -> None:
    """``out += np.outer(weights, signal)`` row by row, without a (channels, times) temporary."""
    for row, w in zip(out, weights):
        row += w * signal


def narrowband(rng, n, sfreq, freq, bandwidth):
    """Unit-variance noise with a Gaussian spectral peak at ``freq`` Hz."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sfreq)
    out = np.fft.irfft(spectrum * np.exp(-0.5 * ((freqs - freq) / bandwidth) ** 2), n=n)
    return out / out.std()


def poisson_onsets(rng, expected, t_max):
    """Sorted onsets (s) of a Poisson process with ``expected`` events on [0, t_max]."""
    return np.sort(rng.uniform(0.0, max(t_max, 0.0), size=rng.poisson(max(expected, 0.0))))
