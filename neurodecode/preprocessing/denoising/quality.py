"""EEGdenoiseNet's protocol: mixing clean EEG with an artifact at a given SNR, and the three removal scores.

Zhang et al. 2021 (J. Neural Eng. 18 056057), the EEGdenoiseNet benchmark:

- SNR (dB) = 10 log10(RMS(EEG) / RMS(artifact)), on each segment (their
  definition: 10, not 20, times the log of an amplitude ratio);
- CC, Pearson's correlation of the cleaned and the clean segment;
- RRMSE_t = RMS(cleaned - clean) / RMS(clean);
- RRMSE_f = RMS(PSD(cleaned) - PSD(clean)) / RMS(PSD(clean)), with Welch
  power spectra (here 1-s Hann segments, half overlapping: scipy's defaults
  with ``nperseg = sfreq``).

Every function takes ``(..., n_times)`` arrays and scores the last axis.
"""
from __future__ import annotations

import numpy as np

__all__ = ["rms", "snr_db", "mix_at_snr", "cc", "rrmse_temporal", "rrmse_spectral", "scores"]


def rms(x: np.ndarray) -> np.ndarray:
    """Root mean square over the last axis."""
    return np.sqrt(np.mean(np.square(x), axis=-1))


def snr_db(clean: np.ndarray, artifact: np.ndarray) -> np.ndarray:
    """EEGdenoiseNet's SNR (dB) of ``clean + artifact``: 10 log10(RMS(clean) / RMS(artifact)).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.sin(np.linspace(0, 20, 512)); a = np.cos(np.linspace(0, 3, 512))
    >>> y = mix_at_snr(x, a, -7.0)
    >>> float(np.round(snr_db(x, y - x), 12))
    -7.0
    """
    return 10.0 * np.log10(rms(clean) / rms(artifact))


def mix_at_snr(clean: np.ndarray, artifact: np.ndarray, snr: float | np.ndarray) -> np.ndarray:
    """``clean + lambda * artifact``, with lambda chosen so that the mixture's SNR is ``snr`` dB."""
    snr = np.asarray(snr, dtype=float)
    lam = rms(clean) / (rms(artifact) * 10.0 ** (snr / 10.0))
    return clean + lam[..., None] * artifact


def cc(cleaned: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """Pearson correlation per segment."""
    a = cleaned - cleaned.mean(axis=-1, keepdims=True)
    b = clean - clean.mean(axis=-1, keepdims=True)
    return np.sum(a * b, axis=-1) / np.sqrt(np.sum(a * a, axis=-1) * np.sum(b * b, axis=-1))


def rrmse_temporal(cleaned: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """RMS(cleaned - clean) / RMS(clean)."""
    return rms(cleaned - clean) / rms(clean)


def rrmse_spectral(cleaned: np.ndarray, clean: np.ndarray, sfreq: float) -> np.ndarray:
    """RMS of the Welch-PSD difference over RMS of the clean PSD."""
    from scipy.signal import welch

    nperseg = min(int(round(sfreq)), cleaned.shape[-1])
    _, p_hat = welch(cleaned, fs=sfreq, nperseg=nperseg, axis=-1)
    _, p = welch(clean, fs=sfreq, nperseg=nperseg, axis=-1)
    return rms(p_hat - p) / rms(p)


def scores(cleaned: np.ndarray, clean: np.ndarray, sfreq: float) -> dict[str, np.ndarray]:
    """``{"cc", "rrmse_t", "rrmse_f"}`` per segment."""
    return {"cc": cc(cleaned, clean), "rrmse_t": rrmse_temporal(cleaned, clean),
            "rrmse_f": rrmse_spectral(cleaned, clean, sfreq)}
