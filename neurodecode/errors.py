"""Exception types raised by neurodecode.

Every error names what is wrong (the file, dataset or subject) and what to do
about it, so that the command line can print it as a single line.
"""
from __future__ import annotations

from pathlib import Path

from .utils import did_you_mean

__all__ = [
    "check_option",
    "check_params",
    "accepted_params",
    "NeurodecodeError",
    "ConfigError",
    "DataNotFoundError",
    "UnreadableFileError",
    "UnsupportedFormatError",
    "MissingEventsError",
    "InvalidDataError",
    "ChannelMismatchError",
    "StreamError",
    "UnknownNameError",
]


class NeurodecodeError(Exception):
    """Base class of every error that neurodecode raises on purpose."""


class ConfigError(NeurodecodeError, ValueError):
    """A configuration or definition file is invalid."""


class UnknownNameError(NeurodecodeError, KeyError):
    """A dataset, pipeline or step name is not known.

    Parameters
    ----------
    kind : str
        What was looked up, e.g. ``"dataset"``.
    name : str
        The name that was asked for.
    choices : list of str
        The valid names; the closest ones are listed in the message.
    listing : str | None
        Where the user finds every valid name (``"`neurodecode datasets`"``).
    """

    def __init__(self, kind: str, name: str, choices, listing: str | None = None) -> None:
        self.kind, self.name = kind, name
        more = f" ({listing} lists them all)" if listing else ""
        super().__init__(f"unknown {kind} {name!r}: {did_you_mean(name, choices)}{more}")

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class DataNotFoundError(NeurodecodeError, FileNotFoundError):
    """The files of a dataset subject are not on disk and cannot be downloaded.

    Parameters
    ----------
    dataset : str
        Dataset code.
    subject : int | str
        Subject identifier.
    path : str | Path | None
        Where the files were expected.
    reason : str
        Why they could not be obtained.
    """

    def __init__(self, dataset: str, subject, path=None, reason: str = "") -> None:
        self.dataset, self.subject = dataset, subject
        self.path = None if path is None else Path(path)
        where = f" expected at {self.path}" if self.path is not None else ""
        why = f" ({reason})" if reason else ""
        super().__init__(
            f"{dataset} subject {subject}: files not found{where}{why}. "
            "Download them on a machine with internet (unset NEURODECODE_OFFLINE), "
            "or point NEURODECODE_DATA at the folder that holds them."
        )

    def __str__(self) -> str:
        return self.args[0]


class _FileError(NeurodecodeError):
    """An error about one file: the message starts with the file's path."""

    def __init__(self, path, problem: str) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path}: {problem}")


class UnreadableFileError(_FileError, OSError):
    """A recording cannot be read: corrupt, truncated or not what it claims."""

    def __str__(self) -> str:  # OSError formats args differently
        return self.args[0]


class UnsupportedFormatError(_FileError, ValueError):
    """A recording has an extension that no reader handles."""


class MissingEventsError(_FileError, ValueError):
    """A recording has none of the declared events."""


class InvalidDataError(_FileError, ValueError):
    """A recording holds invalid values (NaN or infinite samples)."""


class ChannelMismatchError(_FileError, ValueError):
    """A recording lacks declared channels, or its channels differ from what is expected."""


class StreamError(NeurodecodeError, RuntimeError):
    """A live (LSL) stream cannot be found, or it vanished while being decoded."""


def check_option(kind: str, value, choices) -> None:
    """Raise :class:`UnknownNameError` (with close matches) unless ``value`` is one of ``choices``.

    Examples
    --------
    >>> check_option("engine", "dask", ["local", "dask"])
    >>> check_option("engine", "dsak", ["local", "dask"])
    Traceback (most recent call last):
    ...
    neurodecode.errors.UnknownNameError: unknown engine 'dsak': did you mean dask?
    """
    if value not in choices:
        raise UnknownNameError(kind, str(value), [str(c) for c in choices])


def accepted_params(target) -> set[str] | None:
    """Keyword names ``target`` (a class or function) accepts, following ``**kwargs`` up the MRO.

    None when it accepts any name.
    """
    import inspect

    owners = [c for c in target.__mro__ if "__init__" in vars(c) and c is not object] \
        if inspect.isclass(target) else [target]
    names: set[str] = set()
    for owner in owners:
        func = owner.__init__ if inspect.isclass(owner) else owner
        params = inspect.signature(func).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return names - {"self"}
    return None if not inspect.isclass(target) else names - {"self"}


def check_params(what: str, target, params: dict) -> None:
    """Raise :class:`UnknownNameError` for a parameter that ``target`` does not accept.

    Examples
    --------
    >>> def build(n_subjects=1, snr=1.0): ...
    >>> check_params("dataset SyntheticMI", build, {"snr": 2.0})
    >>> check_params("dataset SyntheticMI", build, {"nsr": 2.0})
    Traceback (most recent call last):
    ...
    neurodecode.errors.UnknownNameError: unknown parameter of dataset SyntheticMI 'nsr': did you mean snr?
    """
    valid = accepted_params(target)
    if valid is None:
        return
    for key in params:
        if key not in valid:
            raise UnknownNameError(f"parameter of {what}", str(key), sorted(valid))
