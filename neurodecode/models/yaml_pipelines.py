"""Pipelines defined in MOABB's YAML format, with neurodecode's extension keys.

A file holds ``name``, ``paradigms``, optional ``description``, ``citations`` and
``param_grid``, and ``pipeline``: a list of steps, each ``name`` (a class),
``from`` (its module) and ``parameters``. MOABB's own files load unchanged.
neurodecode adds two optional keys, which MOABB ignores:

``training``
    Settings of the shared deep-learning loop (``max_epochs``, ``lr``,
    ``batch_size``, ``patience``, ``augment``...), applied to every
    :class:`~neurodecode.models.DeepClassifier` step.
``transfer``
    ``shots`` (calibration trials per class) and ``finetune`` settings for
    :func:`neurodecode.models.transfer.transfer_curve`.
"""
from __future__ import annotations

import copy
import importlib
from pathlib import Path

from sklearn.base import BaseEstimator
from sklearn.pipeline import make_pipeline

from ..errors import ConfigError, UnknownNameError
from ..utils import resource_path
from ..yamlio import read_yaml_mapping

__all__ = ["load_pipeline_file", "load_pipelines", "pipeline_files"]

_KEYS = {"name", "description", "paradigms", "citations", "pipeline", "param_grid", "training", "transfer"}


def _step_class(step: dict, where: str):
    for key in ("name", "from"):
        if not isinstance(step.get(key), str):
            raise ConfigError(f"{where}: needs '{key}' (a string), got {step.get(key)!r}")
    try:
        module = importlib.import_module(step["from"])
    except ImportError as exc:
        raise ConfigError(f"{where}: cannot import module {step['from']!r} ({exc})") from exc
    if not hasattr(module, step["name"]):
        public = [n for n in dir(module) if not n.startswith("_") and n[0].isupper()]
        hint = str(UnknownNameError("class", step["name"], public)).split(": ", 1)[1]
        raise ConfigError(f"{where}: {step['from']} has no class {step['name']!r}; {hint}")
    return getattr(module, step["name"])


def load_pipeline_file(path: str | Path) -> dict:
    """Load one pipeline file.

    Parameters
    ----------
    path : str | Path
        A ``.yml`` file in MOABB's pipeline format.

    Returns
    -------
    config : dict
        ``name``, ``paradigms``, ``citations``, ``pipeline`` (an unfitted
        scikit-learn estimator), ``param_grid`` (or None), ``training``,
        ``transfer`` and ``file``.

    Raises
    ------
    ConfigError
        Invalid YAML (file and line), a missing key, or a step whose module
        or class does not exist or whose parameters are refused (file and step).

    Examples
    --------
    >>> from neurodecode.utils import resource_path
    >>> load_pipeline_file(resource_path("pipelines", "CSP_LDA.yml"))["name"]
    'CSP+LDA'
    """
    from ..moabb_api import create_pipeline_from_config
    from .deep import DeepClassifier

    path = Path(path)
    spec = read_yaml_mapping(path, "pipeline definition")
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown}; a pipeline file has {sorted(_KEYS)}")
    for key in ("name", "paradigms", "pipeline"):
        if key not in spec:
            raise ConfigError(f"{path}: missing '{key}'")
    steps = spec["pipeline"]
    if not isinstance(steps, list) or not steps or not all(isinstance(s, dict) for s in steps):
        raise ConfigError(f"{path}: 'pipeline' must be a non-empty list of steps with name/from/parameters")
    components = []
    for i, step in enumerate(steps, 1):
        where = f"{path}: step {i} ({step.get('name')})"
        cls = _step_class(step, where)
        try:  # MOABB's own builder, one step at a time so that errors name the step
            components.append(create_pipeline_from_config([copy.deepcopy(step)]).steps[0][1])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: invalid parameters for {cls.__name__} ({exc})") from exc
    pipeline = make_pipeline(*components)
    training = spec.get("training") or {}
    if not isinstance(training, dict):
        raise ConfigError(f"{path}: 'training' must be a mapping of DeepClassifier settings")
    for _, est in pipeline.steps:
        if isinstance(est, DeepClassifier) and training:
            valid = set(est.get_params(deep=False))
            bad = sorted(set(training) - valid)
            if bad:
                raise ConfigError(f"{path}: unknown training setting(s) {bad}; choose from {sorted(valid)}")
            est.set_params(**training)
    paradigms = spec["paradigms"]
    return {
        "name": str(spec["name"]),
        "paradigms": [paradigms] if isinstance(paradigms, str) else list(paradigms),
        "citations": spec.get("citations") or [],
        "pipeline": pipeline,
        "param_grid": spec.get("param_grid"),
        "training": training,
        "transfer": spec.get("transfer") or {},
        "file": str(path),
    }


def pipeline_files(folder: Path) -> list[Path]:
    """The pipeline files of a folder, searched recursively; ``recipes/`` and ``benchmarks/`` are skipped."""
    return sorted(f for f in Path(folder).rglob("*.yml")
                  if not {"recipes", "benchmarks"} & set(f.relative_to(folder).parts[:-1]))


def load_pipelines(source: str | Path | None = None, paradigm: str | None = None) -> dict[str, BaseEstimator]:
    """Load every ``*.yml`` pipeline of a folder (or one file) as ``{name: estimator}``.

    Parameters
    ----------
    source : str | Path | None
        A folder (searched recursively, ``recipes/`` and ``benchmarks/`` skipped) or a file;
        None: the pipelines shipped with neurodecode, networks included.
    paradigm : str | None
        Keep only pipelines declaring this paradigm class (e.g. ``"LeftRightImagery"``).

    Examples
    --------
    >>> "TS+LR" in load_pipelines(paradigm="LeftRightImagery")
    True
    """
    source = resource_path("pipelines") if source is None else Path(source)
    if source.is_file():
        files = [source]
    elif source.is_dir():
        files = pipeline_files(source)
    else:
        raise ConfigError(f"{source}: no such pipeline file or folder")
    out = {}
    for f in files:
        config = load_pipeline_file(f)
        if paradigm and paradigm not in config["paradigms"]:
            continue
        if config["name"] in out:
            raise ConfigError(f"{f}: pipeline name {config['name']!r} is defined twice")
        out[config["name"]] = config["pipeline"]
    return out
