"""Exception types raised by neurodecode.

Every error names what is wrong (the file, dataset or subject) and what to do
about it, so that the command line can print it as a single line.
"""
from __future__ import annotations

from pathlib import Path

__all__ = [
    "NeurodecodeError",
    "ConfigError",
    "DataNotFoundError",
    "UnreadableFileError",
    "UnsupportedFormatError",
    "MissingEventsError",
    "InvalidDataError",
    "ChannelMismatchError",
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
    """

    def __init__(self, kind: str, name: str, choices) -> None:
        import difflib

        self.kind, self.name = kind, name
        choices = sorted(choices)
        close = difflib.get_close_matches(name, choices, n=5, cutoff=0.5)
        lowered = [c for c in choices if name.lower() in c.lower() and c not in close]
        close = (close + lowered)[:5]
        hint = f"did you mean {', '.join(close)}?" if close else f"choose from {', '.join(choices)}"
        super().__init__(f"unknown {kind} {name!r}: {hint}")

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
