"""Signal arrays from NumPy or MNE inputs, with their sampling frequency."""
from __future__ import annotations

import numpy as np
from mne import BaseEpochs

from ..errors import ConfigError

__all__ = ["as_signal", "stimulus_frequencies", "needs_class_names", "fill_sfreq"]


def as_signal(X, sfreq: float | None, who: str, require_sfreq: bool = True) -> tuple[np.ndarray, float | None]:
    """Return ``(array of shape (n, chans, times), sfreq)`` from an array or Epochs.

    Epochs carry their own sampling frequency; a plain array needs ``sfreq``
    unless ``require_sfreq`` is False (then it may be None).
    """
    if isinstance(X, BaseEpochs):
        return X.get_data(copy=False), float(X.info["sfreq"])
    X = np.asarray(X)
    if X.ndim != 3:
        raise ConfigError(f"{who} expects windows of shape (n_windows, n_chans, n_times), got {X.shape}")
    if sfreq is None:
        if not require_sfreq:
            return X, None
        raise ConfigError(f"{who} needs the sampling frequency: set sfreq=<Hz> or pass mne.Epochs")
    return X, float(sfreq)


def stimulus_frequencies(classes, freqs: dict | None, who: str) -> dict:
    """Map each class to its stimulation frequency (Hz), or to None for non-SSVEP classes.

    Class names that read as numbers (MOABB's SSVEP convention, e.g. ``"13"``)
    are frequencies; ``freqs`` overrides or completes the mapping.
    """
    given = {str(c): float(f) for c, f in (freqs or {}).items()}
    numeric = sorted(float(c) for c in classes if _is_number(c) and str(c) not in given)
    if len(numeric) > 1 and numeric == list(range(int(numeric[0]), int(numeric[0]) + len(numeric))) \
            and numeric[0] in (0, 1):
        raise ConfigError(
            f"{who}: class labels {list(classes)} look like encoded labels, not stimulation "
            "frequencies; keep the dataset's class names (MOABB evaluations: mne_labels=True) "
            "or pass freqs={class: Hz}"
        )
    out = {}
    for cls in classes:
        value = given.get(str(cls), cls)
        out[cls] = float(value) if _is_number(value) else None
    if not any(f is not None for f in out.values()):
        raise ConfigError(
            f"{who}: no class name is a stimulation frequency ({list(classes)}); "
            "pass freqs={class: Hz}"
        )
    return out


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def needs_class_names(estimator) -> bool:
    """Whether an estimator reads stimulation frequencies from the class names (CCA, FBCCA,
    TRCA, the ``"ssvep"`` filter bank), so MOABB must keep the dataset's labels (``mne_labels``)."""
    # a capability each estimator declares (``reads_class_frequencies``), not a list of classes
    parts = [estimator, *estimator.get_params(deep=True).values()]
    return any(bool(getattr(p, "reads_class_frequencies", False)) for p in parts if not isinstance(p, type))


def fill_sfreq(estimator, sfreq: float):
    """Set every ``sfreq`` parameter left at None (filter banks, networks on arrays) to ``sfreq`` Hz."""
    fill = {k: sfreq for k, v in estimator.get_params(deep=True).items()
            if (k == "sfreq" or k.endswith("__sfreq")) and v is None}
    return estimator.set_params(**fill)
