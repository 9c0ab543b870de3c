"""How short a window a network takes: probe its forward pass at growing lengths."""
from __future__ import annotations

import inspect
import warnings

__all__ = ["accepted", "forward_ok", "min_n_times"]


def accepted(cls, params: dict) -> dict:
    """The entries of ``params`` that ``cls.__init__`` takes and that are set (not None)."""
    names = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in params.items() if k in names and v is not None}


def forward_ok(cls, params: dict, n_times: int) -> bool:
    """Whether ``cls(**params)`` runs a forward pass on windows of ``n_times`` samples."""
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = cls(**{**params, "n_times": n_times}).eval()
            with torch.no_grad():
                out = module(torch.zeros(2, params["n_chans"], n_times))
        return out.shape[0] == 2
    except (RuntimeError, ValueError, AssertionError, IndexError, ZeroDivisionError, TypeError):
        return False


def min_n_times(cls, params: dict, upper: int = 1 << 15) -> int | None:
    """Smallest window length (samples) that the network accepts, or None above ``upper``."""
    hi = 8
    while hi <= upper and not forward_ok(cls, params, hi):
        hi *= 2
    if hi > upper:
        return None
    lo = hi // 2  # known to fail (or below the first probe)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if forward_ok(cls, params, mid) else (mid, hi)
    return hi
