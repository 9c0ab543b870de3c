"""The registry of evaluation types: the built-in ones, :func:`register_evaluation` calls, the
``neurodecode.evaluations`` entry-point group, and ``module:Class`` names (see
:mod:`neurodecode.benchmark.protocol` for the protocol itself)."""
from __future__ import annotations

import inspect

from ..errors import ConfigError, UnknownNameError
from .protocol import EvaluationType, import_object

__all__ = ["register_evaluation", "evaluation_type", "evaluation_types", "ENTRY_POINT_GROUP", "class_path",
           "type_of_task", "evaluation_entry"]

#: The entry-point group through which installed packages add evaluation types.
ENTRY_POINT_GROUP = "neurodecode.evaluations"

_REGISTRY: dict[str, EvaluationType] = {}
_LOADED = {"builtins": False, "entry_points": False}


def _instance(kind, name: str | None, where: str) -> EvaluationType:
    """An :class:`EvaluationType` from a class or instance of one, or a MOABB evaluation class."""
    from ..moabb_api import is_moabb_evaluation

    if isinstance(kind, EvaluationType):
        obj = kind
    elif inspect.isclass(kind) and issubclass(kind, EvaluationType):
        obj = kind()
    elif is_moabb_evaluation(kind):
        from .evaluation_types.moabb_class import MoabbEvaluation

        obj = MoabbEvaluation(kind, name=name)
    else:
        raise ConfigError(f"{where} is not an evaluation: {kind!r} is neither a neurodecode.benchmark."
                          "EvaluationType nor a MOABB BaseEvaluation subclass")
    if name is not None and obj.name != name:
        obj = _renamed(obj, name)
    if not obj.name or not isinstance(obj.name, str):
        raise ConfigError(f"{where}: evaluation type {obj!r} has no name; set its `name` attribute")
    return obj


def _renamed(obj: EvaluationType, name: str) -> EvaluationType:
    import copy

    new = copy.copy(obj)
    new.name = name
    return new


def register_evaluation(kind, *, name: str | None = None) -> EvaluationType:
    """Add an evaluation type, so benchmarks can name it as ``type: <name>``.

    Parameters
    ----------
    kind : EvaluationType | type
        An :class:`EvaluationType` instance or subclass, or a MOABB
        ``BaseEvaluation`` subclass (which then runs through its ``process()``).
    name : str | None
        The name to register it under (default: its ``name`` attribute; for
        a MOABB class, its ``module:Class`` path).

    Returns
    -------
    registered : EvaluationType

    Raises
    ------
    ConfigError
        A type of that name is already registered, or ``kind`` is not an evaluation.

    Examples
    --------
    >>> from neurodecode.benchmark import register_evaluation, evaluation_type
    >>> evaluation_type("within-session").name
    'within-session'
    """
    _load_builtins()
    return _add(_instance(kind, name, f"register_evaluation({kind!r})"), "register_evaluation()")


def _add(obj: EvaluationType, origin: str) -> EvaluationType:
    old = _REGISTRY.get(obj.name)
    if old is not None and _where(old) != _where(obj):
        raise ConfigError(f"evaluation type {obj.name!r} is registered twice: by {_where(old)} and by "
                          f"{_where(obj)} ({origin}); give one of them another name")
    _REGISTRY[obj.name] = obj
    obj.origin = origin
    return obj


def _where(obj) -> str:
    cls = type(obj)
    inner = getattr(obj, "moabb_class", None)
    if inner is not None:
        cls = inner
    return f"{cls.__module__}.{cls.__qualname__}"


def _load_builtins() -> None:
    if not _LOADED["builtins"]:
        _LOADED["builtins"] = True
        from .evaluation_types import BUILTIN

        for obj in BUILTIN:
            _add(obj, "built in")


def _load_entry_points() -> None:
    if _LOADED["entry_points"]:
        return
    _LOADED["entry_points"] = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        where = f"entry point {ep.name} = {ep.value} ({ENTRY_POINT_GROUP})"
        try:
            loaded = ep.load()
        except Exception as exc:  # noqa: BLE001  (any import failure of a plugin is one line)
            raise ConfigError(f"{where} cannot be loaded: {type(exc).__name__}: {exc}; reinstall or remove "
                              f"the package that declares it") from None
        _add(_instance(loaded, ep.name, where), where)


def evaluation_types() -> dict[str, EvaluationType]:
    """Every registered evaluation type by name (built-in, registered and from entry points)."""
    _load_builtins()
    _load_entry_points()
    return dict(_REGISTRY)


def evaluation_type(name: str, *, where: str = "benchmark") -> EvaluationType:
    """The evaluation type named ``name``: a registered name or ``package.module:Class``.

    Raises
    ------
    UnknownNameError
        An unknown name, with close matches.
    ConfigError
        A ``module:Class`` that cannot be imported or is not an evaluation.
    """
    if not isinstance(name, str):
        raise ConfigError(f"{where}: an evaluation type is a name, got {name!r}")
    _load_builtins()
    if name in _REGISTRY:
        return _REGISTRY[name]
    _load_entry_points()
    if name in _REGISTRY:
        return _REGISTRY[name]
    if ":" not in name:
        raise UnknownNameError("evaluation", name, list(_REGISTRY))
    obj = _instance(import_object(name, where), name, f"{where}: evaluation type {name!r}")
    _REGISTRY[name] = obj
    obj.origin = "module:Class"
    return obj


def class_path(obj: EvaluationType) -> str | None:
    """``module:Class`` that rebuilds a registered type in a worker process, or None for built-ins."""
    if getattr(obj, "origin", "") == "built in":
        return None
    inner = getattr(obj, "moabb_class", None) or type(obj)
    return f"{inner.__module__}:{inner.__qualname__}"


def type_of_task(evaluation: dict) -> EvaluationType:
    """The type of a task's evaluation, in any process: by name, else from the class it records."""
    name = evaluation["type"]
    try:
        return evaluation_type(name)
    except UnknownNameError:
        if not evaluation.get("class"):
            raise
    registered = _instance(import_object(evaluation["class"], f"evaluation {evaluation['label']}"), name,
                           f"evaluation {evaluation['label']}")
    return _add(registered, "rebuilt in a worker")


def evaluation_entry(kind: EvaluationType, label: str, settings: dict) -> dict:
    """An evaluation of a benchmark as plain data: its type's name, label and settings, and for a type
    that is not built in, the ``module:Class`` that rebuilds it in a worker."""
    entry = {"type": kind.name, "label": label, "settings": settings}
    path = class_path(kind)
    if path is not None and path != kind.name:
        entry["class"] = path
    return entry
