"""Online decision layers: an idle threshold and causal smoothing over consecutive windows.

Both wrap any classifier and work in ``clone``/``GridSearchCV``. They are what a
pseudo-online evaluation replays: per-window posteriors from the wrapped model,
then smoothing over the last ``k`` windows (in time order), then the decision.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.metrics import matthews_corrcoef
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from ..errors import ConfigError
from ..utils import IDLE
from .signal import fill_sfreq

__all__ = ["IdleThreshold", "DecisionSmoother", "posteriors", "online_parts", "posterior_classes",
           "with_online_layers"]

_METHODS = ("mean", "vote")


def posteriors(estimator, X) -> np.ndarray:
    """``predict_proba`` when the estimator has it, otherwise one-hot predictions."""
    if hasattr(estimator, "predict_proba"):
        return np.asarray(estimator.predict_proba(X), dtype=np.float64)
    pred = np.asarray(estimator.predict(X))
    return (pred[:, None] == np.asarray(estimator.classes_)[None, :]).astype(np.float64)


class IdleThreshold(ClassifierMixin, BaseEstimator):
    """An N-class model that answers ``idle`` ("no decision") below a confidence threshold.

    ``fit`` trains the wrapped model on the task windows only. Unless
    ``threshold`` is given, the threshold is then tuned on the training data:
    out-of-fold posteriors of task and idle windows (``StratifiedGroupKFold`` over
    ``groups``, e.g. trials, so overlapping windows of one trial never sit on
    both sides) and the value that maximises the Matthews correlation of the
    N+1-class decisions.

    Parameters
    ----------
    estimator : classifier
        Needs ``predict_proba``.
    threshold : float | None
        Fixed threshold on the highest posterior; ``None`` tunes it.
    idle_label : str
        The label of idle windows in ``y`` and of "no decision".
    cv : int
        Folds for tuning.

    Attributes
    ----------
    estimator_ : classifier
        Fitted on the task windows.
    threshold_ : float
    classes_ : ndarray
        The task classes, then ``idle_label``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(-2, 1, (40, 2)), rng.normal(2, 1, (40, 2)), rng.normal(0, .3, (40, 2))]
    >>> y = np.repeat(["a", "b", "idle"], 40)
    >>> clf = IdleThreshold(LogisticRegression()).fit(X, y)
    >>> clf.classes_.tolist(), clf.predict([[-3, -3], [0, 0]]).tolist()
    (['a', 'b', 'idle'], ['a', 'idle'])
    """

    def __init__(self, estimator, threshold: float | None = None, idle_label: str = IDLE, cv: int = 3):
        self.estimator = estimator
        self.threshold = threshold
        self.idle_label = idle_label
        self.cv = cv

    def fit(self, X, y, groups=None):
        y = np.asarray(y)
        task = y != self.idle_label
        if len(np.unique(y[task])) < 2:
            raise ConfigError("IdleThreshold needs windows of at least two task classes")
        if not hasattr(self.estimator, "predict_proba"):
            raise ConfigError(f"idle='threshold' needs a model with predict_proba; "
                              f"{type(self.estimator).__name__} has none")
        self.estimator_ = clone(self.estimator).fit(X[task], y[task])
        self.classes_ = np.append(self.estimator_.classes_, self.idle_label)
        if self.threshold is not None:
            self.threshold_ = float(self.threshold)
            return self
        if task.all():
            raise ConfigError("tuning the idle threshold needs idle windows in the training data; "
                              "give threshold= or training runs with idle periods")
        self.threshold_ = self._tune(X, y, task, groups)
        return self

    def _tune(self, X, y, task, groups) -> float:
        classes = self.estimator_.classes_
        P = np.zeros((len(y), len(classes)))
        splitter = StratifiedKFold(self.cv) if groups is None else StratifiedGroupKFold(self.cv)
        for train, test in splitter.split(np.zeros(len(y)), y, groups):
            train = train[task[train]]
            model = clone(self.estimator).fit(X[train], y[train])
            cols = np.searchsorted(classes, model.classes_)
            P[np.ix_(test, cols)] = model.predict_proba(X[test])
        best = P.max(axis=1)
        candidates = np.unique(np.r_[0.0, best])
        scores = [matthews_corrcoef(y, self._decide(P, t)) for t in candidates]
        return float(candidates[int(np.argmax(scores))])

    def _decide(self, P, threshold) -> np.ndarray:
        labels = np.asarray(self.estimator_.classes_, dtype=object)[P.argmax(axis=1)]
        labels[P.max(axis=1) < threshold] = self.idle_label
        return labels

    def decide(self, P) -> np.ndarray:
        """Labels from posteriors ``(n, n_task_classes)`` of :attr:`estimator_`."""
        return self._decide(np.asarray(P), self.threshold_)

    def predict_task_proba(self, X) -> np.ndarray:
        """Posteriors of the task classes (``estimator_.classes_``)."""
        return self.estimator_.predict_proba(X)

    def predict(self, X):
        return self.decide(self.predict_task_proba(X))


class DecisionSmoother(ClassifierMixin, BaseEstimator):
    """Causal smoothing of decisions over the last ``k`` consecutive windows.

    ``predict`` takes windows in time order (as a stream produces them); the
    decision for window ``i`` uses windows ``i-k+1 .. i`` only.

    Parameters
    ----------
    estimator : classifier
        Any classifier, possibly an :class:`IdleThreshold`.
    method : "mean" | "vote"
        ``"mean"`` averages posteriors, then decides; ``"vote"`` takes the
        most frequent per-window decision (ties go to the newest decision).
    k : int
        Windows in the smoothing buffer; ``k=1`` is no smoothing.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> s = DecisionSmoother(DummyClassifier(), method="vote", k=3)
    >>> s.smooth_labels(np.array(["a", "b", "a", "b", "b", "a"]), ["a", "b"]).tolist()
    ['a', 'b', 'a', 'b', 'b', 'b']
    """

    def __init__(self, estimator, method: str = "mean", k: int = 5):
        self.estimator = estimator
        self.method = method
        self.k = k

    def fit(self, X, y, **fit_params):
        if self.method not in _METHODS:
            raise ConfigError(f"smoothing method must be one of {_METHODS}, got {self.method!r}")
        if not isinstance(self.k, (int, np.integer)) or self.k < 1:
            raise ConfigError(f"smoothing k must be a positive number of windows, got {self.k!r}")
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        self.classes_ = self.estimator_.classes_
        return self

    def smooth_proba(self, P) -> np.ndarray:
        """Causal moving average of posteriors over the last ``k`` rows."""
        P = np.asarray(P, dtype=np.float64)
        c = np.cumsum(np.vstack([np.zeros((1, P.shape[1])), P]), axis=0)
        i = np.arange(1, len(P) + 1)
        lo = np.maximum(i - self.k, 0)
        return (c[i] - c[lo]) / (i - lo)[:, None]

    def smooth_labels(self, labels, classes) -> np.ndarray:
        """Causal majority vote over the last ``k`` labels."""
        labels = np.asarray(labels, dtype=object)
        classes = np.asarray(classes, dtype=object)
        onehot = (labels[:, None] == classes[None, :]).astype(np.float64)
        votes = self.smooth_proba(onehot) + 1e-9 * onehot  # a tie keeps the newest decision
        return classes[votes.argmax(axis=1)]

    def decide_sequence(self, P) -> np.ndarray:
        """Decisions from time-ordered posteriors of the wrapped model."""
        inner = self.estimator_
        decide = inner.decide if isinstance(inner, IdleThreshold) else \
            (lambda p: np.asarray(inner.classes_, dtype=object)[p.argmax(axis=1)])
        if self.method == "mean":
            return decide(self.smooth_proba(P))
        return self.smooth_labels(decide(np.asarray(P)), self.classes_)

    def predict(self, X):
        return self.decide_sequence(_inner_posteriors(self.estimator_, X))


def _inner_posteriors(model, X) -> np.ndarray:
    if isinstance(model, IdleThreshold):
        return model.predict_task_proba(X)
    return posteriors(model, X)


def online_parts(estimator):
    """``(per_window_posteriors, decide_sequence)`` of a fitted estimator.

    ``per_window_posteriors(X)`` scores windows independently (what runs as
    each window arrives); ``decide_sequence(P)`` turns the time-ordered
    posteriors into decisions (smoothing, idle threshold, argmax).
    """
    if isinstance(estimator, DecisionSmoother):
        inner = estimator.estimator_
        return (lambda X: _inner_posteriors(inner, X)), estimator.decide_sequence
    if isinstance(estimator, IdleThreshold):
        return estimator.predict_task_proba, estimator.decide
    classes = np.asarray(estimator.classes_, dtype=object)
    return (lambda X: posteriors(estimator, X)), (lambda P: classes[np.asarray(P).argmax(axis=1)])


def posterior_classes(estimator) -> list:
    """The classes of the per-window posteriors of :func:`online_parts`."""
    if isinstance(estimator, DecisionSmoother):
        estimator = estimator.estimator_
    if isinstance(estimator, IdleThreshold):
        estimator = estimator.estimator_
    return [str(c) for c in estimator.classes_]


def with_online_layers(pipeline, sfreq: float, *, idle: str = "class", smoothing: dict | None = None,
                       threshold_cv: int = 3):
    """A fresh copy of ``pipeline`` with ``sfreq`` filled in and the online layers added.

    ``idle="threshold"`` wraps the classifier in :class:`IdleThreshold`
    (tuned with ``threshold_cv`` folds); ``smoothing`` (``{"method", "k"}``)
    wraps the result in :class:`DecisionSmoother`, unless ``pipeline`` is one
    already, whose own smoothing is kept, outermost.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> est = with_online_layers(LogisticRegression(), 128.0, idle="threshold",
    ...                          smoothing={"method": "mean", "k": 3})
    >>> type(est).__name__, type(est.estimator).__name__
    ('DecisionSmoother', 'IdleThreshold')
    """
    est = fill_sfreq(clone(pipeline), sfreq)
    smoother = est if isinstance(est, DecisionSmoother) else \
        (DecisionSmoother(None, **smoothing) if smoothing else None)
    core = est.estimator if isinstance(est, DecisionSmoother) else est
    if idle == "threshold":
        core = IdleThreshold(core, cv=threshold_cv)
    return core if smoother is None else clone(smoother).set_params(estimator=core)
