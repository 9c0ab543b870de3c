"""Sensor types as a setting: ``eeg`` (MOABB's default), ``meg``, ``mag``, ``grad`` or a list."""
from __future__ import annotations

from ..errors import ConfigError
from ..utils import did_you_mean

__all__ = ["CH_TYPES", "expand_types", "pick_types_kwargs", "with_channel_types", "mixed_types"]

#: The channel types a paradigm or recipe can ask for; ``meg`` is both MEG types.
CH_TYPES = ("eeg", "meg", "mag", "grad")


def expand_types(ch_types) -> list[str]:
    """``"meg"``, ``["mag", "grad"]``, ``["eeg", "meg"]``... as a sorted list of MNE channel types.

    Examples
    --------
    >>> expand_types("meg"), expand_types(["eeg", "mag"])
    (['grad', 'mag'], ['eeg', 'mag'])
    """
    items = [ch_types] if isinstance(ch_types, str) else list(ch_types or [])
    if not items:
        raise ConfigError(f"ch_types must name at least one of {', '.join(CH_TYPES)}")
    out = set()
    for t in items:
        if t not in CH_TYPES:
            raise ConfigError(f"unknown channel type {t!r} in ch_types: {did_you_mean(str(t), CH_TYPES)}")
        out |= {"mag", "grad"} if t == "meg" else {t}
    return sorted(out)


def pick_types_kwargs(ch_types) -> dict:
    """Keyword arguments of :func:`mne.pick_types` (and MOABB's ``return_all_modalities``).

    Examples
    --------
    >>> pick_types_kwargs(["mag", "grad"]), pick_types_kwargs("grad")
    ({'meg': True, 'eeg': False}, {'meg': 'grad', 'eeg': False})
    """
    types = expand_types(ch_types)
    meg = [t for t in types if t in ("mag", "grad")]
    return {"meg": True if len(meg) == 2 else (meg[0] if meg else False), "eeg": "eeg" in types}


def with_channel_types(dataset, ch_types):
    """``dataset``, with MOABB's paradigms picking ``ch_types`` instead of EEG.

    Sets MOABB's public ``return_all_modalities`` attribute (keyword
    arguments of :func:`mne.pick_types`); a paradigm's ``channels`` list
    still picks by name, as in MOABB. ``None`` leaves the dataset's default.

    Examples
    --------
    >>> from neurodecode.datasets import SyntheticMI
    >>> with_channel_types(SyntheticMI(n_subjects=1), "meg").return_all_modalities
    {'meg': True, 'eeg': False}
    """
    if ch_types:
        dataset.return_all_modalities = pick_types_kwargs(ch_types)
    return dataset


def mixed_types(ch_types) -> bool:
    """Whether the types differ in unit (T, T/m, V), so a ``scale`` step is needed."""
    return len(expand_types(ch_types)) > 1
