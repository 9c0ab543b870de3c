"""What the parts of a benchmark must satisfy together, for evaluation types to check: a split
the dataset can provide, and networks that accept the windows they will get."""
from __future__ import annotations

from ..errors import ConfigError

__all__ = ["check_split", "networks_fit", "network_pipelines"]


def check_split(split: str | None, label: str, spec: dict, where: str) -> None:
    """A split the dataset can provide: two sessions for cross-session, two subjects for cross-subject."""
    code = spec["code"]
    if split == "cross-session" and spec["n_sessions"] < 2:
        raise ConfigError(f"{where}: evaluation {label} needs two or more sessions per subject, "
                          f"but {code} has {spec['n_sessions']}; use within-session for it")
    if split == "cross-subject" and len(spec["subjects"]) < 2:
        raise ConfigError(f"{where}: evaluation {label} needs two or more subjects, but {code} "
                          f"lists {spec['subjects']}; add subjects or use within-session")


def network_pipelines(pipelines) -> list[dict]:
    from ..models.registry import classical_pipelines

    return [p for p in pipelines if "file" not in p and p["name"] not in classical_pipelines()]


def networks_fit(pipelines, label, dataset, paradigm, n_times: int, rate: float, n_chans: int | None = None) -> None:
    """Every network of ``pipelines`` accepts ``n_chans`` x ``n_times`` windows at ``rate`` (Hz)."""
    networks = network_pipelines(pipelines)
    if not networks:
        return
    from .build import build_pipeline

    n_chans = n_chans or (len(paradigm.channels) if getattr(paradigm, "channels", None) else _n_channels(dataset))
    if not n_chans:
        return
    n_outputs = max(2, len(paradigm.used_events(dataset)))
    for pipe in networks:
        try:
            build_pipeline(pipe, rate).check_input(n_chans, n_times, sfreq=rate, n_outputs=n_outputs)
        except ConfigError as exc:
            raise ConfigError(f"pipeline {pipe['name']} in evaluation {label} on {dataset.code}: {exc}") from None


def _n_channels(dataset) -> int | None:
    from ..moabb_api import declared_channels

    summary = getattr(dataset, "summary", None)
    if callable(summary) and summary().get("channels"):
        return int(summary()["channels"])
    return declared_channels(dataset)
