"""The channel template that datasets of different caps are mapped onto, checked before anything loads."""
from __future__ import annotations

import numpy as np

from ..datasets.montage import standard_positions
from ..errors import ConfigError
from ..preprocessing.base import data_channels
from ..preprocessing.channels import TEMPLATES, canonical_name

__all__ = ["resolve_template", "dataset_channels"]


def resolve_template(template, datasets) -> list[str]:
    """The template's channel names, checked against every dataset's channels.

    Parameters
    ----------
    template : "intersection" | str | list of str
        The channels all datasets share (in the first dataset's order), a
        named template of the ``harmonise`` step, or a list of names.
    datasets : list of MOABB datasets
        Their caps are read from their declared channels or first run.

    Raises
    ------
    ConfigError
        A template channel that no dataset has and that has no standard
        position, or one a dataset lacks and cannot interpolate.
    """
    caps = {d.code: dataset_channels(d) for d in datasets}
    if isinstance(template, str) and template == "intersection":
        first = caps[datasets[0].code][0]
        shared = set.intersection(*({canonical_name(c) for c in names} for names, _ in caps.values()))
        channels = [c for c in first if canonical_name(c) in shared]
        if not channels:
            raise ConfigError("cross-dataset: the datasets share no channel name; give a template")
        return channels
    channels = list(TEMPLATES[template]) if isinstance(template, str) else list(template)
    positions = {canonical_name(n) for n in standard_positions()}
    for ch in channels:
        lacking = [code for code, (names, _) in caps.items()
                   if canonical_name(ch) not in {canonical_name(n) for n in names}]
        if not lacking:
            continue
        if len(lacking) == len(caps) and canonical_name(ch) not in positions:
            raise ConfigError(f"cross-dataset: template channel {ch!r} is in no dataset and has no standard "
                              "position, so it cannot be interpolated; remove it from the template")
        if canonical_name(ch) not in positions:
            raise ConfigError(f"cross-dataset: template channel {ch!r} is missing from {lacking} and has no "
                              "standard position to interpolate it from; remove it from the template")
        blind = [code for code in lacking if not caps[code][1]]
        if blind:
            raise ConfigError(f"cross-dataset: template channel {ch!r} is missing from {blind}, whose channels "
                              "have no positions to interpolate it from; remove it from the template")
    return channels


def dataset_channels(dataset) -> tuple[list[str], bool]:
    """Channel names of a dataset and whether they have (or standard names give them) positions,
    from its first subject's first run."""
    from ..moabb_api import subject_data

    declared = getattr(dataset, "channels", None)
    if isinstance(declared, list) and declared:  # generated datasets name their cap up front
        return list(declared), True
    sessions = subject_data(dataset, dataset.subject_list[0])
    raw = next(iter(next(iter(sessions.values())).values()))
    names = [raw.ch_names[i] for i in data_channels(raw.info)]
    located = any(np.isfinite(ch["loc"][:3]).all() and np.any(ch["loc"][:3]) for ch in raw.info["chs"]
                  if ch["ch_name"] in names)
    standard = {canonical_name(n) for n in standard_positions()}  # the recipe's montage step gives these
    return names, bool(located or any(canonical_name(c) in standard for c in names))
