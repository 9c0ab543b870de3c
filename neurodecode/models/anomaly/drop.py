"""``DropAnomalies``: train a classifier without the training trials an anomaly detector flags."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ...errors import ConfigError, UnknownNameError
from .classical import AuditRuleScorer, PeakToPeakScorer, PotatoScorer
from .scorer import VAEAnomalyScorer

__all__ = ["DropAnomalies", "DETECTORS", "make_detector"]

#: Anomaly detectors by name; each has ``fit(X)`` and ``anomaly_score(X)``.
DETECTORS = {"vae": VAEAnomalyScorer, "potato": PotatoScorer, "ptp": PeakToPeakScorer,
             "rules": AuditRuleScorer}


def make_detector(name: str, params: dict | None = None):
    """A fresh detector from its name in :data:`DETECTORS` and its parameters."""
    if name not in DETECTORS:
        raise UnknownNameError("anomaly detector", str(name), sorted(DETECTORS))
    cls = DETECTORS[name]
    params = dict(params or {})
    unknown = sorted(set(params) - set(cls().get_params()))
    if unknown:
        raise ConfigError(f"anomaly detector {name!r} has no parameter {', '.join(map(repr, unknown))}; "
                          f"valid parameters: {', '.join(sorted(cls().get_params()))}")
    return cls(**params)


def _has(method):
    return lambda self: hasattr(self.estimator_ if hasattr(self, "estimator_") else self.estimator, method)


class DropAnomalies(ClassifierMixin, BaseEstimator):
    """Fit ``estimator`` on the training trials that ``detector`` does not flag; predict every trial.

    The detector and its threshold are fitted in :meth:`fit`, on the
    training trials only (inside a MOABB evaluation: on each training fold).
    Test trials are never dropped, so the score stays over the same trials
    as without this step and the two can be compared pair by pair.

    Parameters
    ----------
    estimator : scikit-learn classifier | str
        A classifier, or a pipeline name of :func:`~neurodecode.models.get_pipeline`
        (``"TS+LR"``), which lets a MOABB YAML pipeline file use this class.
    detector : str
        A name of :data:`DETECTORS` (``"potato"``, ``"vae"``, ``"ptp"``, ``"rules"``).
    quantile : float
        Training trials scoring above this quantile of the training scores are dropped.
    threshold : float | None
        A fixed score threshold instead of the quantile.
    detector_params : dict | None
        Parameters of the detector (for ``"vae"``: at least ``sfreq``).

    Attributes
    ----------
    detector_ : the fitted detector
    threshold_ : float
    kept_ : ndarray of bool, shape (n_trials,)
        Which training trials the estimator was fitted on.
    estimator_ : the fitted estimator
    classes_ : ndarray

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from pyriemann.estimation import Covariances
    >>> from pyriemann.classification import MDM
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(40, 3, 100)), np.repeat([0, 1], 20)
    >>> X[0] *= 50
    >>> clf = DropAnomalies(make_pipeline(Covariances(), MDM()), quantile=0.9).fit(X, y)
    >>> int((~clf.kept_).sum()), bool(clf.kept_[0])
    (4, False)
    """

    def __init__(self, estimator=None, *, detector: str = "potato", quantile: float = 0.95,
                 threshold: float | None = None, detector_params: dict | None = None):
        self.estimator = estimator
        self.detector = detector
        self.quantile = quantile
        self.threshold = threshold
        self.detector_params = detector_params

    def fit(self, X, y):
        if self.estimator is None:
            raise ConfigError("drop_anomalies: give the estimator to train on the kept trials")
        if not 0 < self.quantile <= 1:
            raise ConfigError(f"drop_anomalies: quantile must lie in (0, 1], got {self.quantile!r}")
        X, y = np.asarray(X), np.asarray(y)
        self.detector_ = make_detector(self.detector, self.detector_params).fit(X)
        scores = self.detector_.anomaly_score(X)
        self.threshold_ = float(self.threshold if self.threshold is not None else np.quantile(scores, self.quantile))
        self.kept_ = scores <= self.threshold_
        if len(np.unique(y[self.kept_])) < len(np.unique(y)):
            raise ConfigError(f"drop_anomalies: the threshold {self.threshold_:g} drops every training trial "
                              "of a class; raise the quantile or the threshold")
        self.estimator_ = self._base().fit(X[self.kept_], y[self.kept_])
        self.classes_ = self.estimator_.classes_
        return self

    def _base(self):
        if isinstance(self.estimator, str):
            from ..registry import get_pipeline

            return get_pipeline(self.estimator)
        return clone(self.estimator)

    def predict(self, X):
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    @available_if(_has("predict_proba"))
    def predict_proba(self, X):
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    @available_if(_has("decision_function"))
    def decision_function(self, X):
        check_is_fitted(self, "estimator_")
        return self.estimator_.decision_function(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags
