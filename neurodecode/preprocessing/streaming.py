"""A causal recipe run chunk by chunk on a live stream, equal to the same recipe on the whole recording.

Each raw step of a causal :class:`~neurodecode.preprocessing.Recipe` becomes
a small processor that keeps its state from one chunk to the next:

- filters (``bandpass``, ``highpass``, ``lowpass``, ``notch``) run the very
  coefficients MNE designs for the step, with their initial conditions
  carried over (MNE's forward IIR filter is ``scipy.signal.sosfilt`` from
  rest; its causal FIR is ``lfilter``);
- ``resample`` runs :class:`~neurodecode.preprocessing.filters.CausalResampler`,
  which is already chunk by chunk;
- ``exp_moving_standardize`` runs braindecode's ratio of first-order filters
  with their state;
- a step with its own ``streaming_stage`` (``denoise``) runs that;
- every other step (pick, montage, rereference, harmonise, scale...) must act
  on each sample alone: its channel map is measured once by running the step
  on probe data, checked to be linear, and applied as a matrix (as row
  indices when it only selects channels).

Only data channels go through; event (stim) channels are dropped, since the
decoder reads events from the marker stream.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..private_api import unlocked
from .recipe import Recipe

__all__ = ["StreamingRecipe"]


class StreamingRecipe:
    """Apply a causal recipe to consecutive chunks of a stream.

    Parameters
    ----------
    recipe : Recipe | dict | list | str
        Raw steps that use no future sample (see :meth:`Recipe.causal`).
    info : mne.Info
        The incoming stream's channels (names, types, positions) and ``sfreq`` (Hz).

    Attributes
    ----------
    ch_names : list of str
        The data channels out, in order.
    sfreq : float
        Output rate (Hz).

    Examples
    --------
    >>> import mne, numpy as np
    >>> info = mne.create_info(["C3", "C4", "STI"], 250.0, ["eeg", "eeg", "stim"])
    >>> online = StreamingRecipe([{"bandpass": {"l_freq": 8, "h_freq": 30, "causal": True}},
    ...                           {"resample": {"sfreq": 125, "causal": True}}], info)
    >>> online.ch_names, online.sfreq
    (['C3', 'C4'], 125.0)
    >>> x = np.random.default_rng(0).normal(size=(3, 1000)) * 1e-5
    >>> whole = online.process(x)
    >>> again = StreamingRecipe(online.recipe, info)
    >>> parts = np.concatenate([again.process(x[:, :333]), again.process(x[:, 333:])], axis=1)
    >>> np.allclose(whole, parts, rtol=1e-12, atol=0)
    True
    """

    def __init__(self, recipe, info):
        self.recipe = Recipe.coerce(recipe)
        if self.recipe.window_steps:
            raise ConfigError(f"window steps ({', '.join(s.name for s in self.recipe.window_steps)}) "
                              "look at many windows at once, which a live stream cannot")
        not_causal = [s.name for s in self.recipe.raw_steps if not s.is_causal]
        if not_causal:
            raise ConfigError(f"recipe step(s) {not_causal} look ahead in time; a live stream needs "
                              "their causal form (Recipe.causal())")
        self._stages = []
        info = info.copy()
        for step in self.recipe.raw_steps:
            own = step.streaming_stage(info)
            stage, info = own if own is not None else _TEMPORAL.get(step.name, _linear)(step, info)
            self._stages.append(stage)
        self.info = info
        self._data = _data_rows(info)
        self.ch_names = [info.ch_names[i] for i in self._data]
        self.sfreq = float(info["sfreq"])
        self.n_in = 0
        self.n_out = 0

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Filter the next ``(n_channels_in, n)`` samples (V); return every output sample now complete."""
        x = np.asarray(chunk, dtype=np.float64)
        self.n_in += x.shape[1]
        for stage in self._stages:
            x = stage(x)
        self.n_out += x.shape[1]
        return x[self._data]

    def last_input(self, out_index: np.ndarray) -> np.ndarray:
        """Index of the newest input sample that output samples ``out_index`` depend on."""
        out_index = np.asarray(out_index, dtype=np.int64)
        for stage in self._stages:
            if isinstance(stage, _Resampler):
                return stage.resampler.last_input(out_index)
        return out_index


# -- instantaneous steps ------------------------------------------------------------
class _Matrix:
    """A per-sample channel map: row selection when it only selects, else a matrix product."""

    def __init__(self, A: np.ndarray):
        ones = A == 1.0
        if np.all((A == 0) | ones) and np.all(ones.sum(axis=1) == 1):
            self.rows, self.A = ones.argmax(axis=1), None  # exact: no arithmetic at all
        else:
            self.rows, self.A = None, A

    def __call__(self, x):
        return x[self.rows] if self.A is None else self.A @ x


