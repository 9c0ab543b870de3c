"""A pipeline step that kills its own process the first time it is fitted: a worker lost
mid-unit, for the benchmark's tests. Importable by worker processes (tests/ is on their path)."""
from __future__ import annotations

import os
import signal
from pathlib import Path

from sklearn.base import BaseEstimator, TransformerMixin


class DieOnce(TransformerMixin, BaseEstimator):
    """Passes windows through; the first fit anywhere (``marker`` not yet written) SIGKILLs its process."""

    def __init__(self, marker: str = ""):
        self.marker = marker

    def fit(self, X, y=None):
        marker = Path(self.marker)
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return self

    def transform(self, X):
        return X
