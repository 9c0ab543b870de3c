"""Filter banks applied to windows inside a pipeline."""
from __future__ import annotations

import functools

import mne
import numpy as np
import scipy.signal
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..errors import ConfigError
from .signal import as_signal, stimulus_frequencies

__all__ = ["WindowFilterBank", "bandpass"]


def bandpass(X: np.ndarray, sfreq: float, band, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth band-pass of ``X`` along its last axis.

    Bit-identical to ``mne.filter.filter_data(method="iir")``; the design is
    cached, so scoring windows one at a time (online) stays fast.
    """
    sos, padlen = _design(float(sfreq), float(band[0]), float(min(band[1], 0.45 * sfreq)), int(order))
    X = np.asarray(X, dtype=np.float64)
    return scipy.signal.sosfiltfilt(sos, X, axis=-1, padlen=min(padlen, X.shape[-1] - 1))


@functools.lru_cache(maxsize=256)
def _design(sfreq: float, low: float, high: float, order: int):
    params = mne.filter.create_filter(None, sfreq, low, high, method="iir", verbose=False,
                                      iir_params=dict(order=order, ftype="butter", output="sos"))
    return params["sos"], int(params["padlen"])


class WindowFilterBank(TransformerMixin, BaseEstimator):
    """Band-pass every window in several bands, in MOABB's filter-bank layout.

    Parameters
    ----------
    bands : list of (float, float) | "ssvep"
        Pass bands in Hz, or ``"ssvep"`` for ``bandwidth``-wide bands centred on
        each stimulation frequency (read from numeric class names at fit) and
        its harmonics up to ``n_harmonics``.
    sfreq : float | None
        Sampling frequency in Hz; not needed when ``X`` is ``mne.Epochs``.
    bandwidth : float
        Width in Hz of the SSVEP bands.
    n_harmonics : int
        Harmonics covered by the SSVEP bands (1 = fundamental only).
    order : int
        Butterworth order (zero-phase, so the effective order doubles).

    Attributes
    ----------
    bands_ : list of (float, float)
        The bands used, in Hz.

    Examples
    --------
    >>> import numpy as np
    >>> fb = WindowFilterBank(bands=[(8, 12), (12, 16)], sfreq=128.0)
    >>> fb.fit_transform(np.random.default_rng(0).normal(size=(3, 2, 256))).shape
    (3, 2, 256, 2)
    """

    def __init__(self, bands="ssvep", sfreq=None, bandwidth=2.0, n_harmonics=2, order=4):
        self.bands = bands
        self.sfreq = sfreq
        self.bandwidth = bandwidth
        self.n_harmonics = n_harmonics
        self.order = order

    @property
    def reads_class_frequencies(self) -> bool:
        """The ``"ssvep"`` bank is placed around the frequencies named by the classes."""
        return self.bands == "ssvep"

    def fit(self, X, y=None):
        _, sfreq = as_signal(X, self.sfreq, "WindowFilterBank")
        if isinstance(self.bands, str):
            if self.bands != "ssvep":
                raise ConfigError(f"WindowFilterBank bands must be a list of (low, high) Hz or 'ssvep', "
                                  f"got {self.bands!r}")
            if y is None:
                raise ConfigError("WindowFilterBank(bands='ssvep') reads stimulation frequencies from y; "
                                  "fit it with labels")
            freqs = [f for f in stimulus_frequencies(np.unique(y), None, "WindowFilterBank").values() if f]
            half = self.bandwidth / 2
            self.bands_ = [(h * f - half, h * f + half) for h in range(1, self.n_harmonics + 1)
                           for f in sorted(freqs) if h * f + half < sfreq / 2]
        else:
            self.bands_ = [tuple(map(float, b)) for b in self.bands]
            bad = [b for b in self.bands_ if not 0 < b[0] < b[1]]
            if bad:
                raise ConfigError(f"WindowFilterBank bands must satisfy 0 < low < high Hz, got {bad}")
        return self

    def transform(self, X):
        check_is_fitted(self, "bands_")
        X, sfreq = as_signal(X, self.sfreq, "WindowFilterBank")
        return np.stack([bandpass(X, sfreq, b, self.order) for b in self.bands_], axis=-1)


class FilterBankCSP(TransformerMixin, BaseEstimator):
    """CSP log-variance features computed in every band of a filter-bank input (FBCSP).

    Composes MOABB's per-band ``FilterBank`` with pyRiemann's covariances and CSP.

    Parameters
    ----------
    nfilter : int
        CSP filters per band.
    estimator : str
        pyRiemann covariance estimator.
    """

    def __init__(self, nfilter=4, estimator="oas"):
        self.nfilter = nfilter
        self.estimator = estimator

    def fit(self, X, y):
        from pyriemann.estimation import Covariances
        from pyriemann.spatialfilters import CSP
        from sklearn.pipeline import make_pipeline

        from ..moabb_api import PerBandFilterBank as PerBand

        self.bank_ = PerBand(make_pipeline(Covariances(self.estimator), CSP(nfilter=self.nfilter)))
        self.bank_.fit(X, y)
        return self

    def transform(self, X):
        check_is_fitted(self, "bank_")
        return self.bank_.transform(X)
