"""Channel steps: picking, montage, re-referencing and template harmonisation."""
from __future__ import annotations

import re

import numpy as np

from ..datasets.montage import standard_montage_name
from ..errors import ChannelMismatchError, ConfigError
from ..utils import did_you_mean
from .base import RawStep, check_positions, where

__all__ = ["Pick", "Montage", "Rereference", "Harmonise", "TEMPLATES", "canonical_name"]

#: old 10-20 names and their 10-10 successors (MNE's ``match_alias`` table is per call)
ALIASES = {"t3": "t7", "t4": "t8", "t5": "p7", "t6": "p8"}

#: named channel templates for :class:`Harmonise`
TEMPLATES = {
    "1020": ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8",
             "P7", "P3", "Pz", "P4", "P8", "O1", "O2"],
    "motor": ["FC3", "FCz", "FC4", "C5", "C3", "C1", "Cz", "C2", "C4", "C6", "CP3", "CPz",
              "CP4"],
    "occipital": ["PO7", "PO3", "POz", "PO4", "PO8", "O1", "Oz", "O2"],
}

_PREFIX = re.compile(r"^(eeg|meg|eog)[\s_-]+", re.IGNORECASE)
_SUFFIX = re.compile(r"([-_](ref|le|re|a1|a2|m1|m2|avg))$|[.\s]+$", re.IGNORECASE)


def canonical_name(name: str) -> str:
    """The key two channel names share when they denote the same electrode.

    Case, ``EEG `` prefixes, ``-REF``/``-LE`` suffixes, trailing dots
    (PhysioNet's ``Fc5.``) and old 10-20 names (``T3`` = ``T7``) are ignored.

    Examples
    --------
    >>> canonical_name("EEG T3-REF"), canonical_name("Fc5.")
    ('t7', 'fc5')
    """
    key = _SUFFIX.sub("", _PREFIX.sub("", name.strip())).strip().lower()
    return ALIASES.get(key, key)


def _stim_names(raw) -> list[str]:
    return [raw.ch_names[i] for i, t in enumerate(raw.get_channel_types()) if t == "stim"]


class Pick(RawStep):
    """Keep channels by type (``["eeg"]``) and/or name; event (stim) channels are always kept."""

    name = "pick"
    always_causal = True

    def __init__(self, types: list | None = None, include: list | None = None,
                 exclude: list | None = None):
        self.types = types
        self.include = include
        self.exclude = exclude

    def apply(self, raw):
        keep = set(_stim_names(raw))
        chosen = list(raw.ch_names)
        if self.types:
            types = dict(zip(raw.ch_names, raw.get_channel_types()))
            wanted = {t for t in self.types if t != "meg"} | ({"mag", "grad"} if "meg" in self.types else set())
            chosen = [c for c in chosen if types[c] in wanted]
            if not chosen:
                raise ChannelMismatchError(where(raw), f"pick: no channel of type(s) {sorted(self.types)}; "
                                           f"the recording has {sorted(set(types.values()))}")
        if self.include:
            lookup = {canonical_name(c): c for c in raw.ch_names}
            missing = [c for c in self.include if canonical_name(c) not in lookup]
            if missing:
                raise ChannelMismatchError(where(raw), f"pick: channel(s) {missing} not found; "
                                           f"the recording has {raw.ch_names}")
            wanted = {lookup[canonical_name(c)] for c in self.include}
            chosen = [c for c in chosen if c in wanted]
        if self.exclude:
            dropped = {canonical_name(c) for c in self.exclude}
            chosen = [c for c in chosen if canonical_name(c) not in dropped]
        if not chosen:
            raise ChannelMismatchError(where(raw), f"pick: no channel left after picking "
                                       f"types={self.types} include={self.include}")
        return raw.pick([c for c in raw.ch_names if c in set(chosen) | keep])


class Montage(RawStep):
    """Set electrode positions from a standard montage (names matched ignoring case and aliases)."""

    name = "montage"
    always_causal = True

    def __init__(self, montage: str | None = None, on_missing: str = "raise"):
        self.montage = montage
        self.on_missing = on_missing
        if on_missing not in ("raise", "warn", "ignore"):
            raise ConfigError(f"montage: on_missing must be raise, warn or ignore, "
                              f"got {on_missing!r}")

    def apply(self, raw):
        import mne

        name = self.montage or standard_montage_name()
        try:
            montage = mne.channels.make_standard_montage(name)
        except ValueError:
            raise ConfigError(f"montage: unknown montage {name!r}; choose one of "
                              f"{mne.channels.get_builtin_montages()}") from None
        _rename_to_montage(raw, montage.ch_names)
        try:
            raw.set_montage(montage, match_case=False, match_alias=True,
                            on_missing=self.on_missing, verbose=False)
        except ValueError as exc:
            raise ChannelMismatchError(where(raw), f"montage {name}: {exc}".splitlines()[0]
                                       + " (set on_missing: ignore to keep them without "
                                       "positions)") from None
        return raw


