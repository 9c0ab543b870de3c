"""SSVEP decoders on windows: CCA, FBCCA and TRCA.

MOABB has CCA and TRCA too, but they only accept ``mne.Epochs`` (so they
cannot score windows streamed pseudo-online) and MOABB's TRCA loops over
every pair of trials. These take arrays or Epochs and are vectorised.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import eigh
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ..errors import ConfigError
from .filterbank import bandpass
from .signal import as_signal, stimulus_frequencies

__all__ = ["CCA", "FBCCA", "TRCA"]


def _fbcca_bands(freqs, sfreq: float, n_bands: int) -> list:
    """Chen et al. (2015) sub-bands: lower edges at multiples of the lowest stimulus frequency."""
    lowest = min(freqs)
    top = min(90.0, 0.45 * sfreq)
    return [(max(1.0, m * lowest - 2.0), top) for m in range(1, n_bands + 1) if m * lowest - 2.0 < top]


def _fb_weights(n_bands: int) -> np.ndarray:
    return np.arange(1, n_bands + 1) ** -1.25 + 0.25


def _references(freqs, n_times: int, sfreq: float, n_harmonics: int) -> np.ndarray:
    """Orthonormal bases of the sine/cosine references, shape (n_freqs, n_times, 2 * n_harmonics)."""
    t = np.arange(n_times) / sfreq
    refs = []
    for f in freqs:
        Y = np.column_stack([fn(2 * np.pi * h * f * t) for h in range(1, n_harmonics + 1)
                             for fn in (np.sin, np.cos)])
        refs.append(np.linalg.qr(Y - Y.mean(0))[0])
    return np.stack(refs)


def _canonical_correlations(X: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """Largest canonical correlation of every window with every reference, (n, n_freqs)."""
    Xc = X - X.mean(-1, keepdims=True)
    Qx = np.linalg.qr(np.swapaxes(Xc, 1, 2))[0]  # (n, times, chans)
    cross = np.einsum("ntc,ftr->nfcr", Qx, refs)
    return np.linalg.svd(cross, compute_uv=False)[..., 0]


class _ScoreClassifier(ClassifierMixin, BaseEstimator):
    """Classifiers that predict the class with the highest ``decision_function``."""

    #: Class names are stimulation frequencies, so MOABB must pass the dataset's labels.
    reads_class_frequencies = True

    def predict(self, X):
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]

    def predict_proba(self, X):
        """A sharp softmax of the scores (correlations), for posterior averaging."""
        scores = self.decision_function(X)
        e = np.exp((scores - scores.max(1, keepdims=True)) * 20.0)
        return e / e.sum(1, keepdims=True)


class _FrequencyClassifier(_ScoreClassifier):
    """Training-free decoders that score every class by its stimulation frequency."""

    def _fit_classes(self, X, y):
        _, sfreq = as_signal(X, self.sfreq, type(self).__name__)
        self.classes_ = np.unique(y)
        mapping = stimulus_frequencies(self.classes_, self.freqs, type(self).__name__)
        missing = [c for c, f in mapping.items() if f is None]
        if missing:
            raise ConfigError(
                f"{type(self).__name__} scores stimulation frequencies and cannot learn class(es) "
                f"{missing}: map them to idle, or use 'FB-TS+LR' or 'TRCA', which learn them"
            )
        self.freqs_ = np.array([mapping[c] for c in self.classes_])
        self.sfreq_ = sfreq
        return self


class CCA(_FrequencyClassifier):
    """Canonical correlation analysis against sine/cosine references (Bin et al., 2009).

    Parameters
    ----------
    n_harmonics : int
        Harmonics in the references.
    freqs : dict | None
        ``{class: Hz}`` when class names are not frequencies.
    sfreq : float | None
        Sampling frequency in Hz; not needed with ``mne.Epochs``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(256) / 128.0
    >>> X = np.stack([np.sin(2 * np.pi * f * t)[None].repeat(2, 0) for f in (10, 15)])
    >>> CCA(sfreq=128.0).fit(X, ["10", "15"]).predict(X).tolist()
    ['10', '15']
    """

    def __init__(self, n_harmonics=3, freqs=None, sfreq=None):
        self.n_harmonics = n_harmonics
        self.freqs = freqs
        self.sfreq = sfreq

    def fit(self, X, y):
        return self._fit_classes(X, y)

    def decision_function(self, X):
        """Canonical correlation with each class's references, shape (n, n_classes)."""
        check_is_fitted(self, "freqs_")
        X, sfreq = as_signal(X, self.sfreq, "CCA")
        refs = _references(self.freqs_, X.shape[-1], sfreq, self.n_harmonics)
        return _canonical_correlations(X, refs)


