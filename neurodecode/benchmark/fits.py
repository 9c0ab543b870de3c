"""What the parts of a benchmark must satisfy together, for evaluation types to check: a split
the dataset can provide, networks that accept the windows they will get, and filter banks that
give their networks the sub-bands they combine."""
from __future__ import annotations

from ..errors import ConfigError

__all__ = ["check_split", "networks_fit", "network_pipelines", "check_subbands"]


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


def check_subbands(estimator) -> None:
    """A channel-major filter bank and the network after it agree on the number of sub-bands.

    Raises
    ------
    ConfigError
        When a network that combines ``n_bands`` sub-bands (its own default, or
        ``model_params``) follows a filter bank of another number of bands.

    Examples
    --------
    >>> from neurodecode.models import get_pipeline
    >>> check_subbands(get_pipeline("SSVEP-DNN"))
    >>> check_subbands(get_pipeline("SSVEP-DNN", model_params={"n_bands": 2}))
    Traceback (most recent call last):
    ...
    neurodecode.errors.ConfigError: its filter bank gives 3 sub-bands but SSVEPDNN combines n_bands=2; ...
    """
    import inspect

    bands = None
    for _, step in getattr(estimator, "steps", [("", estimator)]):
        params = step.get_params(deep=False) if hasattr(step, "get_params") else {}
        if params.get("layout") == "channels" and isinstance(params.get("bands"), (list, tuple)):
            bands = len(params["bands"])
        elif bands is not None and isinstance(params.get("model"), str):
            from ..models.lookup import model_class

            cls, fixed = model_class(params["model"])
            declared = inspect.signature(cls.__init__).parameters.get("n_bands")
            if declared is None:
                continue
            wanted = {**fixed, **(params.get("model_params") or {})}.get("n_bands", declared.default)
            if wanted != bands:
                raise ConfigError(f"its filter bank gives {bands} sub-bands but {params['model']} combines "
                                  f"n_bands={wanted}; set model_params: {{n_bands: {bands}}}")
