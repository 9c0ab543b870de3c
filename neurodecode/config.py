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

:func:`apply` hands these to MNE and MOABB through the environment variables
they read (``MNE_DATA``, ``MOABB_DOWNLOAD_PROVIDER``, ``MOABB_RESULTS``), so
users never set them by hand.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Config", "get_config", "apply"]

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


def apply() -> Config:
    """Resolve the settings and export them to MNE and MOABB.

    ``MOABB_RESULTS`` is only set when the user has not set it, so that MOABB
    never writes its results store inside the data root.

    Returns
    -------
    config : Config
        The settings that were applied.
    """
    cfg = get_config()
    os.environ["MNE_DATA"] = str(cfg.data_root)
    os.environ["MOABB_DOWNLOAD_PROVIDER"] = cfg.download_provider
    os.environ.setdefault("MOABB_RESULTS", str(cfg.results_dir / "moabb"))
    return cfg