def _linear(step, info):
    """Measure a step's channel map on probe data, and check it is one."""
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
    return _Matrix(A), out.info


# -- steps with memory ---------------------------------------------------------------
class _Rows:
    """Run a stateful filter on the data rows; other rows pass unchanged."""

    def __init__(self, rows: np.ndarray, run):
        self.rows, self.run = rows, run

    def __call__(self, x):
        if x.shape[1] == 0:  # e.g. a chunk too short for the resampler to complete a sample
            return x
        x = x.copy()
        x[self.rows] = self.run(x[self.rows])
        return x


class _SOS:
    def __init__(self, sos: np.ndarray, n_channels: int):
        self.sos = sos
        self.zi = np.zeros((sos.shape[0], n_channels, 2))  # MNE's forward filter starts from rest

    def __call__(self, x):
        from scipy.signal import sosfilt

        y, self.zi = sosfilt(self.sos, x, axis=-1, zi=self.zi)
        return y


class _FIR:
    def __init__(self, h: np.ndarray, n_channels: int):
        self.h = h
        self.zi = np.zeros((n_channels, len(h) - 1))

    def __call__(self, x):
        from scipy.signal import lfilter

        y, self.zi = lfilter(self.h, 1.0, x, axis=-1, zi=self.zi)
        return y


def _data_rows(info) -> np.ndarray:
    from .base import data_channels

    return data_channels(info)


def _iir(info, l_freq, h_freq, order: int) -> np.ndarray:
    from mne.filter import create_filter

    params = create_filter(None, info["sfreq"], l_freq, h_freq, method="iir", phase="forward",
                           iir_params=dict(order=int(order), ftype="butter", output="sos"), verbose=False)
    return params["sos"]


def _band(step, info):
    from .filters import _check_cutoffs

    l_freq, h_freq = step._band()
    rows = _data_rows(info)
    probe = _probe_raw(info)
    _check_cutoffs(step.name, probe, l_freq, h_freq)
    if step.method == "iir":
        return _Rows(rows, _SOS(_iir(info, l_freq, h_freq, step.order), len(rows))), info
    from mne.filter import create_filter

    h = create_filter(None, info["sfreq"], l_freq, h_freq, phase="minimum", fir_design="firwin", verbose=False)
    return _Rows(rows, _FIR(h, len(rows))), info


def _notch(step, info):
    rows = _data_rows(info)
    freqs = np.atleast_1d(np.asarray(step.freqs, dtype=float))
    filters = [_SOS(_iir(info, f + step.width / 2, f - step.width / 2, 2), len(rows)) for f in freqs]

    def run(x):
        for f in filters:
            x = f(x)
        return x

    return _Rows(rows, run), info


class _Resampler:
    def __init__(self, rows, sfreq_in, sfreq_out):
        from .filters import CausalResampler

        self.rows = rows
        self.resampler = CausalResampler(sfreq_in, sfreq_out, len(rows))

    def __call__(self, x):
        return self.resampler.process(x[self.rows])


def _resample(step, info):
    if info["sfreq"] == step.sfreq:
        return (lambda x: x), info
    import mne

    rows = _data_rows(info)
    out = mne.pick_info(info, rows)
    with unlocked(out):
        out["sfreq"] = float(step.sfreq)
        out["lowpass"] = min(out["lowpass"], step.sfreq / 2)
    return _Resampler(rows, info["sfreq"], step.sfreq), out


class _EMS:
    """braindecode's exponential moving standardisation with its filter states carried over."""

    def __init__(self, step, n_channels: int):
        self.scale, self.eps, self.a = step.scale, step.eps, 1.0 - step.factor_new
        self.zn = np.zeros((n_channels, 1))
        self.zsq = np.zeros((n_channels, 1))
        self.zd = np.zeros(1)

    def __call__(self, x):
        from scipy.signal import lfilter

        x = x * self.scale
        den = [1.0, -self.a]
        d, self.zd = lfilter([1.0], den, np.ones(x.shape[1]), zi=self.zd)
        n, self.zn = lfilter([1.0], den, x, axis=1, zi=self.zn)
        demeaned = x - n / d
        sq, self.zsq = lfilter([1.0], den, demeaned * demeaned, axis=1, zi=self.zsq)
        return demeaned / np.maximum(self.eps, np.sqrt(sq / d))


def _ems(step, info):
    rows = _data_rows(info)
    return _Rows(rows, _EMS(step, len(rows))), info


def _probe_raw(info):
    import mne

    return mne.io.RawArray(np.zeros((len(info.ch_names), 1)), info.copy(), verbose=False)


_TEMPORAL = {"bandpass": _band, "highpass": _band, "lowpass": _band, "notch": _notch, "resample": _resample,
             "exp_moving_standardize": _ems}
