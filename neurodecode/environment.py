"""What this installation runs on, and one clear error when a compiled part of it does not load.

- :func:`environment` describes the run: Python, neurodecode (version and git
  commit when it runs from a clone), the versions of the libraries that shape
  the numbers, the CPU and the GPU. Benchmarks write it to
  ``environment.json`` and tag every result row with its :func:`digest`.
- :func:`require` imports a library with a compiled part (torch, torchaudio,
  braindecode, mne-lsl's liblsl). When one does not load it raises
  :class:`BrokenEnvironmentError`: one line naming the package, the two
  versions involved and the command that fixes it, instead of a traceback
  from deep inside an import.
- :func:`check_device` does the same for a CUDA device that was asked for
  but is not there.

Nothing here imports torch or MNE at import time.
"""
from __future__ import annotations

import importlib
import importlib.metadata as metadata
import os
import platform
import re
import subprocess
from functools import lru_cache
from pathlib import Path

from .errors import NeurodecodeError
from .utils import digest as _digest

__all__ = ["BrokenEnvironmentError", "environment", "environment_digest", "package_versions", "require",
           "diagnose", "check_device", "git_commit", "describe_difference", "sys_info",
           "current_environment", "neurodecode_version", "version_line",
           "RECORDED"]

#: Distributions whose versions go into every ``environment.json`` (what shapes a benchmark's numbers).
RECORDED = ("mne", "moabb", "braindecode", "pyriemann", "scikit-learn", "torch", "torchaudio", "numpy",
            "scipy", "pandas", "skorch", "mne-lsl", "dask", "distributed")

#: Modules with a compiled part, in the order they load: a failure is blamed on the first that fails.
_CHAINS = {
    "torch": ("torch",),
    "torchaudio": ("torch", "torchaudio"),
    "braindecode": ("torch", "torchaudio", "braindecode"),
    "mne_lsl": ("mne_lsl.lsl",),
}
#: module -> (its distribution, the distribution its compiled part was built against).
_PARTS = {
    "torch": ("torch", None),
    "torchaudio": ("torchaudio", "torch"),
    "braindecode": ("braindecode", "torch"),
    "mne_lsl.lsl": ("mne-lsl", None),
}
#: What an import error says when a shared library failed to load, rather than a module being absent.
_LOAD_FAILURE = re.compile(r"undefined symbol|cannot open shared object|\.so\b|\.dylib|\.dll|DLL load failed|"
                           r"Library not loaded|liblsl|symbol not found|wrong ELF class|version `GLIBC",
                           re.IGNORECASE)


class BrokenEnvironmentError(NeurodecodeError, ImportError):
    """A library neurodecode needs is installed but its compiled part does not load, or a
    device that was asked for is absent. The message names the package, the versions
    involved and the command that fixes it."""

    def __str__(self) -> str:  # ImportError would add nothing, but keep one line
        return self.args[0]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def package_versions(names=RECORDED) -> dict[str, str | None]:
    """Installed version of each distribution in ``names`` (None when absent), without importing them.

    Examples
    --------
    >>> package_versions(["numpy", "no-such-package"])["no-such-package"] is None
    True
    """
    return {name: _version(name) for name in names}


def _repo_root() -> Path | None:
    """The clone neurodecode runs from (an editable install), else None."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / ".git").exists() and (root / "pyproject.toml").is_file() else None


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """``<commit>`` of the clone neurodecode runs from, ``<commit>+dirty`` when tracked files
    differ from it; None for an installed wheel, or without git."""
    root = _repo_root()
    if root is None:
        return None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+dirty" if dirty else commit


def _cpu() -> str:
    try:  # platform.processor() is empty or just "x86_64" on Linux
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu() -> str | None:
    """Name of the CUDA device networks run on under ``device="auto"``, else None."""
    if _version("torch") is None:
        return None
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # noqa: BLE001  (a broken torch is reported by require(), not here)
        return None


def neurodecode_version() -> str:
    """neurodecode's installed version."""
    # from the installed metadata: importing the package facade here would tie this base
    # module to the stages it lazily re-exports
    return _version("neurodecode") or "unknown (not installed)"


def version_line() -> str:
    """``neurodecode <version>``, with the git commit when it runs from a clone.

    Examples
    --------
    >>> version_line().startswith("neurodecode ")
    True
    """
    commit = git_commit()
    return f"neurodecode {neurodecode_version()}" + (f" (git {commit})" if commit else "")


