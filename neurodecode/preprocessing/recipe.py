"""Recipes: ordered, validated, serialisable lists of preprocessing steps with a stable digest."""
from __future__ import annotations

import functools
import inspect
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import mne
import yaml

from ..errors import ConfigError
from ..utils import digest, resource_names
from ..yamlio import read_yaml_mapping
from . import artifacts, channels, denoise, filters, meg, normalise  # noqa: F401  (register the steps)
from .base import STEPS, RawStep, Step, WindowStep, make_step

__all__ = ["Recipe", "list_steps"]


def list_steps() -> dict[str, list[str]]:
    """Every recipe step name with its parameters.

    Examples
    --------
    >>> list_steps()["bandpass"]
    ['l_freq', 'h_freq', 'method', 'order', 'causal']
    """
    return {name: cls.param_names() for name, cls in sorted(STEPS.items())}


class Recipe:
    """An ordered list of named preprocessing steps.

    Raw steps act on continuous :class:`mne.io.Raw` recordings; window steps
    (``reject_peak_to_peak``, ``euclidean_alignment``) act on the windows cut
    from them and must come after every raw step.

    Parameters
    ----------
    steps : list
        Each item is a step object, a step name, or a one-key mapping
        ``{name: {parameter: value}}`` (the YAML form).
    name : str
        A label for reports.

    Examples
    --------
    >>> recipe = Recipe([{"pick": {"types": ["eeg"]}},
    ...                  {"bandpass": {"l_freq": 8, "h_freq": 30}}], name="mi")
    >>> recipe
    Recipe('mi': pick -> bandpass)
    >>> len(recipe.digest)
    16
    >>> Recipe.from_yaml(recipe.to_yaml()).digest == recipe.digest
    True
    """

    def __init__(self, steps: list = (), name: str = "recipe"):
        self.steps: list[Step] = [make_step(s) for s in steps]
        self.name = name
        for step in self.steps:
            _normalise(step)
        kinds = [s.level for s in self.steps]
        if "windows" in kinds and "raw" in kinds[kinds.index("windows"):]:
            raise ConfigError(f"recipe {name!r}: window steps "
                              f"({', '.join(s.name for s in self.window_steps)}) must come after "
                              "every raw step")
        raw_names = [s.name for s in self.raw_steps]
        if "filter_bank" in raw_names[:-1]:
            raise ConfigError(f"recipe {name!r}: filter_bank must be the last raw step")

    # -- construction and serialisation ---------------------------------------
    @classmethod
    def from_dict(cls, spec: dict, source: str = "recipe") -> Recipe:
        """Build from ``{"name": ..., "steps": [...]}``."""
        if not isinstance(spec, dict):
            raise ConfigError(f"{source}: a recipe must be a mapping with a 'steps' list")
        unknown = sorted(set(spec) - {"name", "steps"})
        if unknown:
            raise ConfigError(f"{source}: unknown recipe key(s) {unknown}; valid keys: name, steps")
        steps = spec.get("steps") or []
        if not isinstance(steps, list):
            raise ConfigError(f"{source}: 'steps' must be a list")
        try:
            return cls(steps, name=spec.get("name", "recipe"))
        except ConfigError as exc:
            raise type(exc)(f"{source}: {exc}") from None

    @classmethod
    def from_yaml(cls, source: str | Path) -> Recipe:
        """Build from a YAML file path, the name of a shipped recipe (``"mi_clean"``), or YAML text.

        Examples
        --------
        >>> Recipe.from_yaml("mi_clean").name
        'mi-clean'
        """
        shipped = resource_names("recipes")
        if isinstance(source, str) and source in shipped:
            source = shipped[source]
        if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source
                                        and source.endswith((".yml", ".yaml"))):
            return cls.from_dict(read_yaml_mapping(source, "recipe"), source=str(source))
        try:
            spec = yaml.safe_load(source)
        except yaml.YAMLError as exc:
            raise ConfigError(f"recipe: invalid YAML ({exc})") from None
        return cls.from_dict(spec)

    @classmethod
    def coerce(cls, recipe) -> Recipe:
        """A :class:`Recipe` from a Recipe, a mapping, a list of steps, YAML, or ``None`` (empty)."""
        if isinstance(recipe, Recipe):
            return recipe
        if recipe is None:
            return cls([], name="none")
        if isinstance(recipe, dict):
            return cls.from_dict(recipe)
        if isinstance(recipe, (list, tuple)):
            return cls(list(recipe))
        if isinstance(recipe, (str, Path)):
            return cls.from_yaml(recipe)
        raise ConfigError(f"cannot make a recipe from {type(recipe).__name__}")

    def to_dict(self) -> dict:
        return {"name": self.name,
                "steps": [{s.name: s.get_params()} for s in self.steps]}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    # -- identity --------------------------------------------------------------
    def versions(self) -> dict[str, str]:
        """Versions of the libraries whose behaviour shapes this recipe's output."""
        out = {}
        for step in self.steps:
            for dist in step.dependencies():
                out[dist] = _installed(dist)
        return dict(sorted(out.items()))

    @functools.cached_property
    def digest(self) -> str:
        """16 hex digits of SHA-256 over the steps, their parameters and library versions."""
        spec = {"steps": self.to_dict()["steps"], "versions": self.versions()}
        identities = {f"{i}:{s.name}": s.identity() for i, s in enumerate(self.steps)}
        identities = {k: v for k, v in identities.items() if v}
        if identities:  # only steps with files behind them: other recipes keep their digests
            spec["files"] = identities
        return digest(spec)

    def __eq__(self, other) -> bool:
        return isinstance(other, Recipe) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return f"Recipe({self.name!r}: {' -> '.join(s.name for s in self.steps) or 'no steps'})"

    # -- use -------------------------------------------------------------------
    @property
    def raw_steps(self) -> list[RawStep]:
        return [s for s in self.steps if s.level == "raw"]

    @property
    def window_steps(self) -> list[WindowStep]:
        return [s for s in self.steps if s.level == "windows"]

    def causal(self) -> Recipe:
        """The variant of this recipe that uses no future sample (for pseudo-online tests)."""
        return Recipe([s.causal_variant() for s in self.steps], name=f"{self.name}-causal")

    @mne.utils.verbose
    def apply_raw(self, raw, *, copy: bool = True, verbose=None):
        """Run the raw steps on a continuous recording.

        Parameters
        ----------
        raw : mne.io.BaseRaw
            The recording; it is loaded into memory.
        copy : bool
            Work on a copy and leave ``raw`` untouched.
        %(verbose)s

        Returns
        -------
        raw : mne.io.BaseRaw
        """
        if not isinstance(raw, mne.io.BaseRaw):
            raise TypeError(f"apply_raw expects an mne.io.BaseRaw, got {type(raw).__name__}")
        raw = raw.copy() if copy else raw
        raw.load_data(verbose=False)
        for step in self.raw_steps:
            raw = step.apply(raw)
        return raw

    def apply_windows(self, X, metadata):
        """Run the window steps on ``X`` (n_windows, n_chans, n_times) and its metadata."""
        for step in self.window_steps:
            X, metadata = step.apply(X, metadata)
        return X, metadata


@functools.lru_cache(maxsize=None)
def _installed(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "absent"


def _normalise(step: Step) -> None:
    """Refuse values whose type contradicts the annotation (``l_freq: "8"``), and store
    whole numbers given for float parameters as floats, so ``8`` and ``8.0`` share a digest."""
    sig = inspect.signature(type(step).__init__)
    for name, value in step.get_params().items():
        note = str(sig.parameters[name].annotation)
        if value is None:
            if "None" not in note and sig.parameters[name].default is not None:
                raise ConfigError(f"recipe step {step.name!r}: {name} may not be null")
            continue
        wants_number = note.split("|")[0].strip() in ("float", "int")
        if wants_number and (isinstance(value, bool) or not isinstance(value, (int, float))):
            if not (isinstance(value, list) and "list" in note):
                raise ConfigError(f"recipe step {step.name!r}: {name} must be a number, "
                                  f"got {value!r}")
        if note.startswith("float") and "int" not in note:
            setattr(step, name, _as_float(value))
        if note == "bool" and not isinstance(value, bool):
            raise ConfigError(f"recipe step {step.name!r}: {name} must be true or false, "
                              f"got {value!r}")


def _as_float(value):
    if isinstance(value, list):
        return [_as_float(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value
