"""Benchmark definitions: YAML (or a mapping) checked up front, with errors that say what to fix."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, UnknownNameError, check_params
from ..preprocessing import Recipe
from ..utils import digest, resource_names
from ..yamlio import read_yaml_mapping

__all__ = ["BenchmarkConfig", "load_config"]

KEYS = ("name", "datasets", "paradigm", "recipe", "pipelines", "evaluations", "random_state", "output")


@dataclass(frozen=True)
class BenchmarkConfig:
    """A checked benchmark definition (see :func:`load_config`).

    ``datasets``, ``pipelines`` and ``evaluations`` are lists of plain
    mappings, so tasks built from them travel to worker processes as data.
    """

    name: str
    datasets: list
    paradigm: dict
    recipe: Recipe
    pipelines: list
    evaluations: list
    random_state: int = 42
    output: Path = field(default_factory=lambda: Path("results"))


def load_config(source, output=None) -> BenchmarkConfig:
    """Read and check a benchmark definition.

    Parameters
    ----------
    source : str | Path | dict | BenchmarkConfig
        A YAML file, the name of a shipped definition (``"kalunga2016"``,
        ``"quickstart"``; outputs then go under the working folder), or the same mapping::

            name: my-benchmark
            datasets:                      # names, or {name, subjects, params}
              - {name: Kalunga2016, subjects: [1, 2, 3]}
            paradigm: {name: SSVEP, params: {fmin: 3, fmax: 45, n_classes: 4, resample: 128}}
            recipe: mi_clean               # a shipped recipe, a file, or a list of steps; optional
            pipelines:                     # registry names, {name, params}, YAML files or folders
              - TS+LR
              - {name: ShallowConvNet, params: {max_epochs: 30}}
              - pipelines/CCA.yml
            evaluations:                   # within-session, cross-session, cross-subject, pseudo-online,
              - within-session             # cross-dataset with their settings, or a plugin's type
              - {type: pseudo-online, split: within-session, window: 2.0, step: 0.25, rest: [rest]}
              - {type: cross-dataset, template: motor, sfreq: 128, shots: [0, 5, 10, 20]}
            random_state: 42
            output: results/my-benchmark

        Relative paths in a file are resolved against the file's folder.
    output : str | Path | None
        Overrides ``output``.

    Raises
    ------
    ConfigError
        Invalid YAML (file and line), a missing or misspelt key, bad settings.
    UnknownNameError
        An unknown dataset, paradigm, pipeline or evaluation, with close matches.
    """
    if isinstance(source, BenchmarkConfig):
        cfg = source
    elif isinstance(source, dict):
        cfg = _checked(_parse(dict(source), "benchmark", Path.cwd()), "benchmark")
    elif isinstance(source, (str, Path)):
        path = Path(source)
        shipped = resource_names("benchmarks")
        if not path.is_file() and str(source) in shipped:  # a definition shipped in the package, by name
            path = shipped[str(source)]
            cfg = _checked(_parse(read_yaml_mapping(path, "benchmark definition"), str(path), Path.cwd()),
                           str(path))
        elif not path.is_file():
            raise ConfigError(f"{path}: no such benchmark file, nor a shipped definition "
                              f"({', '.join(sorted(shipped))})")
        else:
            cfg = _checked(_parse(read_yaml_mapping(path, "benchmark definition"), str(path), path.parent),
                           str(path))
    else:
        raise ConfigError(f"a benchmark is a YAML file or a mapping, got {type(source).__name__}")
    return cfg if output is None else dataclasses.replace(cfg, output=Path(output))


def _checked(cfg: BenchmarkConfig, where: str) -> BenchmarkConfig:
    from .checks import check_benchmark

    check_benchmark(cfg, where)
    return cfg


def _parse(spec: dict, where: str, base: Path) -> BenchmarkConfig:
    for key in spec:
        if key not in KEYS:
            raise UnknownNameError(f"key in {where}:", key, KEYS)
    for key in ("datasets", "paradigm", "pipelines", "evaluations"):
        if not spec.get(key):
            raise ConfigError(f"{where}: '{key}' is missing or empty")
    random_state = spec.get("random_state", 42)
    if not isinstance(random_state, int) or isinstance(random_state, bool):
        raise ConfigError(f"{where}: random_state must be an integer, got {random_state!r}")
    name = str(spec.get("name") or (Path(where).stem if where != "benchmark" else "benchmark"))
    recipe = spec.get("recipe")
    if isinstance(recipe, str) and recipe.endswith((".yml", ".yaml")):
        recipe = _resolve(recipe, base)
    paradigm = _paradigm(spec["paradigm"], where)
    datasets = [_dataset(d, where) for d in _as_list(spec["datasets"], "datasets", where)]
    return BenchmarkConfig(
        name=name,
        datasets=datasets,
        paradigm=paradigm,
        recipe=Recipe.coerce(recipe),
        pipelines=_pipelines(_as_list(spec["pipelines"], "pipelines", where), where, base, paradigm["name"]),
        evaluations=_evaluations(_as_list(spec["evaluations"], "evaluations", where), where, datasets),
        random_state=random_state,
        output=_resolve(spec["output"], base) if spec.get("output") else Path("results") / name,
    )


def _as_list(value, key, where) -> list:
    if isinstance(value, (str, dict)):
        return [value]
    if not isinstance(value, list):
        raise ConfigError(f"{where}: '{key}' must be a list, got {type(value).__name__}")
    return value


def _resolve(path, base: Path) -> Path:
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    return base / path if (base / path).exists() or not path.exists() else path


def _mapping(item, where, what, keys) -> dict:
    if isinstance(item, str):
        return {"name": item}
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: each {what} is a name or a mapping, got {item!r}")
    for key in item:
        if key not in keys:
            raise UnknownNameError(f"key of a {what} in {where}:", key, keys)
    return dict(item)


def _dataset(item, where) -> dict:
    from ..datasets import get_dataset

    spec = _mapping(item, where, "dataset", ("name", "subjects", "params", "task_interval"))
    params = spec.get("params") or {}
    dataset = get_dataset(spec["name"], **params)  # unknown names list close matches
    subjects = spec.get("subjects")
    if subjects is not None:
        subjects = [subjects] if isinstance(subjects, int) else list(subjects)
        missing = [s for s in subjects if s not in dataset.subject_list]
        if missing:
            raise ConfigError(f"{where}: {dataset.code} has no subject(s) {missing}; it has "
                              f"{dataset.subject_list}")
    out = {"name": str(spec["name"]), "code": dataset.code, "params": params,
           "subjects": subjects or list(dataset.subject_list), "n_sessions": int(dataset.n_sessions)}
    if spec.get("task_interval") is not None:
        from ..evaluation.pseudo_online_settings import check_task_interval

        out["task_interval"] = _located(f"{where}: dataset {dataset.code}", check_task_interval,
                                        spec["task_interval"])
    return out


def _located(prefix: str, check, value):
    """``check(value)``, with its error prefixed by where the value was given."""
    try:
        return check(value)
    except ConfigError as exc:
        raise ConfigError(f"{prefix}: {exc}") from None


def _paradigm(item, where) -> dict:
    from ..moabb_api import paradigm_classes

    spec = _mapping(item, where, "paradigm", ("name", "params", "ch_types"))
    classes = paradigm_classes()
    if spec["name"] not in classes:
        raise UnknownNameError("paradigm", spec["name"], classes)
    params = spec.get("params") or {}
    check_params(f"paradigm {spec['name']} in {where}", classes[spec["name"]], params)
    try:
        classes[spec["name"]](**params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: paradigm {spec['name']}: {exc}") from None
    out = {"name": spec["name"], "params": params}
    if spec.get("ch_types") is not None:
        from ..datasets.channel_types import expand_types

        out["ch_types"] = _located(f"{where}: paradigm {spec['name']}", expand_types, spec["ch_types"])
    return out


def _pipelines(items, where, base, paradigm) -> list:
    from ..models import get_pipeline, load_pipeline_file
    from ..models.lookup import model_names
    from ..models.registry import classical_pipelines
    from ..models.yaml_pipelines import pipeline_files

    classical = list(classical_pipelines())
    out = []
    for item in items:
        spec = _mapping(item, where, "pipeline", ("name", "params", "file"))
        # networks are looked up only when named: a classical benchmark runs even where torch does not load
        if "file" in spec or (spec["name"] not in classical and spec["name"] not in model_names()):
            ref = spec.get("file") or spec["name"]
            path = _resolve(ref, base)
            if not path.exists():
                raise UnknownNameError("pipeline", str(ref), classical + model_names())
            files = [path] if path.is_file() else pipeline_files(path)
            for f in files:
                loaded = load_pipeline_file(f)
                if path.is_dir() and paradigm not in loaded["paradigms"]:
                    continue
                out.append({"name": loaded["name"], "file": str(f.resolve()), "paradigms": loaded["paradigms"],
                            "digest": digest({"file": f.read_text()})})
        else:
            params = spec.get("params") or {}
            if not isinstance(params, dict):
                raise ConfigError(f"{where}: params of pipeline {spec['name']} must be a mapping, got {params!r}")
            get_pipeline(spec["name"], **params)  # unknown parameters fail here, with close matches
            out.append({"name": spec["name"], "params": params,
                        "digest": digest({"registry": spec["name"], "params": params,
                                          "definition": _definition_text(spec["name"])})})
    names = [p["name"] for p in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"{where}: pipeline name(s) {twice} given twice; pipeline names must be unique")
    if not out:
        raise ConfigError(f"{where}: no pipeline declares the paradigm {paradigm}")
    return out


def _definition_text(name: str) -> str:
    """The YAML text behind a shipped classical pipeline ("" for networks), so editing it changes the digest."""
    from ..models.registry import classical_pipelines

    entry = classical_pipelines().get(name)
    return entry["file"].read_text() if entry else ""


def _evaluations(items, where, datasets) -> list:
    """Each entry read and checked by its evaluation type (see :mod:`neurodecode.benchmark.protocol`)."""
    from .registry import evaluation_entry, evaluation_type

    out = []
    for item in items:
        spec = {"type": item} if isinstance(item, str) else dict(item) if isinstance(item, dict) else None
        if spec is None or "type" not in spec:
            raise ConfigError(f"{where}: each evaluation is a type or a mapping with 'type', got {item!r}")
        kind = evaluation_type(spec.pop("type"), where=where)
        label = spec.pop("label", None)
        if label is not None and (not isinstance(label, str) or not label.strip()):
            raise ConfigError(f"{where}: the label of a {kind.name} evaluation must be a non-empty text, "
                              f"got {label!r}")
        settings = kind.parse(spec, where=where, datasets=datasets)
        out.append(evaluation_entry(kind, label or kind.default_label(settings), settings))
    labels = [e["label"] for e in out]
    twice = sorted({n for n in labels if labels.count(n) > 1})
    if twice:
        raise ConfigError(f"{where}: evaluation(s) {twice} given twice; add a distinct 'label' to each")
    return out
