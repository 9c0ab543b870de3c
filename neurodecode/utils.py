"""Small helpers shared by every stage, written once.

This module imports nothing from neurodecode, so any module can use it
without creating an import cycle: atomic writes, digests, natural sorting,
close-match suggestions, the shipped resource files and the ``"idle"`` label.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Callable, Iterable, Iterator

__all__ = ["IDLE", "atomic_write", "write_atomic_bytes", "digest", "natural_key", "close_matches",
           "did_you_mean", "resource_path", "resource_names", "lazy_exports", "progress", "UNIT_POWERS",
           "unit_power"]

#: The label of "no task" (rest or no stimulus) in sliding windows and pseudo-online decisions.
IDLE = "idle"

#: Units a recording file or a stream may declare, as powers of ten of the SI unit (V, T): the one table.
UNIT_POWERS = {"V": 0, "mV": -3, "uV": -6, "µV": -6, "nV": -9, "T": 0, "fT": -15}
_UNIT_WORDS = {"volts": "V", "millivolts": "mV", "microvolts": "uV", "nanovolts": "nV", "tesla": "T",
               "femtotesla": "fT"}


def unit_power(unit) -> int | None:
    """The power of ten of a declared unit, None if unknown.

    ``unit`` is a symbol of :data:`UNIT_POWERS` or its name in any case
    (``"microvolts"``, as LSL streams often say), or the power itself as text
    (``"-6"``, LSL's numeric convention).

    Examples
    --------
    >>> unit_power("microvolts"), unit_power("uV"), unit_power("-6"), unit_power("volts"), unit_power("furlong")
    (-6, -6, -6, 0, None)
    """
    text = str(unit).strip()
    try:
        return int(float(text))
    except (ValueError, OverflowError):  # not a number, or "nan"/"inf"
        pass
    symbol = _UNIT_WORDS.get(text.lower(), text)
    return {k.lower(): v for k, v in UNIT_POWERS.items()}.get(symbol.lower())


@contextmanager
def atomic_write(path: str | Path, *, fsync: bool = True) -> Iterator[Path]:
    """Write ``path`` through a temporary sibling that replaces it only when complete.

    A crash or kill leaves the previous file, never half a file. The caller
    writes to the yielded temporary path; on error it is removed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "table.csv"
    >>> with atomic_write(target) as tmp:
    ...     _ = tmp.write_text("a,b\\n1,2\\n")
    >>> target.read_text().splitlines()
    ['a,b', '1,2']
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        if fsync and tmp.exists():
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_atomic_bytes(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` (bytes or text) to ``path`` atomically; see :func:`atomic_write`."""
    with atomic_write(path) as tmp:
        if isinstance(data, str):
            tmp.write_text(data)
        else:
            tmp.write_bytes(data)
    return Path(path)


def digest(obj, length: int = 16) -> str:
    """Hex digits of SHA-256 over ``obj`` as canonical JSON (sorted keys, no spaces).

    Examples
    --------
    >>> digest({"b": 1, "a": [1, 2]}) == digest({"a": [1, 2], "b": 1})
    True
    >>> len(digest("x", length=8))
    8
    """
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


_DIGITS = re.compile(r"(\d+)")


def natural_key(text) -> tuple:
    """Sort key that orders digit runs by value: ``run2`` before ``run10``, ``"2"`` before ``"10"``.

    Examples
    --------
    >>> sorted(["run10", "run2", "run1b"], key=natural_key)
    ['run1b', 'run2', 'run10']
    >>> sorted(["10", "9", "1"], key=natural_key)
    ['1', '9', '10']
    """
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in _DIGITS.split(str(text)) if t)


def close_matches(name: str, choices: Iterable[str], n: int = 5) -> list[str]:
    """The choices closest to ``name``: difflib matches, then those containing it (any case)."""
    choices = sorted({str(c) for c in choices})
    close = difflib.get_close_matches(str(name), choices, n=n, cutoff=0.5)
    lowered = [c for c in choices if str(name).lower() in c.lower() and c not in close]
    return (close + lowered)[:n]


#: names that neurodecode once used, and what they are called now
RENAMED = {
    "seed": ("random_state", "as in scikit-learn"),
    "FilterBank": ("WindowFilterBank", "the recipe step is filter_bank, MOABB's own class is PerBandFilterBank"),
}


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``"did you mean A, B?"``, or the full list when nothing is close.

    Examples
    --------
    >>> did_you_mean("TS+RL", ["TS+LR", "MDM", "CSP+LDA"])
    'did you mean TS+LR, CSP+LDA?'
    >>> did_you_mean("seed", ["n_trials", "random_state"])
    'did you mean random_state? (seed was renamed random_state: as in scikit-learn)'
    """
    choices = sorted({str(c) for c in choices})
    new, why = RENAMED.get(name, (None, ""))
    if new in choices:
        return f"did you mean {new}? ({name} was renamed {new}: {why})"
    close = close_matches(name, choices)
    if close:
        return f"did you mean {', '.join(close)}?"
    if len(choices) > 20:  # a wall of names helps nobody
        return f"no close match among {len(choices)} names"
    return f"choose from {', '.join(choices)}"


def resource_path(*parts: str) -> Path:
    """Path of a definition file shipped inside the package (``resources/...``).

    The package is always installed as plain files (no zip), so the path can
    be opened directly.

    Examples
    --------
    >>> resource_path("benchmarks", "quickstart.yml").is_file()
    True
    """
    return Path(str(files("neurodecode").joinpath("resources", *parts)))


def resource_names(folder: str, accept: Callable[[Path], bool] = lambda p: True) -> dict[str, Path]:
    """Shipped ``*.yml`` files of a resource folder by stem: ``{"quickstart": Path(...)}``.

    Examples
    --------
    >>> "mi_clean" in resource_names("recipes")
    True
    """
    root = resource_path(folder)
    return {p.stem: p for p in sorted(root.glob("*.yml")) if accept(p)}


def progress(iterable, total: int | None = None, desc: str = "", unit: str = "run"):
    """A tqdm bar with an ETA over long work, shown on a terminal only and cleared when done, so it
    neither fills logs nor stays under the benchmark's own bar.

    Examples
    --------
    >>> sum(progress(range(3), desc="demo"))
    3
    """
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=False, disable=None)


def lazy_exports(package: str, exports: dict[str, str]):
    """``__getattr__`` and ``__dir__`` for a package whose public names load on first use (PEP 562).

    ``exports`` maps each public name to its submodule, so importing the
    package itself costs nothing: heavy libraries (torch, MOABB) load only
    with the name that needs them.

    Examples
    --------
    >>> getattr_, dir_ = lazy_exports("neurodecode", {"atomic_write": "utils"})
    >>> getattr_("atomic_write") is atomic_write
    True
    """
    import importlib

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__

