"""The scikit-learn contract on the input each estimator is made for (3-D windows, covariance
matrices, idle-labelled windows): clone, pickle round trip, idempotent fit, and a predict that
leaves the estimator's ``__dict__`` unchanged. scikit-learn's own checks feed 2-D tables, so
these are the ones that exercise the real code paths."""
from __future__ import annotations

import pickle
import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from neurodecode.models import CCA, FBCCA, TRCA, DeepClassifier, FilterBankCSP, WindowFilterBank
from neurodecode.models.anomaly import AuditRuleScorer, DropAnomalies, PeakToPeakScorer, PotatoScorer, VAEAnomalyScorer
from neurodecode.models.decision import DecisionSmoother, IdleThreshold
from neurodecode.models.riemann import Covariances, TangentSpace

#: every test here trains a model, runs a benchmark or reads real recordings
pytestmark = pytest.mark.slow

SFREQ = 128.0


def _windows(labels, random_state=0):
    """6-channel 2 s windows: each class a sine at its label's frequency (Hz) with its own spatial gain."""
    rng = np.random.default_rng(random_state)
    t = np.arange(256) / SFREQ
    gains = {c: rng.normal(size=(6, 1)) for c in sorted(set(labels))}
    X = np.stack([rng.normal(size=(6, 256)) + (0 if c == "idle" else 2 * gains[c] * np.sin(2 * np.pi * float(c) * t))
                  for c in labels])
    return X.astype(np.float64), np.asarray(labels)


def _ts_lr():
    return make_pipeline(Covariances("oas"), TangentSpace(), LogisticRegression(max_iter=500))


#: (estimator, input kind, the methods whose output is compared)
CASES = {
    "Covariances": (Covariances("oas"), "windows", ["transform"]),
    "TangentSpace": (TangentSpace(), "covariances", ["transform"]),
    "WindowFilterBank": (WindowFilterBank(bands=[[8, 12], [12, 16]], sfreq=SFREQ), "windows", ["transform"]),
    "FilterBankCSP": (FilterBankCSP(), "bands", ["transform"]),
    "CCA": (CCA(sfreq=SFREQ), "windows", ["predict", "predict_proba"]),
    "FBCCA": (FBCCA(sfreq=SFREQ), "windows", ["predict", "predict_proba"]),
    "TRCA": (TRCA(sfreq=SFREQ), "windows", ["predict", "decision_function"]),
    "DeepClassifier": (DeepClassifier("ShallowConvNet", max_epochs=2, valid_size=0, sfreq=SFREQ), "windows",
                       ["predict", "predict_proba"]),
    "IdleThreshold": (IdleThreshold(_ts_lr()), "idle", ["predict"]),
    "DecisionSmoother": (DecisionSmoother(_ts_lr()), "windows", ["predict"]),
    "VAEAnomalyScorer": (VAEAnomalyScorer(sfreq=SFREQ, epochs=2), "windows", ["score_samples"]),
    "PotatoScorer": (PotatoScorer(), "windows", ["anomaly_score"]),
    "PeakToPeakScorer": (PeakToPeakScorer(), "windows", ["anomaly_score"]),
    "AuditRuleScorer": (AuditRuleScorer(), "windows", ["anomaly_score"]),
    "DropAnomalies": (DropAnomalies(_ts_lr()), "windows", ["predict"]),
}


def _data(kind):
    labels = np.tile(["10", "12", "idle"] if kind == "idle" else ["10", "12"], 20)
    X, y = _windows(labels)
    if kind == "covariances":
        X = Covariances("oas").fit_transform(X)
    if kind == "bands":  # what WindowFilterBank gives: (n_windows, n_bands, n_channels, n_times)
        X = WindowFilterBank(bands=[[8, 12], [12, 16]], sfreq=SFREQ).fit_transform(X)
    train = np.arange(len(y)) % 4 < 2  # every class on both sides
    return X[train], y[train], X[~train]


def _outputs(est, X) -> list[np.ndarray]:
    return [np.asarray(getattr(est, m)(X)) for m in CASES[type(est).__name__][2]]


def _state(est) -> str:
    """A hash of what pickling keeps: ``__getstate__`` where the estimator defines it, else ``__dict__``."""
    return joblib.hash(est.__getstate__() if hasattr(est, "__getstate__") else vars(est))


def _same(a: list, b: list) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("name", list(CASES))
def test_contract_on_the_input_it_is_made_for(name):
    estimator, kind, _ = CASES[name]
    X, y, test = _data(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # clone: the same parameters, nothing learned
        fresh = clone(estimator)
        assert fresh.get_params().keys() == estimator.get_params().keys()
        assert not [k for k in vars(fresh) if k.endswith("_") and not k.startswith("_")]
        fitted = clone(estimator).fit(X, y)
        # predict leaves the fitted estimator as it was (its pickled state: a network's weights)
        state = _state(fitted)
        out = _outputs(fitted, test)
        assert _state(fitted) == state
        assert out and all(len(o) == len(test) for o in out)
        # a pickle round trip predicts the same, bit for bit
        assert _same(_outputs(pickle.loads(pickle.dumps(fitted)), test), out)
        # fitting twice gives what fitting once gives
        assert _same(_outputs(fitted.fit(X, y), test), out)
