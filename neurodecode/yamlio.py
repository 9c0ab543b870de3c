"""Reading YAML definition files with errors that name the file and line."""
from __future__ import annotations

from pathlib import Path

import yaml

from .errors import ConfigError

__all__ = ["read_yaml_mapping"]


def read_yaml_mapping(path: str | Path, what: str) -> dict:
    """Load a YAML file that must hold a mapping.

    Parameters
    ----------
    path : str | Path
        The file.
    what : str
        What the file defines (``"dataset definition"``), for messages.

    Returns
    -------
    spec : dict
    """
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: invalid YAML ({getattr(exc, 'problem', exc)})") from exc
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: a {what} must be a mapping of keys")
    return spec
