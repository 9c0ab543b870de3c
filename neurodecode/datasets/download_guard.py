"""Keep dataset loading offline-safe.

MOABB and MNE fetch missing files through pooch. Inside :func:`guard_downloads`
a fetch either fails at once with :class:`~neurodecode.errors.DataNotFoundError`
(offline mode) or, when the network is down, is turned into the same error
with the path the file was expected at. Folders that a failed attempt created
are removed again, so a read-only data root stays untouched.

Nothing is patched: the guard watches through Python's audit events
(``socket.getaddrinfo``, ``socket.connect``, ``os.mkdir``; see
:func:`sys.addaudithook`) and a filter on pooch's public logger, which names the
file of every download before it starts (MOABB's download logger, which
reports a refused access and goes on, is quieted the same way). The guard in force is a context
variable, so it applies to the thread that loads and to no other: a Dask worker
or an LSL stream running beside it keeps its network. The audit hook is added
once, the first time a guard is entered, and does nothing outside a guard.
"""
from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from ..config import exported, get_config
from ..errors import DataNotFoundError

__all__ = ["guard_downloads", "ExportedCall", "GuardedLoader", "protect"]

_EVENTS = frozenset({"socket.getaddrinfo", "socket.connect", "os.mkdir"})


class _Guard:
    """What one guarded load saw: the folders it made, the files it wanted, what was refused."""

    def __init__(self, dataset: str, subject, offline: bool) -> None:
        self.dataset, self.subject, self.offline = dataset, subject, offline
        self.created: list[str] = []
        self.expected: list[str] = []
        self.refused: list[str] = []

    def error(self, reason: str) -> DataNotFoundError:
        return DataNotFoundError(self.dataset, self.subject, self.expected[-1] if self.expected else None, reason)


class _Refused(RuntimeError):
    """A network access refused offline.

    Not an :class:`OSError`: urllib3, requests and pooch would take one for a
    network failure and retry it after a sleep (pooch waits 1 s, then 2 s...).
    """


_ACTIVE: ContextVar[_Guard | None] = ContextVar("neurodecode_download_guard", default=None)
_HOOK_LOCK = threading.Lock()
_HOOKED = False


def _audit(event: str, args: tuple) -> None:
    if event not in _EVENTS:
        return
    guard = _ACTIVE.get()
    if guard is None:
        return
    if event == "os.mkdir":
        path = os.fspath(args[0])
        if not os.path.exists(path):  # the event comes before the folder is made
            guard.created.append(path)
    elif guard.offline:
        guard.refused.append(f"{event}{args[:1]}")
        raise _Refused(f"offline mode: {event}{args[:1]} refused")


def _install_hook() -> None:
    global _HOOKED
    with _HOOK_LOCK:
        if not _HOOKED:
            sys.addaudithook(_audit)
            _HOOKED = True


class _DownloadNames(logging.Filter):
    """Read the target of each pooch download from its log record; drop the record offline."""

    def __init__(self, guard: _Guard) -> None:
        super().__init__()
        self.guard = guard

    def filter(self, record: logging.LogRecord) -> bool:
        if _ACTIVE.get() is not self.guard:  # another thread's download
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        if record.msg.startswith("%s data from") and len(args) == 3:  # pooch.retrieve
            self.guard.expected.append(str(args[2]))
        elif record.msg.startswith("%s file '%s' from") and len(args) == 4:  # Pooch.fetch
            self.guard.expected.append(str(Path(args[3]) / args[1]))
        return not self.guard.offline  # "Downloading ..." and failed retries are moot offline


# Loggers that report a refused access as an error and go on (MOABB's OSF file
# listing); the guard raises the one clear error at its exit instead.
_REPORTS_REFUSALS = ("moabb.datasets.download",)


class _Refusals(logging.Filter):
    """Drop a record logged in the guard's thread after the guard refused a network access."""

    def __init__(self, guard: _Guard) -> None:
        super().__init__()
        self.guard = guard

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_ACTIVE.get() is self.guard and self.guard.refused)


def _network_errors() -> tuple[type[BaseException], ...]:
    import urllib.error

    import requests

    return (
        requests.exceptions.RequestException,
        urllib.error.URLError,
        socket.gaierror,
        socket.timeout,
        ConnectionError,
    )


@contextmanager
def guard_downloads(dataset: str, subject, offline: bool):
    """Turn any download attempt into a prompt :class:`DataNotFoundError`.

    The settings of :mod:`neurodecode.config` are exported to MNE and MOABB
    for the duration (see :func:`~neurodecode.config.exported`).

    Parameters
    ----------
    dataset : str
        Dataset code, for the error message.
    subject : int | str
        Subject being loaded, for the error message.
    offline : bool
        If True no download may start; otherwise a download may run and only
        its network failure is translated.
    """
    import pooch

    _install_hook()
    guard = _Guard(dataset, subject, offline)
    names, refusals = _DownloadNames(guard), _Refusals(guard)
    token = _ACTIVE.set(guard)
    pooch.get_logger().addFilter(names)
    for name in _REPORTS_REFUSALS:
        logging.getLogger(name).addFilter(refusals)
    try:
        with exported():
            yield
        if guard.refused:  # some loaders swallow the failed download and go on
            raise guard.error("offline mode: the files would have to be downloaded")
    except BaseException as exc:
        _remove_empty(guard.created)
        if isinstance(exc, DataNotFoundError):
            raise
        if guard.refused:  # our refusal, or what a library made of it
            raise guard.error("offline mode: a network access was refused") from exc
        if isinstance(exc, _network_errors()):
            raise guard.error(f"download failed: {exc}") from exc
        raise
    finally:
        _ACTIVE.reset(token)
        pooch.get_logger().removeFilter(names)
        for name in _REPORTS_REFUSALS:
            logging.getLogger(name).removeFilter(refusals)


def _remove_empty(folders: list[str]) -> None:
    for folder in reversed(folders):
        try:
            os.rmdir(folder)
        except OSError:  # not empty, or already gone: leave it
            pass


class _OnInstance:
    """Picklable stand-in for one method of a dataset instance (a MOABB worker gets it too)."""

    def __init__(self, dataset, method: str) -> None:
        self.dataset, self.method = dataset, method

    def _original(self):
        return getattr(type(self.dataset), self.method)


class ExportedCall(_OnInstance):
    """Run the method with the settings exported: MOABB's ``get_data`` resolves its cache and provider there."""

    def __call__(self, *args, **kwargs):
        with exported():
            return self._original()(self.dataset, *args, **kwargs)


class GuardedLoader(_OnInstance):
    """Run a per-subject loading method under :func:`guard_downloads`."""

    def __call__(self, subject, *args, **kwargs):
        with guard_downloads(self.dataset.code, subject, get_config().offline):
            return self._original()(self.dataset, subject, *args, **kwargs)


def protect(dataset):
    """Make a MOABB dataset instance offline-safe, in place.

    ``get_data``, ``data_path`` and ``_get_single_subject_data`` are wrapped on
    the instance, so MOABB's own paradigms and evaluations go through the guard
    too.

    Parameters
    ----------
    dataset : moabb.datasets.base.BaseDataset
        The dataset to protect.

    Returns
    -------
    dataset : moabb.datasets.base.BaseDataset
        The same instance.
    """
    dataset.get_data = ExportedCall(dataset, "get_data")
    for method in ("data_path", "_get_single_subject_data"):
        setattr(dataset, method, GuardedLoader(dataset, method))
    return dataset
