"""The one module that touches private names of other libraries (MNE, mne-lsl), each listed in
:data:`PRIVATE` with why no public name does the job; ``tests/test_layout.py`` fails when one of
them disappears upstream, and no other module may use them. MOABB's have their own boundary,
:mod:`neurodecode.moabb_api`."""
from __future__ import annotations

import contextlib

__all__ = ["PRIVATE", "unlocked", "lsl_lost_error"]

#: Private names used, and why each is unavoidable.
PRIVATE = {
    "mne:Info._unlock":
        "an Info's sfreq and lowpass have no public setter: a resampled stream (the resample step, its "
        "streaming form, the synthetic MEG recording built on a shipped sensor layout) must say its new rate "
        "without refiltering the data or losing the sensor geometry that mne.create_info would drop",
    "mne_lsl.lsl._utils:LostError":
        "the error mne-lsl raises when a stream's source is lost; mne-lsl does not export it publicly, and a "
        "live decoder must tell a lost stream from any other failure",
}


def _resolve(target: str):
    import importlib

    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@contextlib.contextmanager
def unlocked(info):
    """``info`` open for the keys MNE keeps read-only (``sfreq``, ``lowpass``); see :data:`PRIVATE`."""
    with info._unlock():
        yield info


def lsl_lost_error() -> type:
    """mne-lsl's ``LostError`` class; see :data:`PRIVATE`."""
    return _resolve("mne_lsl.lsl._utils:LostError")
