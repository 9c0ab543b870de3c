"""Every pipeline by name: the classical pipelines shipped as MOABB-format YAML, and braindecode networks.

The YAML files in ``neurodecode/resources/pipelines`` are the only definition
of the classical pipelines: :func:`get_pipeline` builds them with MOABB's own
builder (through :func:`~neurodecode.models.load_pipeline_file`), so a name
and its file can never disagree.
"""
from __future__ import annotations

import functools

import pandas as pd
from sklearn.base import BaseEstimator, clone

from ..errors import ConfigError, UnknownNameError
from ..utils import resource_names
from ..yamlio import read_yaml_mapping

__all__ = ["get_pipeline", "list_pipelines", "classical_pipelines", "pipeline_paradigms", "PARADIGM_KINDS"]

#: MOABB paradigm class name -> the dataset paradigm it decodes (MOABB's ``dataset.paradigm``).
PARADIGM_KINDS = {
    "LeftRightImagery": "imagery", "MotorImagery": "imagery", "FilterBankLeftRightImagery": "imagery",
    "FilterBankMotorImagery": "imagery", "SSVEP": "ssvep", "FilterBankSSVEP": "ssvep", "P300": "p300",
}


@functools.cache
def classical_pipelines() -> dict[str, dict]:
    """The shipped pipeline files by name: ``{name: {"file", "paradigms", "description", "kind"}}``
    (``kind`` is ``"deep"`` for a file whose pipeline ends in a network, such as ``SSVEP-DNN``).

    Only the files' headers are read here; the estimators are built on demand.

    Examples
    --------
    >>> classical_pipelines()["TS+LR"]["paradigms"]
    ['LeftRightImagery', 'MotorImagery', 'SSVEP', 'P300']
    """
    out = {}
    for path in resource_names("pipelines").values():  # deep/ holds network presets, not names
        spec = read_yaml_mapping(path, "pipeline definition")
        steps = [step.get("name") for step in spec.get("pipeline") or [] if isinstance(step, dict)]
        out[str(spec["name"])] = {"file": path, "paradigms": list(spec["paradigms"]),
                                  "description": str(spec.get("description", "")),
                                  "kind": "deep" if "DeepClassifier" in steps else "classical"}
    return out


@functools.cache
def _template(name: str) -> BaseEstimator:
    from .yaml_pipelines import load_pipeline_file

    return load_pipeline_file(classical_pipelines()[name]["file"])["pipeline"]


def _resolve_params(name: str, estimator: BaseEstimator, params: dict) -> dict:
    """Map each parameter to the estimator's own name: ``step__param`` as given, or a bare name
    (``sfreq``, ``estimator``) that exactly one step has."""
    valid = estimator.get_params(deep=True)
    by_bare: dict[str, list[str]] = {}
    for key in valid:
        if key.count("__") == 1:
            by_bare.setdefault(key.split("__")[1], []).append(key)
    out = {}
    for key, value in params.items():
        if key in valid:
            out[key] = value
        elif len(by_bare.get(key, [])) == 1:
            out[by_bare[key][0]] = value
        elif key in by_bare:
            raise ConfigError(f"pipeline {name}: parameter {key!r} belongs to several steps; name one of "
                              f"{', '.join(by_bare[key])}")
        else:
            raise UnknownNameError(f"parameter of pipeline {name}", key, [*by_bare, *valid])
    return out


def get_pipeline(name: str, **params) -> BaseEstimator:
    """A fresh, unfitted estimator by name.

    Parameters
    ----------
    name : str
        A shipped classical pipeline (``"CSP+LDA"``, ``"TS+LR"``, ``"TRCA"``...;
        see :func:`list_pipelines`) or any braindecode model class name or alias
        (``"ShallowConvNet"``, ``"EEGNet-8,2"``, ``"ATCNet"``...), which gives a
        :class:`~neurodecode.models.DeepClassifier`.
    **params
        Classical pipelines: scikit-learn parameter names (``covariances__estimator``),
        or a bare name that one step has (``sfreq``, ``nfilter``). Networks:
        :class:`~neurodecode.models.DeepClassifier` settings (``max_epochs``...).

    Raises
    ------
    UnknownNameError
        An unknown name or parameter, listing the closest ones.

    Examples
    --------
    >>> get_pipeline("CSP+LDA").steps[-1][0]
    'lineardiscriminantanalysis'
    >>> get_pipeline("TS+LR", estimator="lwf").get_params()["covariances__estimator"]
    'lwf'
    >>> get_pipeline("EEGNet-8,2", max_epochs=5).model
    'EEGNet-8,2'
    """
    if name in classical_pipelines():
        estimator = clone(_template(name))
        return estimator.set_params(**_resolve_params(name, estimator, params)) if params else estimator
    from .deep import DeepClassifier
    from .lookup import model_names

    names = model_names()
    if name not in names:
        raise UnknownNameError("pipeline", name, list(classical_pipelines()) + names)
    valid = sorted(DeepClassifier().get_params(deep=False))
    for key in params:
        if key not in valid and key != "model":
            raise UnknownNameError(f"parameter of network {name}", key, valid)
    return DeepClassifier(model=name, **params)


def pipeline_paradigms(name: str) -> list[str] | None:
    """MOABB paradigm class names a registry pipeline declares; None for networks (any paradigm)."""
    entry = classical_pipelines().get(name)
    return None if entry is None else entry["paradigms"]


def list_pipelines(paradigm: str | None = None, deep: bool = True) -> pd.DataFrame:
    """The registry as a table: ``name``, ``kind``, ``paradigms``, ``description``.

    Parameters
    ----------
    paradigm : str | None
        Keep the pipelines for this kind of data (``"imagery"``, ``"ssvep"``,
        ``"p300"``) or MOABB paradigm class (``"SSVEP"``).
    deep : bool
        Also list every braindecode network.
    """
    rows = []
    for n, e in classical_pipelines().items():
        kinds = sorted({PARADIGM_KINDS.get(p, p) for p in e["paradigms"]})
        if paradigm is None or paradigm in kinds or paradigm in e["paradigms"]:
            rows.append({"name": n, "kind": e["kind"], "paradigms": ",".join(kinds),
                         "description": e["description"]})
    if deep:
        from .lookup import model_names

        rows += [{"name": n, "kind": "deep", "paradigms": "any", "description": "braindecode network"}
                 for n in model_names()]
    return pd.DataFrame(rows)
