"""A causal recipe run chunk by chunk on a live stream, equal to the same recipe on the whole recording.

Each raw step of a causal :class:`~neurodecode.preprocessing.Recipe` becomes
a small processor that keeps its state from one chunk to the next; the step
builds it (``streaming_stage``) from the pieces in
:mod:`~neurodecode.preprocessing.stages`:

- filters (``bandpass``, ``highpass``, ``lowpass``, ``notch``) run the very
  coefficients MNE designs for the step, with their initial conditions
  carried over (MNE's forward IIR filter is ``scipy.signal.sosfilt`` from
  rest; its causal FIR is ``lfilter``);
- ``resample`` runs :class:`~neurodecode.preprocessing.filters.CausalResampler`,
  which is already chunk by chunk;
- ``exp_moving_standardize`` runs braindecode's ratio of first-order filters
  with their state;
- ``denoise`` runs its causal models with their past;
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
from .base import data_channels
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
            stage, info = step.streaming_stage(info)
            self._stages.append(stage)
        self.info = info
        self._data = data_channels(info)
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
        for stage in self._stages:  # only a resampler moves samples in time
            if hasattr(stage, "last_input"):
                return stage.last_input(out_index)
        return out_index
