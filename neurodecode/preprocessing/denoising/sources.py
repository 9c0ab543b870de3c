"""Training and test material for the shipped denoisers: EEGdenoiseNet's EOG pairs, clean stretches of real
recordings, and the synthetic generator's blinks and muscle bursts.

The EEGdenoiseNet folder (``clean.npy`` and ``contaminated.npy``, shape
``(10 levels, 51 segments, 512)`` at 256 Hz) holds 51 clean segments, each
also with real EOG added at 10 SNR levels; ``contaminated - clean`` is that
EOG. :data:`SPLIT` fixes which segments train, which select the model and
which are kept for the test table only.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import ConfigError

__all__ = ["SPLIT", "SFREQ", "N_TIMES", "eegdenoisenet_eog", "synthetic_eog", "synthetic_emg"]

SFREQ = 256.0
N_TIMES = 512
#: segment indices of EEGdenoiseNet's 51 pairs: a fixed permutation (seed 2021) cut 30 / 10 / 11
_ORDER = np.random.default_rng(2021).permutation(51)
SPLIT = {"train": np.sort(_ORDER[:30]), "validation": np.sort(_ORDER[30:40]), "test": np.sort(_ORDER[40:])}


def eegdenoisenet_eog(folder: str | Path, part: str | None = None):
    """``(clean, eog)`` unit-variance segments (n, 512) of one part of :data:`SPLIT` (or all), plus the
    ``(levels, n, 512)`` clean and contaminated arrays and the levels (dB) as the files hold them.

    Returns
    -------
    dict
        ``clean`` and ``eog`` (one per segment, SD 1), ``clean_levels``,
        ``contaminated_levels`` and ``snr_db``.
    """
    folder = Path(folder)
    files = [folder / f for f in ("clean.npy", "contaminated.npy", "snr_db.npy")]
    if not all(f.is_file() for f in files):
        raise ConfigError(f"{folder}: EEGdenoiseNet's EOG pairs not found; the folder needs clean.npy, "
                          "contaminated.npy and snr_db.npy")
    clean, cont, snr = (np.load(f) for f in files)
    idx = np.arange(clean.shape[1]) if part is None else SPLIT[part]
    clean, cont = clean[:, idx], cont[:, idx]
    eog = cont[-1] - clean[-1]  # the same EOG at every level, only scaled
    return {"clean": clean[0] / clean[0].std(axis=1, keepdims=True),
            "eog": eog / eog.std(axis=1, keepdims=True),
            "clean_levels": clean, "contaminated_levels": cont, "snr_db": snr, "index": idx}


def synthetic_eog(rng, n: int, n_times: int = N_TIMES, sfreq: float = SFREQ) -> np.ndarray:
    """``n`` unit-variance ocular segments: 1-3 of the generator's blinks, and half the time a saccade
    (a smoothed step of 30-150 ms), at random places."""
    from ...datasets.waveforms import blink_waveform

    out = np.zeros((n, n_times))
    t = np.arange(n_times) / sfreq
    for row in out:
        for _ in range(rng.integers(1, 4)):  # the generator's blink width, anywhere in the segment
            row += rng.uniform(0.5, 1.5) * blink_waveform(n_times, rng.uniform(0.05, 0.08), sfreq,
                                                          center=rng.uniform(0, t[-1]))
        if rng.random() < 0.5:
            tau = rng.uniform(0.03, 0.15)
            row += rng.uniform(-0.8, 0.8) / (1 + np.exp(-(t - rng.uniform(0, t[-1])) / (tau / 4)))
    out -= out.mean(axis=1, keepdims=True)
    return out / out.std(axis=1, keepdims=True)


def synthetic_emg(rng, n: int, n_times: int = N_TIMES, sfreq: float = SFREQ, *, vary: bool = True) -> np.ndarray:
    """``n`` unit-variance muscle segments from the generator's burst (white noise above 20 Hz under a Hann
    envelope). ``vary`` also draws the band edge (15-30 Hz), the spectral slope (1/f^-0.5 to 1/f^0.5) and
    the burst length (0.5 s to the whole segment) for training; ``vary=False`` is the generator's own."""
    from ...datasets.waveforms import emg_burst

    out = np.zeros((n, n_times))
    for row in out:
        if vary:
            length = int(rng.integers(int(0.5 * sfreq), n_times + 1))
            start = int(rng.integers(0, n_times - length + 1))
            row[start:start + length] = emg_burst(rng, length, sfreq, fmin=rng.uniform(15, 30),
                                                  exponent=rng.uniform(-0.5, 0.5))
        else:
            length = min(n_times, int(rng.uniform(0.5, 1.5) * sfreq))
            start = int(rng.integers(0, n_times - length + 1))
            row[start:start + length] = emg_burst(rng, length, sfreq)
    return out / out.std(axis=1, keepdims=True)
