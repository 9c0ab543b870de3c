"""The causal recipe a live stream can run: a recipe's raw steps, then a paradigm's channels, band and rate."""
from __future__ import annotations

from ..errors import ConfigError
from ..preprocessing import Recipe

__all__ = ["online_recipe"]


def online_recipe(recipe: Recipe, paradigm, ch_types=None) -> Recipe:
    """``recipe``'s raw steps, the paradigm's pick, band-pass and resampling, all causal.

    A trailing ``filter_bank`` step stays last, after the resampling, so its
    bands are cut at the decoding rate. The paradigm's band becomes a 4th-order
    IIR band-pass (causal, as online); a paradigm with several bands is
    refused, since a filter bank is a recipe step here.

    Examples
    --------
    >>> from moabb.paradigms import LeftRightImagery
    >>> r = online_recipe(Recipe([]), LeftRightImagery(fmin=8, fmax=30, resample=128))
    >>> [s.name for s in r.raw_steps]
    ['pick', 'bandpass', 'resample']
    """
    steps = [{s.name: s.get_params()} for s in recipe.raw_steps]
    tail = [steps.pop()] if steps and "filter_bank" in steps[-1] else []
    steps.append({"pick": {"types": ch_types or ["eeg"], "include": getattr(paradigm, "channels", None)}})
    filters = getattr(paradigm, "filters", None) or []
    if len(filters) > 1:
        raise ConfigError(f"{type(paradigm).__name__} has {len(filters)} bands; for a filter bank "
                          "use a paradigm with one band and a filter_bank recipe step")
    if filters and any(f is not None for f in filters[0]):
        lo, hi = filters[0]
        steps.append({"bandpass": {"l_freq": lo, "h_freq": hi, "method": "iir", "order": 4}})
    if getattr(paradigm, "resample", None):
        steps.append({"resample": {"sfreq": float(paradigm.resample)}})
    return Recipe(steps + tail, name=recipe.name).causal()
