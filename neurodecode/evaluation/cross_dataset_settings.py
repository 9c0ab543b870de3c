"""The settings of a cross-dataset evaluation, checked against the dataset codes before any work."""
from __future__ import annotations

from ..errors import ConfigError, UnknownNameError

__all__ = ["check_settings", "ALIGNMENTS", "CROSS_DATASET"]

ALIGNMENTS = ("euclidean", "none")
#: The evaluation's ``type`` in benchmark definitions.
CROSS_DATASET = "cross-dataset"


def check_settings(settings: dict, codes: list[str]) -> dict:
    """Check cross-dataset settings against the dataset codes; return them completed.

    Examples
    --------
    >>> check_settings({"shots": [10, 0, 5]}, ["A", "B"])["shots"]
    [0, 5, 10]
    """
    out = dict(settings)
    shots = out.get("shots", [0])
    shots = [shots] if isinstance(shots, int) else shots
    if not isinstance(shots, (list, tuple)) or not shots or not all(
            isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in shots):
        raise ConfigError(f"cross-dataset: shots must be a list of trials per class (integers >= 0), got {shots!r}")
    out["shots"] = sorted(set(shots))
    if out.get("alignment", "euclidean") not in ALIGNMENTS:
        raise UnknownNameError("alignment", str(out["alignment"]), ALIGNMENTS)
    zero = out.get("zero_shot_alignment", 10)
    if not isinstance(zero, int) or zero < 0:
        raise ConfigError(f"cross-dataset: zero_shot_alignment is a number of trials (>= 0), got {zero!r}")
    weight = out.get("target_weight", 0.5)
    if weight is not None and not 0 < weight < 1:
        raise ConfigError(f"cross-dataset: target_weight is the target's share of the training weight, "
                          f"in (0, 1), got {weight!r}")
    template = out.get("template", "intersection")
    if isinstance(template, str) and template != "intersection":
        from ..preprocessing.channels import TEMPLATES

        if template not in TEMPLATES:
            raise UnknownNameError("channel template", template, ["intersection", *TEMPLATES])
    elif not isinstance(template, str) and (not isinstance(template, (list, tuple)) or not template):
        raise ConfigError(f"cross-dataset: template is a name or a list of channel names, got {template!r}")
    for key in ("source", "target"):
        names = out.get(key)
        if names is None:
            continue
        names = [names] if isinstance(names, str) else list(names)
        for name in names:
            if name not in codes:
                raise UnknownNameError(f"{key} dataset", name, codes)
        out[key] = names
    if len(codes) < 2:
        raise ConfigError(f"cross-dataset needs at least two datasets, got {codes}")
    source, target = out.get("source"), out.get("target")
    if source and target and set(source) & set(target):
        raise ConfigError(f"cross-dataset: {sorted(set(source) & set(target))} are both source and target")
    return out
