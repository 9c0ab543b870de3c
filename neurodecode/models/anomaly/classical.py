"""Classical trial-level anomaly scores, fitted on training trials and scored like the VAE's.

Each scorer has ``fit(X)`` and ``anomaly_score(X)`` (higher is more
anomalous), so a detector comparison (AUROC, a quantile threshold) treats
them all alike.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ...preprocessing.audit import CLIP_FRACTION, FLAT_V, NOISY_Z, OUTLIER_MADS, robust_sd

__all__ = ["PotatoScorer", "PeakToPeakScorer", "AuditRuleScorer"]


class PotatoScorer(BaseEstimator):
    """pyRiemann's Riemannian Potato: the z-scored Riemannian distance of a trial's covariance
    (OAS-shrunk) to the robust reference mean of the training trials.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(30, 3, 100))
    >>> PotatoScorer().fit(X).anomaly_score(X).shape
    (30,)
    """

    def __init__(self, threshold: float = 3.0):
        self.threshold = threshold

    def fit(self, X, y=None):
        from pyriemann.artifact_detection import Potato
        from pyriemann.estimation import Covariances

        self.covariances_ = Covariances(estimator="oas")
        self.potato_ = Potato(threshold=self.threshold).fit(self.covariances_.transform(np.asarray(X)))
        return self

    def anomaly_score(self, X) -> np.ndarray:
        check_is_fitted(self, "potato_")
        return self.potato_.transform(self.covariances_.transform(np.asarray(X)))


class PeakToPeakScorer(BaseEstimator):
    """MNE's peak-to-peak rejection as a score: the worst channel's ratio of the trial's peak-to-peak
    amplitude to that channel's median on the training trials, above (``reject``) or below
    (``flat``) it. MNE's ``reject``/``flat`` thresholds are cut-offs on the same quantity.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(30, 3, 100))
    >>> X[0, 1] *= 10
    >>> int(np.argmax(PeakToPeakScorer().fit(X).anomaly_score(X)))
    0
    """

    def fit(self, X, y=None):
        self.median_ptp_ = np.maximum(np.median(np.ptp(np.asarray(X), axis=-1), axis=0), 1e-15)
        return self

    def anomaly_score(self, X) -> np.ndarray:
        check_is_fitted(self, "median_ptp_")
        ratio = np.maximum(np.ptp(np.asarray(X), axis=-1), 1e-15) / self.median_ptp_
        return np.maximum(ratio, 1 / ratio).max(axis=1)


class AuditRuleScorer(BaseEstimator):
    """The rules of :func:`~neurodecode.preprocessing.audit.audit_run`, applied to each trial against
    the training trials: the count of rules a trial breaks (flat, clipped or noisy channel, any
    amplitude outlier), plus its share of outlier samples as a tie-break.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(30, 3, 100)) * 1e-5
    >>> X[0, 2] = 0.0
    >>> bool(AuditRuleScorer().fit(X).anomaly_score(X)[0] >= 1)
    True
    """

    def fit(self, X, y=None):
        X = np.asarray(X)
        flat = X.transpose(1, 0, 2).reshape(X.shape[1], -1)
        self.median_ = np.median(flat, axis=1)
        self.scale_ = np.maximum(robust_sd(flat, axis=1), 1e-15)
        logsd = np.log(np.maximum(X.std(axis=-1), 1e-30))
        self.logsd_median_ = np.median(logsd, axis=0)
        self.logsd_scale_ = np.maximum(robust_sd(logsd.T, axis=1), 1e-12)
        return self

    def anomaly_score(self, X) -> np.ndarray:
        check_is_fitted(self, "scale_")
        X = np.asarray(X)
        sd = X.std(axis=-1)
        flat = (sd < FLAT_V).any(axis=1)
        lo, hi = X.min(axis=-1, keepdims=True), X.max(axis=-1, keepdims=True)
        clipped = (((X == lo) | (X == hi)).mean(axis=-1) >= CLIP_FRACTION) & (sd >= FLAT_V)
        z = (np.log(np.maximum(sd, 1e-30)) - self.logsd_median_) / self.logsd_scale_
        noisy = (np.abs(z) > NOISY_Z).any(axis=1)
        outliers = np.abs(X - self.median_[None, :, None]) > OUTLIER_MADS * self.scale_[None, :, None]
        share = outliers.mean(axis=(1, 2))
        return flat + clipped.any(axis=1) + noisy + (share > 0) + share