class FBCCA(_FrequencyClassifier):
    """Filter-bank CCA (Chen et al., 2015): weighted squared correlations over sub-bands.

    Parameters
    ----------
    n_bands : int
        Sub-bands; band ``m`` starts at ``m`` times the lowest stimulus frequency minus 2 Hz.
    n_harmonics, freqs, sfreq
        As in :class:`CCA`.
    """

    def __init__(self, n_bands=5, n_harmonics=3, freqs=None, sfreq=None):
        self.n_bands = n_bands
        self.n_harmonics = n_harmonics
        self.freqs = freqs
        self.sfreq = sfreq

    def fit(self, X, y):
        self._fit_classes(X, y)
        self.bands_ = _fbcca_bands(self.freqs_, self.sfreq_, self.n_bands)
        return self

    def decision_function(self, X):
        check_is_fitted(self, "bands_")
        X, sfreq = as_signal(X, self.sfreq, "FBCCA")
        refs = _references(self.freqs_, X.shape[-1], sfreq, self.n_harmonics)
        weights = _fb_weights(len(self.bands_))
        return sum(w * _canonical_correlations(bandpass(X, sfreq, b), refs) ** 2
                   for w, b in zip(weights, self.bands_))


class TRCA(_ScoreClassifier):
    """Ensemble task-related component analysis with a filter bank (Nakanishi et al., 2018).

    Learns one spatial filter per class that maximises the reproducibility of
    its training trials, then scores a window by the correlation of its
    projection with each class template. It needs responses phase-locked to
    the cue (as with JFPM stimulation); with free-running stimulators, as in
    Kalunga2016, templates average out. Classes need not be frequencies; a
    rest class gets a template too, but with no reproducible response it is
    detected poorly.

    Parameters
    ----------
    n_bands : int
        FBCCA-style sub-bands (1 = broadband, no filtering).
    ensemble : bool
        Project with the filters of every class (ensemble TRCA).
    freqs, sfreq
        As in :class:`CCA`; frequencies only place the sub-bands.
    """

    def __init__(self, n_bands=3, ensemble=True, freqs=None, sfreq=None):
        self.n_bands = n_bands
        self.ensemble = ensemble
        self.freqs = freqs
        self.sfreq = sfreq

    def _banded(self, X, sfreq):
        if len(self.bands_) == 0:
            return [np.asarray(X, dtype=np.float64)]
        return [bandpass(X, sfreq, b) for b in self.bands_]

    def fit(self, X, y):
        X, sfreq = as_signal(X, self.sfreq, "TRCA")
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if np.bincount(np.searchsorted(self.classes_, y)).min() < 2:
            raise ConfigError("TRCA needs at least 2 training trials per class")
        self.bands_ = []
        if self.n_bands > 1:
            freqs = [f for f in stimulus_frequencies(self.classes_, self.freqs, "TRCA").values() if f]
            self.bands_ = _fbcca_bands(freqs, sfreq, self.n_bands)
        self.sfreq_ = sfreq
        self.filters_, self.templates_ = [], []
        for Xb in self._banded(X, sfreq):
            Xb = Xb - Xb.mean(-1, keepdims=True)
            W, T = [], []
            for cls in self.classes_:
                trials = Xb[y == cls]
                total = trials.sum(0)
                S = total @ total.T - np.einsum("nct,ndt->cd", trials, trials)
                Q = np.einsum("nct,ndt->cd", trials, trials)
                Q += 1e-9 * np.trace(Q) / len(Q) * np.eye(len(Q))
                W.append(eigh(S, Q)[1][:, -1])
                T.append(trials.mean(0))
            self.filters_.append(np.array(W))
            self.templates_.append(np.array(T))
        return self

    def decision_function(self, X):
        """Filter-bank weighted signed squared correlations, shape (n, n_classes)."""
        check_is_fitted(self, "filters_")
        X, sfreq = as_signal(X, self.sfreq, "TRCA")
        bands = self._banded(X, sfreq)
        weights = _fb_weights(len(bands))
        scores = 0.0
        for w, Xb, W, T in zip(weights, bands, self.filters_, self.templates_):
            rho = np.stack([self._correlate(Xb, W, T, k) for k in range(len(self.classes_))], axis=1)
            scores = scores + w * np.sign(rho) * rho ** 2
        return scores

    def _correlate(self, X, W, T, k):
        filt = W if self.ensemble else W[k:k + 1]
        a = np.einsum("fc,nct->nft", filt, X).reshape(len(X), -1)
        b = (filt @ T[k]).ravel()
        a = a - a.mean(1, keepdims=True)
        b = b - b.mean()
        return a @ b / (np.linalg.norm(a, axis=1) * np.linalg.norm(b) + 1e-30)
