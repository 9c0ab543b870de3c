"""The step protocol shared by every recipe step, and the step registry.

A step is a small object with plain parameters. Raw-level steps transform a
continuous :class:`mne.io.BaseRaw` in place; window-level steps transform a
``(X, metadata)`` pair after windowing. Every subclass registers itself under
its ``name`` so that recipes can refer to it from YAML.
"""
from __future__ import annotations

import inspect
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError, InvalidDataError, UnknownNameError

__all__ = ["Step", "RawStep", "WindowStep", "STEPS", "make_step", "where", "data_channels"]

STEPS: dict[str, type[Step]] = {}


def data_channels(info, *, misc: bool = False) -> np.ndarray:
    """Indices of the data channels of ``info``: MEG, EEG, sEEG, ECoG, DBS and fNIRS sensors (what
    steps filter and audits measure), and with ``misc=True`` also misc channels (what windows carry);
    never stim channels. The one definition every stage uses.

    Examples
    --------
    >>> import mne
    >>> info = mne.create_info(["C3", "C4", "EOG", "STI"], 250.0, ["eeg", "eeg", "misc", "stim"])
    >>> data_channels(info).tolist(), data_channels(info, misc=True).tolist()
    ([0, 1], [0, 1, 2])
    """
    import mne

    return mne.pick_types(info, meg=True, eeg=True, seeg=True, ecog=True, dbs=True, fnirs=True, misc=misc,
                          exclude=[])


class Step:
    """Base class of recipe steps.

    Subclasses declare every parameter as a keyword of ``__init__`` and store
    it unchanged under the same attribute name (the scikit-learn convention),
    which is what makes a step serialisable and its digest stable.
    """

    name: ClassVar[str] = ""
    level: ClassVar[str] = ""
    #: distributions whose version changes the output (part of the digest)
    libraries: ClassVar[tuple[str, ...]] = ("mne", "numpy", "scipy")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.name:
            STEPS[cls.name] = cls

    def dependencies(self) -> tuple[str, ...]:
        """Distributions whose version is part of this step's digest."""
        return self.libraries

    @classmethod
    def param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        return {p: _plain(getattr(self, p)) for p in self.param_names()}

    #: steps that never look ahead, whatever their parameters
    always_causal: ClassVar[bool] = False

    @property
    def is_causal(self) -> bool:
        """Whether the output at time t uses only samples up to t."""
        return bool(getattr(self, "causal", self.always_causal))

    def rate_problem(self, sfreq: float) -> str | None:
        """Why this step cannot run on data at ``sfreq`` Hz (checked before any work), or None."""
        return None

    def identity(self) -> dict:
        """What shapes the output besides parameters and library versions (e.g. a model file's hash)."""
        return {}

    def causal_variant(self) -> Step:
        """This step in the form that uses no future sample.

        Raises :class:`~neurodecode.errors.ConfigError` when none exists.
        """
        if self.is_causal:
            return self
        if "causal" in self.param_names():
            return type(self)(**{**self.get_params(), "causal": True})
        raise ConfigError(f"recipe step {self.name!r} has no causal form; pseudo-online "
                          "evaluation cannot use it on the test stream")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{self.name}({args})"


class RawStep(Step):
    """A step acting on a continuous recording."""

    level = "raw"
    #: whether the step needs electrode positions on the data
    needs_positions: ClassVar[bool] = False

    def apply(self, raw):
        """Transform ``raw`` in place and return it (or a new Raw)."""
        raise NotImplementedError

    def streaming_stage(self, info):
        """``(process, info_out)`` for a live stream: ``process`` maps each ``(n_channels, n)`` chunk to the
        step's output so far, keeping its state. By default the step must act on each sample alone, and its
        channel map is measured on probe data (:func:`~neurodecode.preprocessing.stages.linear_stage`);
        steps with memory override this."""
        from .stages import linear_stage

        return linear_stage(self, info)


class WindowStep(Step):
    """A step acting on windows ``X`` (n_windows, n_chans, n_times) and their metadata."""

    level = "windows"

    def apply(self, X: np.ndarray, metadata):
        """Return ``(X, metadata)`` transformed; rows may be dropped."""
        raise NotImplementedError


def make_step(spec) -> Step:
    """Build a step from ``Step`` | ``"name"`` | ``{"name": {params}}`` | ``("name", {params})``."""
    if isinstance(spec, Step):
        return spec
    if isinstance(spec, str):
        name, params = spec, {}
    elif isinstance(spec, dict) and len(spec) == 1:
        (name, params), = spec.items()
        params = params or {}
    elif isinstance(spec, (tuple, list)) and len(spec) == 2:
        name, params = spec
    else:
        raise ConfigError(f"a recipe step must be a name or a one-key mapping "
                          f"{{name: {{parameters}}}}, got {spec!r}")
    if name not in STEPS:
        raise UnknownNameError("recipe step", str(name), sorted(STEPS))
    cls = STEPS[name]
    if not isinstance(params, dict):
        raise ConfigError(f"parameters of recipe step {name!r} must be a mapping, got {params!r}")
    unknown = sorted(set(params) - set(cls.param_names()))
    if unknown:
        raise ConfigError(f"recipe step {name!r} has no parameter {', '.join(map(repr, unknown))}; "
                          f"valid parameters: {', '.join(cls.param_names())}")
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"recipe step {name!r}: {exc}") from None


def where(raw) -> str:
    """How errors name a recording: its file name, or its subject/session/run tag."""
    tag = raw.info.get("description") or ""
    if tag.startswith("neurodecode:"):
        return tag[len("neurodecode:"):]
    fnames = getattr(raw, "filenames", None) or [None]
    return str(fnames[0]) if fnames[0] else "recording"


def check_positions(raw, step: str) -> None:
    """Raise a clear error when a step needs electrode positions and the data has none."""
    from mne import pick_types

    picks = pick_types(raw.info, eeg=True, meg=True, exclude=[])
    locs = np.array([raw.info["chs"][p]["loc"][:3] for p in picks]) if len(picks) else np.zeros((0, 3))
    missing = [raw.ch_names[p] for p, loc in zip(picks, locs)
               if not np.all(np.isfinite(loc)) or not np.any(loc)]
    if len(picks) == 0 or missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise InvalidDataError(where(raw), f"step {step!r} needs electrode positions but "
                               f"{len(missing)} channel(s) have none ({shown}); add a "
                               "'montage' step before it")


def _plain(value):
    """Parameters as plain YAML/JSON types (tuples become lists)."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value
