"""One place that resolves where data lives and whether the network may be used.

Resolution order
----------------
data root
    ``NEURODECODE_DATA``, else ``MNE_DATA`` (environment or MNE config), else
    ``~/mne_data``.
offline mode
    ``NEURODECODE_OFFLINE=1`` (also ``true``/``yes``): no download is ever
    attempted and a missing subject raises :class:`~neurodecode.errors.DataNotFoundError`.
download provider
    ``MOABB_DOWNLOAD_PROVIDER`` if set, else ``NEURODECODE_DOWNLOAD_PROVIDER``,
    else ``"upstream"``: files land where MOABB's loaders look for them, and no
    time is lost trying a mirror first.
project home
    ``NEURODECODE_HOME``, else ``~/.neurodecode``. Caches and results live
    here, never inside the data root, which may be read-only.

:func:`exported` hands these to MNE and MOABB through the environment variables
they read (``MNE_DATA``, ``MOABB_DOWNLOAD_PROVIDER``, ``MOABB_RESULTS``) for as
long as neurodecode loads data or builds a MOABB evaluation, so users never set
them by hand and the caller's environment is left as it was.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Config", "get_config", "exported"]

_TRUE = {"1", "true", "yes", "on"}
_PROVIDERS = ("auto", "nemar", "upstream")


@dataclass(frozen=True)
class Config:
    """Resolved settings; see the module docstring for the resolution order."""

    data_root: Path
    offline: bool
    download_provider: str
    home: Path

    @property
    def cache_dir(self) -> Path:
        """Folder for preprocessing caches."""
        return self.home / "cache"

    @property
    def results_dir(self) -> Path:
        """Folder for MOABB's results store and benchmark outputs."""
        return self.home / "results"


def _mne_config(key: str) -> str | None:
    # MNE's JSON config is only read when the environment says nothing, and
    # importing mne costs ~0.5 s, so do it lazily.
    if key in os.environ:
        return os.environ[key]
    from mne import get_config as mne_get_config

    return mne_get_config(key)


def get_config() -> Config:
    """Resolve the current settings from the environment.

    Returns
    -------
    config : Config
        The data root, offline flag, download provider and project home.

    Examples
    --------
    >>> from neurodecode.config import get_config
    >>> get_config().download_provider in ("auto", "nemar", "upstream")
    True
    """
    root = os.environ.get("NEURODECODE_DATA") or _mne_config("MNE_DATA") or "~/mne_data"
    provider = (
        os.environ.get("MOABB_DOWNLOAD_PROVIDER")
        or os.environ.get("NEURODECODE_DOWNLOAD_PROVIDER")
        or "upstream"
    ).lower()
    if provider not in _PROVIDERS:
        from .errors import ConfigError

        raise ConfigError(
            f"download provider {provider!r} is not one of {', '.join(_PROVIDERS)}: "
            "fix MOABB_DOWNLOAD_PROVIDER or NEURODECODE_DOWNLOAD_PROVIDER"
        )
    return Config(
        data_root=Path(root).expanduser(),
        offline=os.environ.get("NEURODECODE_OFFLINE", "").strip().lower() in _TRUE,
        download_provider=provider,
        home=Path(os.environ.get("NEURODECODE_HOME") or "~/.neurodecode").expanduser(),
    )


# MNE and MOABB read these from os.environ, which every thread shares: the first
# block to enter sets them and the last to leave restores them.
_EXPORT_LOCK = threading.Lock()
_EXPORT_DEPTH = 0
_SAVED: dict[str, str | None] = {}


@contextmanager
def exported() -> Iterator[Config]:
    """Export the settings to MNE and MOABB for the duration of the block.

    ``MNE_DATA`` and ``MOABB_DOWNLOAD_PROVIDER`` are set from the settings;
    ``MOABB_RESULTS`` only when the user has not set it, so that MOABB never
    writes its results store inside the data root. On leaving the outermost
    block every variable is restored, or removed if it was not set.

    Yields
    ------
    config : Config
        The settings that were exported (:func:`get_config`).

    Examples
    --------
    >>> import os
    >>> from neurodecode.config import exported, get_config
    >>> before = os.environ.get("MOABB_DOWNLOAD_PROVIDER")
    >>> with exported() as cfg:
    ...     os.environ["MOABB_DOWNLOAD_PROVIDER"] == cfg.download_provider
    True
    >>> os.environ.get("MOABB_DOWNLOAD_PROVIDER") == before
    True
    """
    global _EXPORT_DEPTH
    cfg = get_config()
    with _EXPORT_LOCK:
        if _EXPORT_DEPTH == 0:
            wanted = {
                "MNE_DATA": str(cfg.data_root),
                "MOABB_DOWNLOAD_PROVIDER": cfg.download_provider,
                "MOABB_RESULTS": os.environ.get("MOABB_RESULTS", str(cfg.results_dir / "moabb")),
            }
            _SAVED.update({key: os.environ.get(key) for key in wanted})
            os.environ.update(wanted)
        _EXPORT_DEPTH += 1
    try:
        yield cfg
    finally:
        with _EXPORT_LOCK:
            _EXPORT_DEPTH -= 1
            if _EXPORT_DEPTH == 0:
                for key, value in _SAVED.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
                _SAVED.clear()