def _rename_to_montage(raw, names) -> None:
    """Rename channels whose canonical name matches a montage channel (``Fc5.`` -> ``FC5``)."""
    lookup = {canonical_name(n): n for n in names}
    mapping = {c: lookup[canonical_name(c)] for c in raw.ch_names
               if canonical_name(c) in lookup and lookup[canonical_name(c)] != c
               and lookup[canonical_name(c)] not in raw.ch_names}
    if mapping:
        raw.rename_channels(mapping)


class Rereference(RawStep):
    """Re-reference EEG to the ``"average"`` or to the mean of named channels."""

    name = "rereference"
    always_causal = True

    def __init__(self, ref: str | list = "average"):
        self.ref = ref

    def apply(self, raw):
        ref = self.ref
        if ref != "average":
            ref = [ref] if isinstance(ref, str) else list(ref)
            missing = [c for c in ref if c not in raw.ch_names]
            if missing:
                raise ChannelMismatchError(where(raw), f"rereference: reference channel(s) "
                                           f"{missing} not in the recording")
        raw.set_eeg_reference(ref, projection=False, verbose=False)
        return raw


class Harmonise(RawStep):
    """Map any montage onto a target channel set, interpolating the missing ones.

    Names are matched ignoring case, prefixes/suffixes and old 10-20 aliases
    (:func:`canonical_name`). Channels of the template that the recording
    lacks are interpolated with spherical splines from the others (this needs
    electrode positions: put a ``montage`` step first). Extra channels are
    dropped and the output follows the template's order, so one model can be
    trained across headsets.

    Parameters
    ----------
    channels : str | list of str
        A template name (see :data:`TEMPLATES`) or the list of target names.
    max_missing : float
        Largest fraction of the template that may be interpolated.
    """

    name = "harmonise"
    always_causal = True

    def __init__(self, channels: str | list = "1020", max_missing: float = 0.5):
        self.channels = channels
        self.max_missing = max_missing
        if isinstance(channels, str) and channels not in TEMPLATES:
            raise ConfigError(f"harmonise: unknown template {channels!r}: {did_you_mean(channels, TEMPLATES)} "
                              "(or give a list of channel names)")

    @property
    def target(self) -> list[str]:
        return list(TEMPLATES[self.channels]) if isinstance(self.channels, str) else list(self.channels)

    def interpolated(self, ch_names: list[str]) -> list[str]:
        """The template channels a recording with ``ch_names`` lacks, which :meth:`apply` interpolates.

        Examples
        --------
        >>> Harmonise(["C3", "Cz", "C4"]).interpolated(["c3", "C4", "Pz"])
        ['Cz']
        """
        present = {canonical_name(c) for c in ch_names}
        return [t for t in self.target if canonical_name(t) not in present]

    def apply(self, raw):
        import mne

        target = self.target
        present = {canonical_name(c): c for c in raw.ch_names}
        rename = {present[canonical_name(t)]: t for t in target
                  if canonical_name(t) in present and present[canonical_name(t)] != t}
        if rename:
            raw.rename_channels(rename)
        missing = self.interpolated(raw.ch_names)
        if len(missing) > self.max_missing * len(target):
            raise ChannelMismatchError(where(raw), f"harmonise: {len(missing)} of {len(target)} "
                                       f"template channels are missing ({missing}); more than "
                                       f"max_missing={self.max_missing:g} cannot be interpolated")
        stim = _stim_names(raw)
        if missing:
            check_positions(raw.copy().pick([t for t in target if t in raw.ch_names]),
                            self.name)
            montage = mne.channels.make_standard_montage(standard_montage_name())
            known = {canonical_name(n): n for n in montage.ch_names}
            unknown = [m for m in missing if canonical_name(m) not in known]
            if unknown:
                raise ChannelMismatchError(where(raw), f"harmonise: no standard position for "
                                           f"{unknown}; they cannot be interpolated")
            info = mne.create_info(missing, raw.info["sfreq"], "eeg")
            extra = mne.io.RawArray(np.zeros((len(missing), raw.n_times)), info,
                                    first_samp=raw.first_samp, verbose=False)
            extra.set_montage(montage, match_case=False, match_alias=True, verbose=False)
            extra.set_meas_date(raw.info["meas_date"])
            extra.set_annotations(raw.annotations)
            raw.pick([c for c in raw.ch_names if c in target or c in stim])
            raw.add_channels([extra], force_update_info=True)
            raw.info["bads"] = list(missing)
            raw.interpolate_bads(reset_bads=True, mode="accurate", verbose=False)
        return raw.pick(target + stim)
