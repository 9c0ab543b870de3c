"""Your own recordings as a MOABB dataset.

Files are found under a root folder with a path pattern whose placeholders
give the subject, session and run; or, for a BIDS root, through mne-bids.
Events come from annotations, a stim channel or a CSV marker column and are
renamed after the declared event map, so MOABB's paradigms epoch them as they
do any MOABB dataset.

A definition in YAML::

    code: MuseVisualP300
    paradigm: p300
    root: muse-visual-p300            # relative: under the data root or next to it
    pattern: "subject{subject}/session{session}/*.csv"
    events: {Target: 2, NonTarget: 1}
    interval: [0.0, 0.8]
    units: uV
    csv: {time: timestamps, marker: [Marker, Marker0], misc: [Right AUX], sfreq: 256}
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..config import get_config
from ..errors import ConfigError, DataNotFoundError, MissingEventsError
from ..moabb_api import BaseDataset, any_class_name
from ..utils import natural_key
from ..yamlio import read_yaml_mapping
from .montage import standard_montage_name
from .readers import CsvSpec, read_recording

__all__ = ["LocalDataset"]

_PLACEHOLDERS = ("subject", "session", "run")
_EVENT_SOURCES = ("auto", "annotations", "stim", "marker")
# Files that mne-bids reads a recording from (not sidecars such as .vmrk or .fdt).
_BIDS_EXTENSIONS = [".vhdr", ".edf", ".bdf", ".set", ".fif", ".con", ".sqd", ".ds", ".cnt"]
_MOABB_NAME = re.compile(r"[0-9]+(|[a-zA-Z]+[a-zA-Z0-9]*)")


class LocalDataset(BaseDataset):
    """Recordings on disk, in any format MNE reads, CSV, or BIDS, as a MOABB dataset.

    Parameters
    ----------
    root : str | Path
        Folder holding the recordings. A relative path is looked up under the
        data root (``NEURODECODE_DATA``), then next to it.
    events : dict of str to int
        Event name -> code, as in MOABB. Codes match stim-channel values or CSV
        marker values; names (or codes written as text) match annotations.
    interval : list of float
        Trial interval in s relative to each event, as in MOABB.
    paradigm : str
        ``"imagery"``, ``"ssvep"`` or ``"p300"``.
    pattern : str
        Path pattern relative to ``root`` with ``{subject}``, ``{session}``
        and ``{run}`` placeholders and ``*``/``**`` wildcards. Without
        ``{session}`` all files are one session; without ``{run}`` the files
        of a session are its runs, in name order. Ignored for BIDS.
    code : str
        Dataset code (CamelCase, as MOABB wants).
    format : str | None
        ``"bids"`` for a BIDS root; otherwise the file extension decides.
    units : str | None
        Units of stored values (``"uV"``, ``"mV"``, ``"V"``); CSV default µV.
    csv : dict | CsvSpec | None
        Column map for CSV files (see :class:`~neurodecode.datasets.readers.CsvSpec`).
    event_source : str
        ``"auto"``, ``"annotations"``, ``"stim"`` or ``"marker"``.
    descriptions : dict | None
        Annotation description -> event name, e.g. ``{"T1": "left_hand"}``.
    montage : str | None
        Name of an MNE built-in montage to set (missing positions ignored).
    channel_types : dict | None
        Channel name -> MNE type, e.g. ``{"EOG1": "eog"}``.
    reader_kwargs : dict | None
        Passed to the MNE reader.
    allow_no_events : bool
        Load files that hold none of the declared events (e.g. resting or
        calibration runs) instead of raising :class:`MissingEventsError`.
    doi : str | None
        DOI of the dataset.

    Examples
    --------
    >>> from neurodecode.datasets.local import LocalDataset
    >>> ds = LocalDataset.from_yaml("data/datasets/MuseVisualP300.yml")  # doctest: +SKIP
    """

    def __init__(self, *, root, events, interval, paradigm, pattern="**/*", code="LocalDataset",
                 format=None, units=None, csv=None, event_source="auto", descriptions=None,
                 montage=None, channel_types=None, reader_kwargs=None, allow_no_events=False, doi=None):
        if event_source not in _EVENT_SOURCES:
            raise ConfigError(f"event_source {event_source!r} must be one of {', '.join(_EVENT_SOURCES)}")
        if format not in (None, "bids"):
            raise ConfigError(f"format {format!r} must be 'bids' or left out")
        self.root = _resolve_root(root)
        self.pattern, self.format, self.units = pattern, format, units
        self.csv = csv if isinstance(csv, CsvSpec) or csv is None else CsvSpec.from_dict(csv)
        self.event_source, self.descriptions = event_source, dict(descriptions or {})
        self.montage, self.channel_types = montage, dict(channel_types or {})
        self.reader_kwargs = dict(reader_kwargs or {})
        self.allow_no_events = allow_no_events
        self._index = self._discover_bids() if format == "bids" else self._discover()
        if not self._index:
            raise DataNotFoundError(code, "any", self.root, f"no file matches {pattern!r}")
        with any_class_name():
            super().__init__(
                subjects=list(self._index),
                sessions_per_subject=min(len(s) for s in self._index.values()),
                events=dict(events), code=code, interval=list(interval),
                paradigm=paradigm, doi=doi,
            )

    @classmethod
    def from_yaml(cls, path, **overrides) -> LocalDataset:
        """Build from a YAML definition file.

        Parameters
        ----------
        path : str | Path
            The definition.
        **overrides
            Keys that replace the file's, e.g. ``root``.

        Returns
        -------
        dataset : LocalDataset
        """
        path = Path(path)
        spec = read_yaml_mapping(path, "dataset definition")
        spec.update(overrides)
        import inspect

        valid = set(inspect.signature(cls.__init__).parameters) - {"self"}
        unknown = set(spec) - valid
        if unknown:
            raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)}; valid keys are {sorted(valid)}")
        required = {"root", "events", "interval", "paradigm"} - set(spec)
        if required:
            raise ConfigError(f"{path}: missing required key(s) {sorted(required)}")
        return cls(**spec)

    # -- discovery ------------------------------------------------------------
    def _discover(self) -> dict:
        regex = _pattern_regex(self.pattern)
        found: dict = {}
        for _, entries in _walk(self.root):
            for path in entries:
                match = regex.fullmatch(path.relative_to(self.root).as_posix())
                if match is None or _is_sidecar(path):
                    continue
                groups = match.groupdict()
                key = (groups.get("subject", "1"), groups.get("session", "0"), groups.get("run"))
                found.setdefault(key[0], {}).setdefault(key[1], []).append((key[2], path))
        return _moabb_index(found)

    def _discover_bids(self) -> dict:
        import mne_bids

        paths = mne_bids.find_matching_paths(self.root, datatypes=["eeg", "meg"], suffixes=["eeg", "meg"],
                                             extensions=_BIDS_EXTENSIONS)
        found: dict = {}
        for p in paths:
            found.setdefault(p.subject, {}).setdefault(p.session or "0", []).append((p.run, p))
        return _moabb_index(found)

    def local_subjects(self) -> list:
        """Subjects with files on disk: all of them, since discovery found them."""
        return list(self.subject_list)

    def summary(self) -> dict:
        """Sessions and, from the first file, sampling rate (Hz) and EEG channel count."""
        raw = self._read(self._first_path())
        return {"sessions": self.n_sessions, "sfreq": raw.info["sfreq"],
                "channels": len(raw.copy().pick("eeg", exclude=[]).ch_names)}

    def _first_path(self):
        sessions = self._index[self.subject_list[0]]
        runs = sessions[next(iter(sessions))]
        return runs[next(iter(runs))]

    # -- MOABB interface --------------------------------------------------------
    def data_path(self, subject, path=None, force_update=False, update_path=None, verbose=None):
        """Paths of the subject's recordings."""
        if subject not in self._index:
            raise DataNotFoundError(self.code, subject, self.root, "no such subject under the root")
        return [str(getattr(p, "fpath", p)) for runs in self._index[subject].values() for p in runs.values()]

    def _get_single_subject_data(self, subject):
        return {session: {run: self._read(path) for run, path in runs.items()}
                for session, runs in self._index[subject].items()}

    def _read(self, path):
        if self.format == "bids":
            import mne_bids

            raw = mne_bids.read_raw_bids(path, verbose=False)
            raw.load_data()
            file = Path(path.fpath)
        else:
            raw = read_recording(path, csv=self.csv, units=self.units, reader_kwargs=self.reader_kwargs)
            file = Path(path)
        if self.channel_types:
            raw.set_channel_types(self.channel_types, verbose=False)
        if self.montage:
            # "standard_1005" is deprecated under that name from MNE 1.13 on.
            montage = standard_montage_name() if self.montage == "standard_1005" else self.montage
            raw.set_montage(montage, match_case=False, on_missing="ignore", verbose=False)
        return self._attach_events(raw, file)

    def _attach_events(self, raw, file: Path):
        """Rename events after the event map, as annotations; drop stim channels."""
        import mne

        source = self.event_source
        stim = [raw.ch_names[i] for i in mne.pick_types(raw.info, stim=True, exclude=[])]
        if source == "auto":
            source = "annotations" if self._annotation_names(raw.annotations).any() or not stim else "stim"
        code_to_name = {code: name for name, code in self.event_id.items()}
        if source == "stim":
            if not stim:
                raise MissingEventsError(file, "event_source is 'stim' but the file has no stim channel")
            found = mne.find_events(raw, stim_channel=stim, shortest_event=1, verbose=False)
            keep = np.isin(found[:, 2], list(code_to_name))
            onsets = found[keep, 0] / raw.info["sfreq"] - raw.first_time
            names = [code_to_name[c] for c in found[keep, 2]]
            seen = sorted(set(found[:, 2].tolist()))
        else:
            mapped = self._annotation_names(raw.annotations)
            onsets = raw.annotations.onset[mapped != ""] - raw.first_time * (raw.annotations.orig_time is not None)
            names = list(mapped[mapped != ""])
            seen = sorted(set(raw.annotations.description))
        if not names and not self.allow_no_events:
            raise MissingEventsError(
                file, f"none of the declared events {self.event_id} found ({source}: {seen[:20]}); "
                "check the event map, descriptions or event_source"
            )
        bad = raw.annotations[[d.upper().startswith(("BAD", "EDGE")) for d in raw.annotations.description]]
        bad_onsets = bad.onset - raw.first_time * (bad.orig_time is not None)
        raw.set_annotations(mne.Annotations(
            np.concatenate([onsets, bad_onsets]),
            np.concatenate([np.zeros(len(onsets)), bad.duration]),
            names + list(bad.description),
        ))
        return raw.drop_channels(stim) if stim else raw

    def _annotation_names(self, annotations) -> np.ndarray:
        """Event name of each annotation ('' when it is not a declared event)."""
        by_text = {name: name for name in self.event_id}
        by_text.update({str(code): name for name, code in self.event_id.items()})
        by_text.update(self.descriptions)
        return np.array([by_text.get(d.strip(), "") for d in annotations.description], dtype=object)


