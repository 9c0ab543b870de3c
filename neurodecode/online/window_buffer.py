"""The processed samples a live decoder still needs, cut into windows at exact sample counts."""
from __future__ import annotations

import numpy as np

__all__ = ["WindowBuffer"]


class WindowBuffer:
    """Keeps the processed samples, input timestamps and NaN input spans that later windows need.

    Windows end at ``n_len + k * n_step`` processed samples, whatever the chunk
    sizes, so a live run decides on the windows its replay decides on. Input
    samples with a NaN are filtered as zeros (the filter states stay finite)
    and every window whose inputs reach one of them is reported as such.

    Parameters
    ----------
    recipe : StreamingRecipe
        Filters each chunk; it counts input and output samples.
    n_len, n_step : int
        Window length and step in processed samples.

    Examples
    --------
    >>> import mne
    >>> from neurodecode.preprocessing import Recipe
    >>> from neurodecode.preprocessing.streaming import StreamingRecipe
    >>> info = mne.create_info(["C3", "C4"], 100.0, "eeg")
    >>> buf = WindowBuffer(StreamingRecipe(Recipe([]), info), n_len=50, n_step=25)
    >>> buf.push(np.zeros((2, 120)), np.arange(120) / 100.0)
    >>> [(stop, last, t, w.shape) for stop, last, t, w in buf.windows()]
    [(50, 49, 0.49, (2, 50)), (75, 74, 0.74, (2, 50)), (100, 99, 0.99, (2, 50))]
    """

    def __init__(self, recipe, n_len: int, n_step: int):
        self.recipe, self.n_len, self.n_step = recipe, n_len, n_step
        self._buf = np.zeros((len(recipe.ch_names), 0), np.float32)  # processed samples from _buf_start
        self._buf_start = 0
        self.next_stop = n_len
        self._ts = np.zeros(0)  # LSL timestamps of input samples from _ts_start
        self._ts_start = 0
        self._nan_inputs: list[tuple[int, int]] = []

    def push(self, x: np.ndarray, stamps: np.ndarray) -> tuple[int, int, int] | None:
        """Filter ``(n_channels, n)`` input samples (V) stamped ``stamps``; return the first and last
        input index and the number of the samples with a NaN, if any."""
        bad = ~np.isfinite(x).all(axis=0)
        span = None
        if bad.any():
            where = self.recipe.n_in + np.flatnonzero(bad)
            span = (int(where[0]), int(where[-1]), len(where))
            self._nan_inputs.append(span[:2])
            x = np.where(bad, 0.0, x)
        self._ts = np.r_[self._ts, stamps]
        self._buf = np.concatenate([self._buf, self.recipe.process(x).astype(np.float32)], axis=1)
        return span

    def windows(self) -> list[tuple[int, int, float, np.ndarray | None]]:
        """``(stop, last_input, lsl_time, window)`` of every window now complete, oldest first:
        its end in processed samples, the index and LSL timestamp of the newest input sample it
        depends on, and its samples (None when one of its inputs was NaN). What no later window
        needs is then dropped."""
        out = []
        while self.recipe.n_out >= self.next_stop:
            stop = self.next_stop
            lo, hi = self.recipe.last_input([stop - self.n_len, stop - 1])
            seen_nan = any(a <= hi and b >= lo for a, b in self._nan_inputs)
            window = None if seen_nan else \
                self._buf[:, stop - self.n_len - self._buf_start:stop - self._buf_start]
            out.append((stop, int(hi), float(self._ts[hi - self._ts_start]), window))
            self.next_stop += self.n_step
        self._trim()
        return out

    def last_stamp(self) -> float:
        """The newest input timestamp kept, NaN before any data."""
        return float(self._ts[-1]) if len(self._ts) else np.nan

    def _trim(self) -> None:
        keep = self.next_stop - self.n_len - self._buf_start  # samples no later window needs
        if keep > 0:
            self._buf, self._buf_start = self._buf[:, keep:], self._buf_start + keep
        oldest = int(self.recipe.last_input([max(self.next_stop - self.n_len, 0)])[0]) - 1
        if oldest > self._ts_start:
            self._ts, self._ts_start = self._ts[oldest - self._ts_start:], oldest
        self._nan_inputs = [(a, b) for a, b in self._nan_inputs if b >= oldest]
