"""Every pipeline by name: classical scikit-learn pipelines and braindecode networks."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import pandas as pd
from sklearn.base import BaseEstimator

from ..errors import UnknownNameError

__all__ = ["get_pipeline", "list_pipelines", "PIPELINES"]

MI_BANDS = [[4, 8], [8, 12], [12, 16], [16, 20], [20, 24], [24, 28], [28, 32], [32, 36], [36, 40]]


@dataclass(frozen=True)
class Entry:
    """A named pipeline: its paradigms, a one-line description and a factory."""

    paradigms: tuple
    description: str
    build: Callable[..., BaseEstimator]


def _csp_lda(nfilter=6):
    from pyriemann.spatialfilters import CSP
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.pipeline import make_pipeline

    from .riemann import Covariances

    return make_pipeline(Covariances("oas"), CSP(nfilter=nfilter), LinearDiscriminantAnalysis())


def _fbcsp(classifier="lda", bands=None, sfreq=None, k=10):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.feature_selection import SelectKBest
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    from .filterbank import FilterBank, FilterBankCSP

    head = LinearDiscriminantAnalysis() if classifier == "lda" else SVC(kernel="linear")
    return make_pipeline(FilterBank(bands=bands or MI_BANDS, sfreq=sfreq), FilterBankCSP(nfilter=4),
                         SelectKBest(k=k), head)


def _tangent(classifier="lr", estimator="oas"):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    from .riemann import Covariances, TangentSpace

    head = LogisticRegression(C=1.0, max_iter=1000) if classifier == "lr" else SVC(kernel="linear")
    return make_pipeline(Covariances(estimator), TangentSpace(metric="riemann"), head)


def _mdm(fgda=False):
    from pyriemann.classification import MDM, FgMDM
    from sklearn.pipeline import make_pipeline

    from .riemann import Covariances

    return make_pipeline(Covariances("oas"), FgMDM() if fgda else MDM(metric="riemann"))


def _fb_ts_lr(sfreq=None, bandwidth=2.0, n_harmonics=2):
    from moabb.pipelines.features import ExtendedSSVEPSignal
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from .filterbank import FilterBank
    from .riemann import Covariances, TangentSpace

    return make_pipeline(FilterBank("ssvep", sfreq=sfreq, bandwidth=bandwidth, n_harmonics=n_harmonics),
                         ExtendedSSVEPSignal(), Covariances("lwf"), TangentSpace(),
                         LogisticRegression(max_iter=1000))


def _ssvep(name, **params):
    from sklearn.pipeline import make_pipeline

    from . import ssvep

    return make_pipeline(getattr(ssvep, name)(**params))


def _xdawn(classifier="lr", nfilter=4):
    from pyriemann.estimation import XdawnCovariances
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    from .riemann import TangentSpace

    head = LogisticRegression(max_iter=1000) if classifier == "lr" else SVC(kernel="linear")
    return make_pipeline(XdawnCovariances(nfilter=nfilter, estimator="oas", xdawn_estimator="scm"),
                         TangentSpace(), head)


def _slda():
    from mne.decoding import Vectorizer
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.pipeline import make_pipeline

    return make_pipeline(Vectorizer(), LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"))


#: The classical pipelines. Deep networks are every braindecode model name.
PIPELINES: dict[str, Entry] = {
    "CSP+LDA": Entry(("imagery",), "OAS covariances, 6 CSP filters, LDA", _csp_lda),
    "FBCSP+LDA": Entry(("imagery",), "9 bands 4-40 Hz, 4 CSP filters each, 10 best by ANOVA F, LDA",
                       partial(_fbcsp, "lda")),
    "FBCSP+SVM": Entry(("imagery",), "as FBCSP+LDA with a linear SVM", partial(_fbcsp, "svm")),
    "TS+LR": Entry(("imagery", "ssvep", "p300"), "OAS covariances, Riemannian tangent space, logistic regression",
                   _tangent),
    "TS+SVM": Entry(("imagery", "ssvep", "p300"), "tangent space, linear SVM", partial(_tangent, "svm")),
    "MDM": Entry(("imagery", "ssvep"), "minimum distance to Riemannian mean", _mdm),
    "FgMDM": Entry(("imagery", "ssvep"), "MDM after geodesic filtering", partial(_mdm, True)),
    "CCA": Entry(("ssvep",), "canonical correlation with sine references (training-free)", partial(_ssvep, "CCA")),
    "FBCCA": Entry(("ssvep",), "filter-bank CCA (training-free)", partial(_ssvep, "FBCCA")),
    "TRCA": Entry(("ssvep",), "ensemble TRCA with a 3-band filter bank", partial(_ssvep, "TRCA")),
    "FB-TS+LR": Entry(("ssvep",), "bands around each stimulus frequency and harmonic, stacked covariances, "
                                  "tangent space, logistic regression", _fb_ts_lr),
    "xDAWN+TS+LR": Entry(("p300",), "xDAWN covariances, tangent space, logistic regression", _xdawn),
    "xDAWN+TS+SVM": Entry(("p300",), "xDAWN covariances, tangent space, linear SVM", partial(_xdawn, "svm")),
    "sLDA": Entry(("p300",), "vectorised windows, shrinkage LDA", _slda),
}


def get_pipeline(name: str, **params) -> BaseEstimator:
    """A fresh, unfitted estimator by name.

    Parameters
    ----------
    name : str
        A classical pipeline of :data:`PIPELINES` (``"CSP+LDA"``, ``"TS+LR"``,
        ``"TRCA"``...) or any braindecode model class name or alias
        (``"ShallowConvNet"``, ``"EEGNet-8,2"``, ``"ATCNet"``...), which gives a
        :class:`~neurodecode.models.DeepClassifier`.
    **params
        Passed to the factory (e.g. ``sfreq``) or, for networks, to
        :class:`~neurodecode.models.DeepClassifier` (``max_epochs``...).

    Raises
    ------
    UnknownNameError
        Listing the closest names.

    Examples
    --------
    >>> get_pipeline("CSP+LDA").steps[-1][0]
    'lineardiscriminantanalysis'
    >>> get_pipeline("EEGNet-8,2", max_epochs=5).model
    'EEGNet-8,2'
    """
    if name in PIPELINES:
        return PIPELINES[name].build(**params)
    from .deep import DeepClassifier, model_names

    names = model_names()
    if name not in names:
        raise UnknownNameError("pipeline", name, list(PIPELINES) + names)
    return DeepClassifier(model=name, **params)


def list_pipelines(paradigm: str | None = None, deep: bool = True) -> pd.DataFrame:
    """The registry as a table: ``name``, ``kind``, ``paradigms``, ``description``."""
    rows = [{"name": n, "kind": "classical", "paradigms": ",".join(e.paradigms), "description": e.description}
            for n, e in PIPELINES.items() if paradigm is None or paradigm in e.paradigms]
    if deep:
        from .deep import model_names

        rows += [{"name": n, "kind": "deep", "paradigms": "any", "description": "braindecode network"}
                 for n in model_names()]
    return pd.DataFrame(rows)
