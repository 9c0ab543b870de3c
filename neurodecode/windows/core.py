"""The :class:`Windows` container returned by every windowing function."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["Windows", "METADATA_COLUMNS"]

METADATA_COLUMNS = ["subject", "session", "run", "start_sample", "stop_sample", "start_time",
                    "stop_time", "label", "trial"]


@dataclass
class Windows:
    """Windows of signal with one metadata row each.

    Attributes
    ----------
    X : ndarray, shape (n_windows, n_chans, n_times), float32
        The signal, in volts unless a recipe standardised it. Windows of a
        single cached run are a read-only view of the memory-mapped cache.
    metadata : pandas.DataFrame
        :data:`METADATA_COLUMNS`: ``start_sample``/``stop_sample`` index the
        preprocessed run (stop exclusive); times are seconds from its first
        sample; ``trial`` numbers the trials of a run (-1 for idle windows).
    ch_names : list of str
    sfreq : float
        Sampling frequency in Hz.
    bands : list of (float, float)
        The filter-bank bands when the recipe ends with ``filter_bank``.
    recipe_digest : str | None
        Digest of the recipe that produced the windows; saved models compare it.
    """

    X: np.ndarray
    metadata: pd.DataFrame
    ch_names: list
    sfreq: float
    bands: list = field(default_factory=list)
    recipe_digest: str | None = None

    def __len__(self) -> int:
        return len(self.X)

    def __repr__(self) -> str:
        labels = self.metadata["label"].value_counts().to_dict() if len(self) else {}
        return (f"Windows({len(self)} x {self.X.shape[1]} ch x {self.X.shape[2]} samples "
                f"@ {self.sfreq:g} Hz, labels={labels})")

    @property
    def y(self) -> np.ndarray:
        """The label of each window."""
        return self.metadata["label"].to_numpy()

    def filterbank(self) -> np.ndarray:
        """``X`` as ``(n_windows, n_chans, n_times, n_bands)``, MOABB's filter-bank layout (a view)."""
        if not self.bands:
            raise ValueError("these windows have no filter bank; end the recipe with filter_bank")
        n, c, t = self.X.shape
        b = len(self.bands)
        return self.X.reshape(n, c // b, b, t).transpose(0, 1, 3, 2)