# Data and marker files that MNE reads through their header file (sidecar -> headers).
_SIDECARS = {".eeg": (".vhdr", ".ahdr"), ".vmrk": (".vhdr", ".ahdr"), ".amrk": (".ahdr",), ".fdt": (".set",)}
# Recordings stored as a folder of files (CTF .ds, EGI .mff): one recording each, never walked into.
_FOLDER_RECORDINGS = (".ds", ".mff")


def _is_sidecar(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return True
    return any(path.with_suffix(header).exists() for header in _SIDECARS.get(suffix, ()))


def _walk(root: Path):
    """``(folder, entries)`` below ``root``, following symlinked folders; a link back to one of
    its own ancestors (a loop) is not followed. A folder recording (``.ds``, ``.mff``) is an
    entry, not a folder."""
    stack = [(Path(root), frozenset())]
    while stack:
        folder, ancestors = stack.pop()
        real = os.path.realpath(folder)
        if real in ancestors:
            continue
        ancestors = ancestors | {real}
        entries, subfolders = [], []
        for child in sorted(folder.iterdir()):
            if child.is_dir() and not child.name.lower().endswith(_FOLDER_RECORDINGS):
                subfolders.append(child)
            else:
                entries.append(child)
        yield folder, entries
        stack.extend((sub, ancestors) for sub in reversed(subfolders))


def _resolve_root(root) -> Path:
    root = Path(os.path.expandvars(str(root))).expanduser()
    if root.is_absolute():
        return root
    data_root = get_config().data_root
    for base in (data_root, data_root.parent, Path.cwd()):
        if (base / root).is_dir():
            return (base / root).resolve()
    return data_root / root


def _pattern_regex(pattern: str) -> re.Pattern:
    out, i = "", 0
    tokens = re.compile(r"\{(subject|session|run)\}|\*\*/|\*|\?")
    for m in tokens.finditer(pattern):
        out += re.escape(pattern[i:m.start()])
        token = m.group(0)
        if m.group(1):
            out += f"(?P<{m.group(1)}>[^/]+?)"
        else:
            out += {"**/": "(?:.*/)?", "*": "[^/]*", "?": "[^/]"}[token]
        i = m.end()
    unknown = re.findall(r"\{(\w+)\}", pattern)
    if set(unknown) - set(_PLACEHOLDERS):
        raise ConfigError(f"pattern {pattern!r}: placeholders must be among {{subject}}, {{session}}, {{run}}")
    return re.compile(out + re.escape(pattern[i:]))


def _moabb_index(found: dict) -> dict:
    """Turn raw labels into MOABB's names: int subjects, '<index><text>' sessions and runs."""
    labels = sorted(found, key=natural_key)
    numeric = all(str(s).isdigit() for s in labels)
    index = {}
    for i, label in enumerate(labels, start=1):
        subject = int(label) if numeric else i
        sessions = {}
        for j, session in enumerate(sorted(found[label], key=natural_key)):
            files = found[label][session]
            runs = {_moabb_name(run, k) if run is not None else str(k): path
                    for k, (run, path) in enumerate(sorted(files, key=lambda f: natural_key(f[0] or "")))}
            sessions[_moabb_name(session, j)] = runs
        index[subject] = sessions
    return index


def _moabb_name(label, position: int) -> str:
    label = str(label)
    if label.isdigit():
        return str(int(label))
    text = re.sub(r"[^A-Za-z0-9]", "", label)
    name = f"{position}{text}"
    return name if _MOABB_NAME.fullmatch(name) else str(position)


