"""Keep dataset loading offline-safe.

MOABB and MNE fetch missing files through pooch. Inside :func:`guard_downloads`
a fetch either fails at once with :class:`~neurodecode.errors.DataNotFoundError`
(offline mode) or, when the network is down, is turned into the same error
with the path the file was expected at. Folders that a failed attempt created
are removed again, so a read-only data root stays untouched.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from contextlib import contextmanager
from unittest import mock

from ..errors import DataNotFoundError

__all__ = ["guard_downloads", "GuardedLoader", "protect"]

_LOCK = threading.RLock()


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
    import pooch.core

    created: list[str] = []
    expected: list[str] = []
    refused: list[str] = []
    real_mkdir, real_stream = os.mkdir, pooch.core.stream_download

    def mkdir(path, *args, **kwargs):
        real_mkdir(path, *args, **kwargs)
        created.append(os.fspath(path))

    def stream_download(url, fname, *args, **kwargs):
        expected.append(os.fspath(fname))
        if offline:
            refused.append(url)
            raise DataNotFoundError(dataset, subject, fname, "offline mode: no download attempted")
        return real_stream(url, fname, *args, **kwargs)

    def no_network(*args, **kwargs):
        refused.append(str(args[:1]))
        raise DataNotFoundError(
            dataset, subject, expected[-1] if expected else None,
            "offline mode: a network access was refused",
        )

    patches = [mock.patch("os.mkdir", mkdir), mock.patch("pooch.core.stream_download", stream_download)]
    if offline:
        patches += [
            mock.patch("socket.socket.connect", no_network),
            mock.patch("socket.getaddrinfo", no_network),
        ]
    # pooch announces "Downloading ..." and loaders log their failed retries: moot offline
    quiet = [pooch.core.get_logger(), logging.getLogger("moabb")] if offline else []
    levels = [log.level for log in quiet]
    with _LOCK:
        for p in patches:
            p.start()
        for log in quiet:
            log.setLevel(logging.CRITICAL)
        try:
            yield
            if refused:  # some loaders swallow the failed download and go on
                raise DataNotFoundError(
                    dataset, subject, expected[-1] if expected else None,
                    "offline mode: the files would have to be downloaded",
                )
        except BaseException as exc:
            _remove_empty(created)
            if isinstance(exc, _network_errors()) and not isinstance(exc, DataNotFoundError):
                path = expected[-1] if expected else None
                raise DataNotFoundError(dataset, subject, path, f"download failed: {exc}") from exc
            raise
        finally:
            for p in reversed(patches):
                p.stop()
            for log, level in zip(quiet, levels):
                log.setLevel(level)


def _remove_empty(folders: list[str]) -> None:
    for folder in reversed(folders):
        try:
            os.rmdir(folder)
        except OSError:  # not empty, or already gone: leave it
            pass


class GuardedLoader:
    """Picklable wrapper that runs one loading method of a dataset under the guard."""

    def __init__(self, dataset, method: str) -> None:
        self.dataset, self.method = dataset, method

    def __call__(self, subject, *args, **kwargs):
        from ..config import get_config

        original = getattr(type(self.dataset), self.method)
        with guard_downloads(self.dataset.code, subject, get_config().offline):
            return original(self.dataset, subject, *args, **kwargs)


def protect(dataset):
    """Make a MOABB dataset instance offline-safe, in place.

    ``data_path`` and ``_get_single_subject_data`` are wrapped on the instance,
    so MOABB's own paradigms and evaluations go through the guard too.

    Parameters
    ----------
    dataset : moabb.datasets.base.BaseDataset
        The dataset to protect.

    Returns
    -------
    dataset : moabb.datasets.base.BaseDataset
        The same instance.
    """
    for method in ("data_path", "_get_single_subject_data"):
        setattr(dataset, method, GuardedLoader(dataset, method))
    return dataset
