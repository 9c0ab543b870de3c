"""pyRiemann's covariance and tangent-space steps, fast enough to score one window at a time.

Online decoding scores one short window per call. For a 64-channel, 1 s
window, pyRiemann 0.12 spends most of a call outside the mathematics:
``Covariances("oas")`` fits scikit-learn's ``OAS`` estimator once per window
(input validation and a precision matrix it never uses), and
``TangentSpace.transform`` recomputes the reference's inverse square root (an
eigendecomposition) on every call. These subclasses compute the same
quantities, vectorised over windows, and fall back to pyRiemann for every
other setting. Outputs equal pyRiemann's to rounding (tested).
"""
from __future__ import annotations

import numpy as np
from pyriemann import estimation, tangentspace
from pyriemann.geometry.base import invsqrtm
from pyriemann.geometry.tangentspace import upper

__all__ = ["Covariances", "TangentSpace", "oas_covariances"]


def oas_covariances(X: np.ndarray) -> np.ndarray:
    """Oracle-approximating shrinkage covariances of each window, as scikit-learn's ``oas``.

    Parameters
    ----------
    X : ndarray, shape (n_windows, n_channels, n_times)
        Real signals.

    Returns
    -------
    covs : ndarray, shape (n_windows, n_channels, n_channels)

    Notes
    -----
    scikit-learn's formulation (Chen et al. 2010, eq. 23 without the 2/p
    factor): with S the empirical covariance, p channels and n samples,
    ``alpha = mean(S**2)``, ``mu = trace(S) / p`` and shrinkage
    ``min((alpha + mu**2) / ((n + 1) * (alpha - mu**2 / p)), 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.covariance import oas
    >>> x = np.random.default_rng(0).normal(size=(1, 4, 100))
    >>> bool(np.allclose(oas_covariances(x)[0], oas(x[0].T)[0], rtol=1e-12))
    True
    """
    n_chans, n_times = X.shape[-2:]
    centred = X - X.mean(axis=-1, keepdims=True)
    emp = centred @ centred.swapaxes(-1, -2) / n_times
    alpha = np.mean(emp ** 2, axis=(-2, -1))
    mu = np.trace(emp, axis1=-2, axis2=-1) / n_chans
    den = (n_times + 1) * (alpha - mu ** 2 / n_chans)
    safe = np.where(den == 0, 1.0, den)
    shrinkage = np.where(den == 0, 1.0, np.minimum((alpha + mu ** 2) / safe, 1.0))
    out = (1.0 - shrinkage)[:, None, None] * emp
    diag = np.arange(n_chans)
    out[:, diag, diag] += (shrinkage * mu)[:, None]
    return out


class Covariances(estimation.Covariances):
    """:class:`pyriemann.estimation.Covariances`, with ``"oas"`` on real arrays vectorised.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(3, 4, 100))
    >>> Covariances("oas").transform(x).shape
    (3, 4, 4)
    """

    def transform(self, X):
        if self.estimator == "oas" and not self.kwds and isinstance(X, np.ndarray) and np.isrealobj(X):
            return oas_covariances(X)
        return super().transform(X)


class TangentSpace(tangentspace.TangentSpace):
    """:class:`pyriemann.tangentspace.TangentSpace` that keeps its reference's inverse square root.

    With ``metric="riemann"`` and no ``tsupdate``, ``transform`` maps each
    matrix to ``upper(logm(R^-1/2 C R^-1/2))`` with one eigendecomposition
    per matrix; ``R^-1/2`` and the index and weights of :func:`upper` are
    computed once, at fit.

    Attributes
    ----------
    reference_invsqrt_ : ndarray, shape (n_channels, n_channels)
        Inverse square root of ``reference_``.
    upper_index_ : tuple of ndarray
        Row and column of each tangent-vector entry.
    upper_weights_ : ndarray, shape (n_ts,)
        1 on the diagonal, sqrt(2) off it.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(5, 3, 50))
    >>> TangentSpace().fit_transform(Covariances("oas").transform(x)).shape
    (5, 6)
    """

    def fit(self, X, y=None, sample_weight=None):
        super().fit(X, y, sample_weight)
        self.reference_invsqrt_ = invsqrtm(self.reference_)
        n = self.reference_.shape[-1]
        self.upper_index_ = np.triu_indices(n)
        self.upper_weights_ = upper(np.ones((n, n)))
        return self

    def fit_transform(self, X, y=None, sample_weight=None):
        return self.fit(X, y, sample_weight).transform(X)

    def transform(self, X):
        if self.metric != "riemann" or self.tsupdate or not np.isrealobj(X):
            return super().transform(X)
        whitened = self.reference_invsqrt_ @ X @ self.reference_invsqrt_
        values, vectors = np.linalg.eigh(whitened)
        log = (vectors * np.log(values)[..., None, :]) @ vectors.swapaxes(-1, -2)
        return log[..., self.upper_index_[0], self.upper_index_[1]] * self.upper_weights_
