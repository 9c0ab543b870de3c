"""A benchmark entry's MOABB paradigm and fresh pipeline, rebuilt from plain data (in any process)."""
from __future__ import annotations

__all__ = ["make_paradigm", "build_pipeline"]


def make_paradigm(spec: dict):
    """A MOABB paradigm from ``{"name", "params"}``."""
    from ..moabb_api import make_paradigm as build

    return build(spec["name"], spec["params"])


def build_pipeline(spec: dict, sfreq: float | None):
    """A fresh estimator from a pipeline entry of a benchmark (registry name or YAML file),
    with ``sfreq`` (Hz) filled in where the pipeline needs it."""
    from sklearn.base import clone

    from ..models import get_pipeline, load_pipeline_file
    from ..models.signal import fill_sfreq

    est = clone(load_pipeline_file(spec["file"])["pipeline"]) if "file" in spec else \
        get_pipeline(spec["name"], **spec["params"])
    return fill_sfreq(est, sfreq) if sfreq else est  # filter banks and networks on arrays need the rate
