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


def bandpass(X: np.ndarray, sfreq: float, band, order: int = 4, ftype: str = "butter",
             ripple: float = 1.0) -> np.ndarray:
    """Zero-phase IIR band-pass of ``X`` along its last axis (Butterworth, or Chebyshev type I
    with ``ripple`` dB in the pass band).

    Bit-identical to ``mne.filter.filter_data(method="iir")``; the design is
    cached, so scoring windows one at a time (online) stays fast. Each window
    is filtered on its own samples only, so no sample after its end is used.
    """
    sos, padlen = _design(float(sfreq), float(band[0]), float(min(band[1], 0.45 * sfreq)), int(order), ftype,
                          float(ripple))
    X = np.asarray(X, dtype=np.float64)
    return scipy.signal.sosfiltfilt(sos, X, axis=-1, padlen=min(padlen, X.shape[-1] - 1))


#: IIR families a filter bank may use (MNE's ``ftype`` names).
FTYPES = ("butter", "cheby1")


@functools.lru_cache(maxsize=256)
def _design(sfreq: float, low: float, high: float, order: int, ftype: str = "butter", ripple: float = 1.0):
    iir = dict(order=order, ftype=ftype, output="sos", **({"rp": ripple} if ftype == "cheby1" else {}))
    params = mne.filter.create_filter(None, sfreq, low, high, method="iir", verbose=False, iir_params=iir)
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
        Order of the IIR prototype (a band-pass doubles it, zero-phase filtering doubles it again):
        ``order=1`` is MATLAB's band-pass ``FilterOrder`` 2.
    ftype : "butter" | "cheby1"
        Butterworth, or Chebyshev type I with ``ripple`` dB in the pass band
        (the SSVEP DNN's sub-bands: ``bands=[[8, 90], [16, 90], [24, 90]],
        ftype="cheby1", order=1, ripple=1``).
    ripple : float
        Pass-band ripple in dB, for ``cheby1``.
    layout : "moabb" | "channels"
        Output ``(n, chans, times, bands)`` (MOABB's filter-bank layout), or
        ``(n, chans x bands, times)`` channel-major (``C1|b1, C1|b2, ...``),
        as the ``filter_bank`` recipe step lays out channels and networks
        such as :class:`~neurodecode.models.ssvep_dnn.SSVEPDNN` take them.

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
    >>> fb.set_params(layout="channels").fit_transform(np.zeros((3, 2, 256))).shape
    (3, 4, 256)
    """

    def __init__(self, bands="ssvep", sfreq=None, bandwidth=2.0, n_harmonics=2, order=4, ftype="butter",
                 ripple=1.0, layout="moabb"):
        self.bands = bands
        self.sfreq = sfreq
        self.bandwidth = bandwidth
        self.n_harmonics = n_harmonics
        self.order = order
        self.ftype = ftype
        self.ripple = ripple
        self.layout = layout

    @property
    def reads_class_frequencies(self) -> bool:
        """The ``"ssvep"`` bank is placed around the frequencies named by the classes."""
        return self.bands == "ssvep"

    def fit(self, X, y=None):
        _, sfreq = as_signal(X, self.sfreq, "WindowFilterBank")
        if self.ftype not in FTYPES:
            raise ConfigError(f"WindowFilterBank ftype must be one of {FTYPES}, got {self.ftype!r}")
        if self.layout not in ("moabb", "channels"):
            raise ConfigError(f"WindowFilterBank layout must be 'moabb' or 'channels', got {self.layout!r}")
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
        banded = [bandpass(X, sfreq, b, self.order, self.ftype, self.ripple) for b in self.bands_]
        if self.layout == "channels":  # C1|b1, C1|b2, ..., C2|b1, ...
            return np.stack(banded, axis=2).reshape(len(X), -1, X.shape[-1])
        return np.stack(banded, axis=-1)


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
