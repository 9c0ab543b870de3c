"""Chunk processors for live streams: the pieces a step's ``streaming_stage`` is built from.

A stage maps each ``(n_channels, n)`` chunk to the step's output so far and
keeps its state (filter conditions, resampler phase) from one chunk to the
next, so that chunk by chunk equals the step on the whole recording. Each
:class:`~neurodecode.preprocessing.base.RawStep` builds its own stage; a step
that acts on each sample alone gets :func:`linear_stage`, its channel map
measured on probe data.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError

__all__ = ["Matrix", "Rows", "SOS", "FIR", "Resampler", "linear_stage", "iir_sos", "probe_raw"]


class Matrix:
    """A per-sample channel map: row selection when it only selects, else a matrix product."""

    def __init__(self, A: np.ndarray):
        ones = A == 1.0
        if np.all((A == 0) | ones) and np.all(ones.sum(axis=1) == 1):
            self.rows, self.A = ones.argmax(axis=1), None  # exact: no arithmetic at all
        else:
            self.rows, self.A = None, A

    def __call__(self, x):
        return x[self.rows] if self.A is None else self.A @ x


def linear_stage(step, info):
    """Measure a step's channel map on probe data, check it is one, and return ``(Matrix, info_out)``."""
    import mne

    n = len(info.ch_names)
    with mne.utils.use_log_level("ERROR"):
        out = step.apply(mne.io.RawArray(np.eye(n), info.copy(), verbose=False))
    if out.info["sfreq"] != info["sfreq"] or out.n_times != n:
        raise ConfigError(f"recipe step {step.name!r} changes the time axis in a way a live stream "
                          "cannot follow")
    A = out.get_data()
    probe = np.random.default_rng(0).normal(size=(n, 7))
    with mne.utils.use_log_level("ERROR"):
        check = step.apply(mne.io.RawArray(probe, info.copy(), verbose=False)).get_data()
    if not np.allclose(check, A @ probe, rtol=1e-9, atol=1e-12):
        raise ConfigError(f"recipe step {step.name!r} does not act on each sample alone, so it cannot "
                          "run on a live stream; remove it from the recipe")
    return Matrix(A), out.info


class Rows:
    """Run a stateful filter on the given rows; other rows pass unchanged."""

    def __init__(self, rows: np.ndarray, run):
        self.rows, self.run = rows, run

    def __call__(self, x):
        if x.shape[1] == 0:  # e.g. a chunk too short for the resampler to complete a sample
            return x
        x = x.copy()
        x[self.rows] = self.run(x[self.rows])
        return x


class SOS:
    """An IIR filter in second-order sections, from rest, its state carried over (MNE's forward IIR)."""

    def __init__(self, sos: np.ndarray, n_channels: int):
        self.sos = sos
        self.zi = np.zeros((sos.shape[0], n_channels, 2))

    def __call__(self, x):
        from scipy.signal import sosfilt

        y, self.zi = sosfilt(self.sos, x, axis=-1, zi=self.zi)
        return y


class FIR:
    """A FIR filter by direct convolution, its state carried over (MNE's causal FIR applied by lfilter)."""

    def __init__(self, h: np.ndarray, n_channels: int):
        self.h = h
        self.zi = np.zeros((n_channels, len(h) - 1))

    def __call__(self, x):
        from scipy.signal import lfilter

        y, self.zi = lfilter(self.h, 1.0, x, axis=-1, zi=self.zi)
        return y


class Resampler:
    """Keep the given rows and resample them with a :class:`~neurodecode.preprocessing.filters.CausalResampler`."""

    def __init__(self, rows, resampler):
        self.rows, self.resampler = rows, resampler

    def __call__(self, x):
        return self.resampler.process(x[self.rows])

    def last_input(self, out_index: np.ndarray) -> np.ndarray:
        """Index of the newest input sample that output samples ``out_index`` depend on."""
        return self.resampler.last_input(out_index)


def iir_sos(info, l_freq, h_freq, order: int) -> np.ndarray:
    """The second-order sections MNE designs for a forward Butterworth filter (Hz)."""
    from mne.filter import create_filter

    params = create_filter(None, info["sfreq"], l_freq, h_freq, method="iir", phase="forward",
                           iir_params=dict(order=int(order), ftype="butter", output="sos"), verbose=False)
    return params["sos"]


def probe_raw(info):
    """One sample of zeros with ``info``: enough for the checks a step runs on a recording."""
    import mne

    return mne.io.RawArray(np.zeros((len(info.ch_names), 1)), info.copy(), verbose=False)
