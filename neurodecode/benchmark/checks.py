"""Checks of a whole benchmark definition that need its parts together, run before any task.

Each mistake that would otherwise fail every task of a dataset (one error row
per subject and pipeline) stops the run here, with one line naming the
dataset, pipeline or evaluation and what to change.
"""
from __future__ import annotations

from ..errors import ConfigError
from .fits import network_pipelines

__all__ = ["check_benchmark"]


def check_benchmark(cfg, where: str) -> None:
    """Check every (dataset, paradigm, recipe, pipeline) combination of ``cfg``, then let each
    evaluation's type check its own entry against them.

    Raises
    ------
    ConfigError
        Frequencies above Nyquist, a dataset the paradigm refuses, a pipeline
        made for another paradigm, a network combining another number of
        sub-bands than its filter bank gives, and whatever an evaluation type refuses: a
        pseudo-online window longer than a trial, a network whose receptive
        field exceeds the window, a split the dataset cannot provide
        (cross-session with one session, cross-subject with one subject).
        Each names the evaluation.
    BrokenEnvironmentError
        Networks in the definition, but torch, torchaudio or braindecode does
        not load, or a pipeline asks for a CUDA device that is absent.
    """
    from ..datasets import get_dataset, with_channel_types
    from ..moabb_api import declared_sfreq, make_paradigm
    from .registry import evaluation_type

    _environment_fits(cfg.pipelines, where)
    paradigm = make_paradigm(cfg.paradigm["name"], cfg.paradigm["params"])
    _pipelines_fit(cfg.pipelines, cfg.paradigm["name"], where)
    ch_types = cfg.paradigm.get("ch_types")
    _scaled_if_mixed(ch_types, cfg.recipe, where)
    datasets = []
    for spec in cfg.datasets:
        dataset = with_channel_types(get_dataset(spec["name"], **spec["params"]), ch_types)
        _types_present(ch_types, dataset, where)
        _paradigm_fits(paradigm, cfg.paradigm["name"], dataset, where)
        sfreq = declared_sfreq(dataset)
        if sfreq:
            _nyquist(paradigm, cfg.paradigm["name"], cfg.recipe, dataset.code, sfreq, where)
        datasets.append((spec, dataset))
    for ev in cfg.evaluations:
        kind = evaluation_type(ev["type"], where=where)
        targets = {d["code"] for d in kind.targets(ev, cfg.datasets)}
        try:
            kind.check(cfg, ev, paradigm=paradigm, datasets=[(s, d) for s, d in datasets if s["code"] in targets],
                       where=where)
        except ConfigError as exc:
            if ev["label"] in str(exc):
                raise
            raise ConfigError(f"evaluation {ev['label']} ({kind.name}): {exc}") from None
        except Exception as exc:  # noqa: BLE001  (a plugin's own check failing is one line, not a traceback)
            raise ConfigError(f"{where}: evaluation {ev['label']} ({kind.name}): its check failed: "
                              f"{type(exc).__name__}: {exc}") from None


def _environment_fits(pipelines, where) -> None:
    """Networks need torch, torchaudio and braindecode to load, and the CUDA device they ask for."""
    from ..environment import BrokenEnvironmentError, check_device, require

    networks = network_pipelines(pipelines)
    if not networks:
        return
    require("braindecode")
    for pipe in networks:
        try:
            check_device(pipe["params"].get("device", "auto"))
        except BrokenEnvironmentError as exc:
            raise BrokenEnvironmentError(f"{where}: pipeline {pipe['name']}: {exc}") from None


def _types_present(ch_types, dataset, where) -> None:
    from ..moabb_api import declared_channel_types

    have = declared_channel_types(dataset)
    wanted = ch_types or ["eeg"]
    if have is None:
        return
    missing = sorted(set(wanted) - set(have))
    if missing:
        raise ConfigError(f"{where}: dataset {dataset.code} has no {', '.join(missing)} channels: it has "
                          f"{', '.join(have)}; set the paradigm's ch_types to some of those")