def environment() -> dict:
    """What this run executes on, as JSON-ready data.

    Returns
    -------
    env : dict
        ``python``, ``platform``, ``neurodecode`` (``version``, ``commit``),
        ``packages`` (:data:`RECORDED` to versions), ``cpu``, ``n_cpus`` and
        ``gpu`` (the CUDA device networks use, or None).

    Examples
    --------
    >>> env = environment()
    >>> sorted(env)
    ['cpu', 'gpu', 'n_cpus', 'neurodecode', 'packages', 'platform', 'python']
    >>> env["packages"]["numpy"] is not None
    True
    """
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "neurodecode": {"version": neurodecode_version(), "commit": git_commit()},
        "packages": package_versions(),
        "cpu": _cpu(),
        "n_cpus": os.cpu_count(),
        "gpu": _gpu(),
    }


def environment_digest(env: dict) -> str:
    """A short digest of an :func:`environment`: rows with equal digests ran on equal setups."""
    return _digest(env)[:12]


@lru_cache(maxsize=1)
def current_environment() -> tuple[dict, str]:
    """``(environment(), its digest)`` of this process, computed once."""
    env = environment()
    return env, environment_digest(env)


def describe_difference(envs: list[dict]) -> list[str]:
    """``"field: a / b"`` for each field that differs between environments.

    Examples
    --------
    >>> a = {"python": "3.11.7", "packages": {"mne": "1.8.0", "numpy": "2.1"}}
    >>> b = {"python": "3.11.7", "packages": {"mne": "1.9.0", "numpy": "2.1"}}
    >>> describe_difference([a, b])
    ['mne: 1.8.0 / 1.9.0']
    """
    def flat(env: dict) -> dict:
        out = {k: v for k, v in env.items() if not isinstance(v, dict)}
        out.update({("neurodecode " + k if k != "version" else "neurodecode"): v
                    for k, v in env.get("neurodecode", {}).items()})
        out.update(env.get("packages", {}))
        return out

    flats = [flat(e) for e in envs]
    keys = list(dict.fromkeys(k for f in flats for k in f))
    return [f"{k}: {' / '.join(str(f.get(k)) for f in flats)}" for k in keys
            if len({str(f.get(k)) for f in flats}) > 1]


# -- compiled parts that must load ------------------------------------------------------------

def _declared(dist: str) -> str | None:
    """neurodecode's own requirement on ``dist``, as pip takes it (``'torch<2.12,>=2.11'``)."""
    from packaging.requirements import Requirement

    for line in metadata.requires("neurodecode") or []:
        req = Requirement(line)
        if req.name.lower() == dist.lower() and not req.marker:
            return f"{req.name}{req.specifier}"
    return None


def _fix_command(dists: list[str]) -> str:
    root = _repo_root()
    if root is not None and (root / "requirements.lock").is_file():
        return f"pip install -r {root / 'requirements.lock'}"
    specs = [_declared(d) or d for d in dists]
    return "pip install --force-reinstall " + " ".join(f"'{s}'" for s in specs)


