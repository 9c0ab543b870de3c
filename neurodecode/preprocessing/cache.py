"""On-disk cache of preprocessed continuous runs, read back memory-mapped.

One entry per (dataset, subject, session, run, recipe digest) is a folder::

    <root>/<dataset>/<digest>/sub-<s>/ses-<session>/run-<run>/
        data.npy     float32 (n_channels, n_times), opened with mmap_mode="r"
        info.pkl     the pickled mne.Info after preprocessing (channels, positions, sfreq)
        entry.json   annotations, first sample, recipe, library versions

An entry is written into a temporary sibling folder and renamed into place
in one ``os.rename``; readers only ever see complete entries, and when two
processes race the first rename wins and the other's copy is discarded.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import mne
import numpy as np
import pandas as pd

from ..config import get_config
from ..errors import ConfigError, UnknownNameError

__all__ = ["RunCache", "CachedRun"]

_TMP = ".tmp-"


@dataclass
class CachedRun:
    """A preprocessed run: a read-only float32 memmap plus its MNE metadata."""

    data: np.ndarray
    info: mne.Info
    annotations: mne.Annotations
    first_samp: int
    path: Path | None = None
    #: ``mne.find_events(raw, shortest_event=0)`` on the stim channel(s), None without one
    stim_events: np.ndarray | None = None

    @property
    def sfreq(self) -> float:
        return float(self.info["sfreq"])

    @property
    def ch_names(self) -> list[str]:
        return list(self.info["ch_names"])

    @property
    def n_times(self) -> int:
        return int(self.data.shape[1])

    def to_raw(self) -> mne.io.RawArray:
        """An in-memory :class:`mne.io.RawArray` (a float64 copy) for MNE/MOABB code paths."""
        raw = mne.io.RawArray(np.asarray(self.data, dtype=np.float64), self.info,
                              first_samp=self.first_samp, verbose=False)
        raw.set_annotations(self.annotations)
        return raw

    @classmethod
    def from_raw(cls, raw) -> CachedRun:
        """Wrap an in-memory Raw (no disk), with the same float32 rounding as the cache."""
        return cls(raw.get_data().astype(np.float32), raw.info, raw.annotations, raw.first_samp,
                   stim_events=stim_events(raw))


def stim_events(raw) -> np.ndarray | None:
    """The events of the stim channel(s) as MOABB reads them, or None when there is none."""
    if "stim" not in raw.get_channel_types():
        return None
    return mne.find_events(raw, shortest_event=0, verbose=False).astype(np.int64)


class RunCache:
    """Preprocessed runs on disk.

    Parameters
    ----------
    root : str | Path | None
        Folder of the cache; default ``<NEURODECODE_HOME>/cache/runs``.

    Examples
    --------
    >>> import tempfile, mne, numpy as np
    >>> cache = RunCache(tempfile.mkdtemp())
    >>> raw = mne.io.RawArray(np.ones((2, 100)), mne.create_info(2, 100.0, "eeg"), verbose=False)
    >>> key = ("Demo", 1, "0", "0", "abc")
    >>> cache.get(key) is None
    True
    >>> cache.put(key, raw).data.shape
    (2, 100)
    >>> cache.get(key).data.dtype
    dtype('float32')
    """

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else get_config().cache_dir / "runs"

    def path(self, key: tuple) -> Path:
        dataset, subject, session, run, digest = key
        return self.root / _safe(dataset) / _safe(digest) / f"sub-{subject}" / \
            f"ses-{_safe(session)}" / f"run-{_safe(run)}"

    def get(self, key: tuple) -> CachedRun | None:
        """The cached run, memory-mapped, or ``None``."""
        folder = self.path(key)
        meta_file = folder / "entry.json"
        if not meta_file.exists():
            return None
        meta = json.loads(meta_file.read_text())
        info = pickle.loads((folder / "info.pkl").read_bytes())
        ann = meta["annotations"]
        # MNE parses only "YYYY-MM-DD hh:mm:ss", so the ISO string is converted back here
        orig_time = None if ann["orig_time"] is None else datetime.fromisoformat(ann["orig_time"])
        annotations = mne.Annotations(ann["onset"], ann["duration"], ann["description"],
                                      orig_time=orig_time)
        data = np.load(folder / "data.npy", mmap_mode="r")
        events = meta.get("stim_events")
        return CachedRun(data, info, annotations, int(meta["first_samp"]), folder,
                         None if events is None else np.asarray(events, dtype=np.int64).reshape(-1, 3))

    def put(self, key: tuple, raw, extra: dict | None = None) -> CachedRun:
        """Store ``raw`` atomically and return the stored entry, memory-mapped."""
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f"{_TMP}{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            out = np.lib.format.open_memmap(tmp / "data.npy", mode="w+", dtype=np.float32,
                                            shape=(len(raw.ch_names), int(raw.n_times)))
            for start in range(0, raw.n_times, 1_000_000):  # bounded memory on long runs
                stop = min(start + 1_000_000, raw.n_times)
                out[:, start:stop] = raw.get_data(start=start, stop=stop)
            out.flush()
            del out
            (tmp / "info.pkl").write_bytes(pickle.dumps(raw.info))
            ann = raw.annotations
            meta = {"key": [str(k) for k in key], "first_samp": int(raw.first_samp),
                    "annotations": {"onset": ann.onset.tolist(), "duration": ann.duration.tolist(),
                                    "description": ann.description.tolist(),
                                    "orig_time": None if ann.orig_time is None
                                    else ann.orig_time.isoformat()},
                    "stim_events": None if (ev := stim_events(raw)) is None else ev.tolist(),
                    "created": time.time(), **(extra or {})}
            (tmp / "entry.json").write_text(json.dumps(meta))
            for name in ("data.npy", "info.pkl", "entry.json"):
                _fsync(tmp / name)
            try:
                os.rename(tmp, final)
            except OSError:  # another process finished first: keep its entry
                if not (final / "entry.json").exists():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self.get(key)

    def entries(self) -> pd.DataFrame:
        """One row per complete entry: dataset, digest, subject, session, run, bytes."""
        rows = []
        for meta in sorted(self.root.glob("*/*/sub-*/ses-*/run-*/entry.json")):
            folder = meta.parent
            dataset, digest = folder.parts[-5], folder.parts[-4]
            rows.append({"dataset": dataset, "digest": digest,
                         "subject": folder.parts[-3][4:], "session": folder.parts[-2][4:],
                         "run": folder.parts[-1][4:],
                         "bytes": sum(f.stat().st_size for f in folder.iterdir())})
        return pd.DataFrame(rows, columns=["dataset", "digest", "subject", "session", "run",
                                           "bytes"])

    def leftovers(self) -> list[Path]:
        """Temporary folders left by interrupted writes."""
        return sorted(self.root.glob(f"*/*/sub-*/ses-*/{_TMP}*")) if self.root.exists() else []

    def select(self, dataset: str | None = None, digest: str | None = None) -> pd.DataFrame:
        """:meth:`entries` of one dataset (its code; synthetic datasets also match their settings'
        variants ``CODE-xxxxxxxx``) and/or recipe digest.

        Raises
        ------
        UnknownNameError
            A dataset or digest the cache does not hold, with the closest ones it does.
        """
        table = self.entries()
        for column, value in (("dataset", dataset), ("digest", digest)):
            if value is None:
                continue
            held = sorted(set(table[column]))
            wanted = _safe(value)
            mask = (table[column] == wanted) | table[column].str.startswith(f"{wanted}-")
            if not mask.any():
                if not held:
                    raise ConfigError(f"the cache at {self.root} is empty: no {column} {value!r} in it")
                raise UnknownNameError(f"{column} in the cache", str(value), held)
            table = table[mask]
        return table

    def clear(self, dataset: str | None = None, digest: str | None = None) -> int:
        """Remove entries (all, or of one dataset and/or digest) and leftovers; return the count."""
        table = self.select(dataset, digest)
        for row in table.itertuples():
            folder = self.path((row.dataset, row.subject, row.session, row.run, row.digest))
            shutil.rmtree(folder, ignore_errors=True)
            (folder.parent.parent / "runs.json").unlink(missing_ok=True)  # subject's run index
        for tmp in self.leftovers():
            shutil.rmtree(tmp, ignore_errors=True)
        for folder in sorted(self.root.glob("**/"), key=lambda p: -len(p.parts)):
            if folder != self.root and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        return len(table)


def _safe(part) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(part))


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