def _scaled_if_mixed(ch_types, recipe, where) -> None:
    import warnings

    from ..datasets.channel_types import mixed_types

    if ch_types and mixed_types(ch_types) and not any(s.name == "scale" for s in recipe.steps):
        warnings.warn(f"{where}: ch_types {ch_types} mix units (T, T/m, V) that differ by orders of "
                      "magnitude, so covariances and networks are dominated by the largest type and "
                      "scores will suffer; add a 'scale' step to the recipe", UserWarning, stacklevel=3)


def _paradigm_fits(paradigm, name, dataset, where) -> None:
    if paradigm.is_valid(dataset):
        return
    from ..models.registry import PARADIGM_KINDS

    fitting = sorted(n for n, kind in PARADIGM_KINDS.items() if kind == dataset.paradigm)
    hint = f"use a {dataset.paradigm} paradigm ({', '.join(fitting)})" if fitting else \
        f"{dataset.code} is a {dataset.paradigm} dataset"
    if PARADIGM_KINDS.get(name) == dataset.paradigm:
        hint = f"its events are {sorted(dataset.event_id)}; check the paradigm's events or n_classes"
    raise ConfigError(f"{where}: paradigm {name} cannot use dataset {dataset.code} "
                      f"({dataset.paradigm}); {hint}")


def _nyquist(paradigm, name, recipe, code, sfreq, where) -> None:
    """Every cut-off below half the rate it is applied at: the recipe at the recording's rate
    (or after its ``resample`` step), the paradigm's band-pass too, and below half the
    paradigm's ``resample`` rate, where the band must survive resampling; and every recipe
    step able to run at the rate it gets (``Step.rate_problem``)."""
    rate = float(sfreq)
    for step in recipe.steps:
        params = step.get_params()
        if step.name == "resample" and params.get("sfreq"):
            rate = float(params["sfreq"])
        problem = step.rate_problem(rate)
        if problem:
            raise ConfigError(f"{where}: dataset {code}: {problem}")
        for key in ("l_freq", "h_freq", "freqs"):
            values = params.get(key)
            values = values if isinstance(values, (list, tuple)) else [values]
            for f in (v for v in values if isinstance(v, (int, float))):
                if f >= rate / 2:
                    raise ConfigError(f"{where}: recipe step {step.name} {key}={f:g} Hz is at or above the "
                                      f"Nyquist frequency of {code} ({rate / 2:g} Hz at {rate:g} Hz); "
                                      f"use a value below {rate / 2:g} Hz")
    resample = getattr(paradigm, "resample", None)
    for band in getattr(paradigm, "filters", None) or []:
        fmax = band[1] if len(band) > 1 else None
        if fmax is None:
            continue
        for limit, what in ((rate, f"{code}'s rate of {rate:g} Hz"),
                            (resample, f"the paradigm's resample rate of {resample} Hz")):
            if limit and fmax >= limit / 2:
                raise ConfigError(f"{where}: paradigm {name} fmax={fmax:g} Hz is at or above half "
                                  f"{what} ({limit / 2:g} Hz) for dataset {code}; use fmax below {limit / 2:g}")


def _pipelines_fit(pipelines, paradigm_name, where) -> None:
    from ..models.registry import PARADIGM_KINDS, pipeline_paradigms
    from .build import build_pipeline
    from .fits import check_subbands

    kind = PARADIGM_KINDS.get(paradigm_name)
    for pipe in pipelines:
        try:
            check_subbands(build_pipeline(pipe, None))
        except ConfigError as exc:
            raise ConfigError(f"{where}: pipeline {pipe['name']}: {exc}") from None
        declared = pipe.get("paradigms") or pipeline_paradigms(pipe["name"])
        if declared is None or paradigm_name in declared:
            continue
        if kind is not None and kind in {PARADIGM_KINDS.get(p) for p in declared}:
            continue
        raise ConfigError(f"{where}: pipeline {pipe['name']} is made for {', '.join(declared)}, not "
                          f"{paradigm_name}; remove it or pick one for {paradigm_name}")