def _first_line(exc: BaseException) -> str:
    """The first line of ``exc``, or of the error under it when that says more: torch's
    ``load_library`` hides the loader's "undefined symbol" line behind "Could not load"."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and isinstance(cause, OSError) and _LOAD_FAILURE.search(str(cause)):
        return str(cause).strip().splitlines()[0]
    return line


def _broken(module: str, exc: BaseException) -> BrokenEnvironmentError:
    dist, partner = _PARTS[module]
    mine = f"{dist} {_version(dist) or '(version unknown)'}"
    if isinstance(exc, ModuleNotFoundError) and exc.name and exc.name.split(".")[0] == module.split(".")[0]:
        return BrokenEnvironmentError(f"{dist} is not installed (Python {platform.python_version()}); "
                                      f"fix: {_fix_command([dist])}")
    if dist == "mne-lsl":
        lib = os.environ.get("MNE_LSL_LIB") or os.environ.get("PYLSL_LIB")
        source = f"the liblsl at {lib} (MNE_LSL_LIB)" if lib else "its bundled liblsl"
        return BrokenEnvironmentError(f"{mine} cannot load {source}: {_first_line(exc)}; fix: "
                                      f"{_fix_command(['mne-lsl'])}" + (" and unset MNE_LSL_LIB" if lib else ""))
    against = (f"with {partner} {_version(partner) or '(not installed)'}" if partner
               else f"on Python {platform.python_version()}")
    return BrokenEnvironmentError(f"{mine} does not load {against} ({_first_line(exc)}); fix: "
                                  f"{_fix_command([partner, dist] if partner else [dist])}")


def require(name: str):
    """Import ``name`` (``"torch"``, ``"torchaudio"``, ``"braindecode"`` or ``"mne_lsl"``) and
    what it loads first; raise :class:`BrokenEnvironmentError` naming the first part that fails.

    Examples
    --------
    >>> require("mne_lsl").__name__
    'mne_lsl'
    """
    from .errors import check_option

    check_option("compiled library", name, list(_CHAINS))
    for module in _CHAINS[name]:
        try:
            importlib.import_module(module)
        except (ImportError, OSError, RuntimeError) as exc:
            raise _broken(module, exc) from None
    return importlib.import_module(name)


def diagnose(exc: BaseException) -> BrokenEnvironmentError | None:
    """The :class:`BrokenEnvironmentError` behind an import failure caught elsewhere, or None
    when ``exc`` is not a compiled library that failed to load."""
    if isinstance(exc, BrokenEnvironmentError):
        return exc
    if not isinstance(exc, (ImportError, OSError)):
        return None
    if isinstance(exc, OSError) and not isinstance(exc, ImportError) and not _LOAD_FAILURE.search(str(exc)):
        return None  # a missing or unreadable data file, not a library
    for name in _CHAINS:
        try:
            require(name)
        except BrokenEnvironmentError as broken:
            return broken
        except Exception:  # noqa: BLE001  (some other fault of that library: not ours to explain)
            continue
    return None


def check_device(device: str) -> None:
    """Raise :class:`BrokenEnvironmentError` when ``device`` names CUDA but torch has none.

    ``"auto"`` and ``"cpu"`` always pass: ``"auto"`` falls back to the CPU.

    Examples
    --------
    >>> check_device("cpu")
    """
    if not str(device).startswith("cuda"):
        return
    torch = require("torch")
    if torch.cuda.is_available():
        return
    build = torch.version.cuda
    driver = _nvidia_driver()
    have = f"torch {torch.__version__} (" + (f"built for CUDA {build}" if build else "a CPU-only build") + ")"
    where = f"NVIDIA driver {driver}" if driver else "no NVIDIA driver on this machine"
    fix = ("use device='auto' (it falls back to the CPU) or 'cpu'" if not driver or not build else
           f"install the torch build for this driver's CUDA version: pip install --force-reinstall "
           f"'torch=={torch.__version__.split('+')[0]}' --index-url https://download.pytorch.org/whl/cu<version>, "
           "or use device='auto'")
    raise BrokenEnvironmentError(f"device={device!r} asks for CUDA, but {have} finds no CUDA device "
                                 f"({where}); fix: {fix}")


def _nvidia_driver() -> str | None:
    try:
        text = Path("/proc/driver/nvidia/version").read_text()
    except OSError:
        return None
    found = re.search(r"Kernel Module\s+(?:for\s+\S+\s+)?([\d.]+)", text)
    return found.group(1) if found else "(version unknown)"


def _part(name: str, detail) -> tuple[str, bool]:
    """``(what to print, loaded)`` for one compiled part."""
    try:
        module = require(name)
    except BrokenEnvironmentError as exc:
        return f"FAILS: {exc}", False
    return f"loads ({detail(module)})", True


def sys_info() -> tuple[str, bool]:
    """A report of this installation, like ``mne sys_info``: versions, the compiled parts that
    load, and the data and cache roots. Returns ``(text, every part loads)``."""
    from .config import get_config

    env = environment()
    cfg = get_config()
    commit = env["neurodecode"]["commit"] or "none: not a clone"
    rows = [("neurodecode", f"{env['neurodecode']['version']} (git {commit}"
                            f", {Path(__file__).resolve().parent})"),
            ("Python", f"{env['python']} ({env['platform']})"),
            ("CPU", f"{env['cpu']}, {env['n_cpus']} logical cores")]
    rows += [(name, version or "not installed") for name, version in env["packages"].items()]

    def torch_detail(torch) -> str:
        build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
        device = f"cuda ({env['gpu']})" if env["gpu"] else "cpu (no CUDA device)"
        return f"torch {torch.__version__}, {build}; networks run on {device}"

    parts = [("torch device", "torch", torch_detail),
             ("torchaudio extension", "torchaudio", lambda m: f"torchaudio {m.__version__}"),
             ("braindecode", "braindecode", lambda m: f"braindecode {m.__version__}"),
             ("liblsl", "mne_lsl", lambda m: _liblsl())]
    ok = True
    for label, name, detail in parts:
        line, loaded = _part(name, detail)
        rows.append((label, line))
        ok &= loaded
    try:
        import distributed

        rows.append(("Dask", f"loads (distributed {distributed.__version__}; --engine dask works)"))
    except ImportError as exc:
        rows.append(("Dask", f"FAILS: {_first_line(exc)}"))
        ok = False
    rows += [("data root", f"{cfg.data_root}" + ("" if cfg.data_root.is_dir() else " (missing)")),
             ("offline mode", f"{'on' if cfg.offline else 'off'}; MOABB download provider {cfg.download_provider}"),
             ("cache", str(cfg.cache_dir)), ("results", str(cfg.results_dir))]
    width = max(len(k) for k, _ in rows) + 1
    return "\n".join(f"{k + ':':<{width}} {v}" for k, v in rows), ok


def _liblsl() -> str:
    from mne_lsl.lsl import library_version

    version = library_version()
    return f"liblsl {version // 100}.{version % 100}, mne-lsl {_version('mne-lsl')}"
