"""A target subject's calibration: which trials calibrate, which align, which test; and the alignment itself.

Calibration and test trials never mix. A target subject's trials are taken in
recording order; the calibration block is the shortest prefix holding
``max(shots)`` trials of every class (and ``zero_shot_alignment`` trials); the
test set is every trial after it, the same for every shot count.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

__all__ = ["Plan", "calibration_plan", "align_reference", "aligned"]


@dataclass(frozen=True)
class Plan:
    """Which trials of a target subject serve what, by index in recording order."""

    calibration: dict  # shots -> indices of the labelled k-shot trials
    alignment: dict  # shots -> indices the subject's alignment is fitted on
    test: np.ndarray
    block: int  # trials in the calibration block


def calibration_plan(y, shots, zero_shot_alignment: int = 10, *, where: str = "") -> Plan:
    """Split one target subject's trials (in recording order) into calibration and test.

    Examples
    --------
    >>> plan = calibration_plan(list("ababbaab"), [0, 1, 2], zero_shot_alignment=2)
    >>> plan.calibration[1].tolist(), plan.alignment[0].tolist(), plan.test.tolist()
    ([0, 1], [0, 1], [4, 5, 6, 7])
    """
    y = np.asarray(y)
    classes = [str(c) for c in np.unique(y)]  # plain names in messages
    top = max(shots)
    need = zero_shot_alignment if 0 in shots else 0
    for cls in classes:
        have = int(np.sum(y == cls))
        if have < top + 2:
            raise ConfigError(f"{where}shots={top} needs {top} calibration trials of class {cls!r} and at least "
                              f"2 more to test, but it has {have}; lower shots")
    block = need
    for cls in classes:
        idx = np.flatnonzero(y == cls)
        block = max(block, int(idx[top - 1]) + 1 if top else 0)
    test = np.arange(block, len(y))
    for cls in classes:
        if np.sum(y[test] == cls) < 2:
            raise ConfigError(f"{where}after a calibration block of {block} trials, fewer than 2 trials of class "
                              f"{cls!r} are left to test; lower shots or zero_shot_alignment")
    calibration = {k: np.sort(np.concatenate([np.flatnonzero(y == c)[:k] for c in classes])) for k in shots}
    alignment = dict(calibration)
    if 0 in shots:
        alignment[0] = np.arange(zero_shot_alignment)
    return Plan(calibration, alignment, test, block)


def align_reference(X) -> np.ndarray | None:
    """The Euclidean-alignment whitening matrix fitted on trials ``X`` (None when there are none)."""
    from ..moabb_api import EuclideanAlignment

    if len(X) == 0:
        return None
    # Ledoit-Wolf: channels interpolated by the template leave the sample covariance singular
    return EuclideanAlignment(estimator="lwf").fit(X).inv_sqrt_ref_


def aligned(reference, X) -> np.ndarray:
    """``X`` whitened by ``reference`` (unchanged when it is None)."""
    return np.asarray(X) if reference is None else np.matmul(reference, X)
