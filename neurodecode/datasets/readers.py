"""Read one recording file into an :class:`mne.io.Raw`, with clear errors.

Any format that MNE reads is accepted (EDF, BDF, GDF, BrainVision, EEGLAB,
Neuroscan CNT, FIF, ...), plus CSV/TSV tables with a declared column map.
EEGLAB files that hold epochs are joined into a continuous recording.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import (
    ChannelMismatchError,
    ConfigError,
    InvalidDataError,
    UnreadableFileError,
    UnsupportedFormatError,
)
from ..utils import UNIT_POWERS

__all__ = ["CsvSpec", "read_recording", "TABLE_EXTENSIONS", "UNIT_FACTORS"]

#: Multiply values in these units by the factor to get volts (from the one table of units).
UNIT_FACTORS = {u: 10.0 ** p for u, p in UNIT_POWERS.items() if u.endswith("V")}

#: Read here with a column map; every other file goes to ``mne.io.read_raw``, which decides.
TABLE_EXTENSIONS = (".csv", ".tsv")

# MNE warns, then reads what is there, when a file is shorter than its header says.
_TRUNCATION_WARNINGS = ("does not match the file size", "file is truncated", "truncated")


@dataclass(frozen=True)
class CsvSpec:
    """Column map of a CSV/TSV recording.

    Parameters
    ----------
    time : str | None
        Column of timestamps in seconds; used to estimate ``sfreq`` when it
        is not given.
    channels : list of str | None
        EEG columns; default every numeric column not named elsewhere.
    marker : str | list of str | None
        Event-code column (0 = no event). A list gives alternative names,
        for files that name the column differently.
    misc : list of str
        Non-EEG columns kept as ``misc`` channels.
    sfreq : float | None
        Sampling frequency in Hz.
    sep : str | None
        Column separator; default ``","`` (``"\\t"`` for ``.tsv``).
    """

    time: str | None = None
    channels: tuple[str, ...] | None = None
    marker: tuple[str, ...] = ()
    misc: tuple[str, ...] = ()
    sfreq: float | None = None
    sep: str | None = None

    @classmethod
    def from_dict(cls, spec: dict) -> CsvSpec:
        """Build from a YAML mapping, rejecting unknown keys."""
        known = set(cls.__dataclass_fields__)
        unknown = set(spec) - known
        if unknown:
            raise ConfigError(f"unknown csv key(s) {sorted(unknown)}: valid keys are {sorted(known)}")
        out = dict(spec)
        for key in ("channels", "misc", "marker"):
            value = out.get(key)
            if isinstance(value, str):
                out[key] = (value,)
            elif value is not None:
                out[key] = tuple(value)
        return cls(**out)


def read_recording(path, *, csv: CsvSpec | None = None, units: str | None = None,
                   reader_kwargs: dict | None = None, verbose=None):
    """Read a recording, loaded in memory, with values in volts.

    Parameters
    ----------
    path : str | Path
        The file; for BrainVision the ``.vhdr`` header.
    csv : CsvSpec | None
        Column map for CSV/TSV files.
    units : str | None
        Units of the stored values (``"uV"``, ``"mV"``, ``"V"``, ``"nV"``).
        Needed for CSV files (default µV); for other formats the reader's own
        scaling is used unless given.
    reader_kwargs : dict | None
        Passed to the MNE reader, e.g. ``{"data_format": "int32"}`` for CNT.
    verbose : bool | str | int | None
        MNE-style verbosity.

    Returns
    -------
    raw : mne.io.Raw

    Raises
    ------
    UnsupportedFormatError
        No MNE reader handles the file (MNE's ``read_raw`` is asked; nothing
        is kept here but the CSV/TSV column reader).
    UnreadableFileError
        The file is missing, corrupt or truncated.
    InvalidDataError
        The signal holds NaN or infinite values.
    ChannelMismatchError
        A declared CSV column is absent.
    """
    path = Path(path)
    name = path.name.lower()
    if not path.exists():  # CTF (.ds) and EGI (.mff) recordings are folders
        raise UnreadableFileError(path, "no such file")
    if units is not None and units not in UNIT_FACTORS:
        raise ConfigError(f"unknown units {units!r}: choose from {', '.join(UNIT_FACTORS)}")
    if name.endswith(TABLE_EXTENSIONS):
        raw = _read_table(path, csv or CsvSpec(), units or "uV", verbose=verbose)
    else:
        raw = _read_mne(path, reader_kwargs or {}, verbose=verbose)
        if units is not None:
            picks = [i for i, t in enumerate(raw.get_channel_types()) if t != "stim"]
            raw.apply_function(lambda x: x * UNIT_FACTORS[units], picks=picks, channel_wise=False)
    _check_finite(raw, path)
    return raw


def _read_mne(path: Path, reader_kwargs: dict, *, verbose):
    import mne

    # MNE only warns at its "warning" log level, and a truncation is only a warning.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw = mne.io.read_raw(path, preload=True, verbose="warning", **reader_kwargs)
        except TypeError as exc:
            if "read_epochs_eeglab" not in str(exc):
                raise UnreadableFileError(path, f"cannot be read: {exc}") from exc
            raw = _epochs_to_raw(mne.io.read_epochs_eeglab(path, verbose="warning"))
        except ValueError as exc:
            if "Unsupported file type" not in str(exc):
                raise UnreadableFileError(path, f"cannot be read ({' '.join(str(exc).split())})") from exc
            raise UnsupportedFormatError(path, f"no MNE reader handles this file ({exc}); convert it to a "
                                               "format mne.io.read_raw reads, or to CSV with a column map") from None
        except Exception as exc:  # every reader fails in its own way
            raise UnreadableFileError(
                path, f"cannot be read ({type(exc).__name__}: {' '.join(str(exc).split())}); "
                "the file may be corrupt or truncated, or need reader options (reader_kwargs)"
            ) from exc
    for w in caught:
        if any(key in str(w.message) for key in _TRUNCATION_WARNINGS):
            raise UnreadableFileError(
                path, f"truncated: {w.message} Re-export or re-download the file."
            )
        with mne.utils.use_log_level(verbose):  # pass the others on, at the caller's level
            mne.utils.warn(str(w.message), w.category)
    if len(raw.ch_names) == 0 or raw.n_times == 0:
        raise UnreadableFileError(path, "holds no signal samples")
    return raw


def _epochs_to_raw(epochs):
    """Join epochs end to end, with one annotation per epoch at its event."""
    import mne

    data = epochs.get_data(copy=False)
    n_epochs, n_ch, n_times = data.shape
    raw = mne.io.RawArray(data.transpose(1, 0, 2).reshape(n_ch, -1), epochs.info, verbose=False)
    sfreq = epochs.info["sfreq"]
    names = {code: name for name, code in epochs.event_id.items()}
    starts = np.arange(n_epochs) * n_times / sfreq
    events = mne.Annotations(starts - epochs.tmin, 0.0, [names[c] for c in epochs.events[:, 2]])
    # MNE marks the joins of concatenated data this way, so filters and epochs respect them.
    joins = mne.Annotations(starts[1:], 0.0, ["BAD boundary"] * (n_epochs - 1))
    raw.set_annotations(events + joins)
    return raw


def _read_table(path: Path, spec: CsvSpec, units: str, *, verbose):
    import mne
    import pandas as pd

    sep = spec.sep or ("\t" if path.suffix.lower() == ".tsv" else ",")
    try:
        table = pd.read_csv(path, sep=sep)
    except Exception as exc:
        raise UnreadableFileError(path, f"cannot be parsed as a table: {exc}") from exc
    if table.empty:
        raise UnreadableFileError(path, "has no rows")
    marker = next((m for m in spec.marker if m in table.columns), None)
    if spec.marker and marker is None:
        raise ChannelMismatchError(
            path, f"none of the marker columns {list(spec.marker)} is present; columns are {list(table.columns)}"
        )
    named = {spec.time, marker, *spec.misc} - {None}
    channels = list(spec.channels) if spec.channels else [
        c for c in table.columns if c not in named and pd.api.types.is_numeric_dtype(table[c])
    ]
    missing = [c for c in [*channels, *spec.misc, *([spec.time] if spec.time else [])] if c not in table.columns]
    if missing:
        raise ChannelMismatchError(path, f"declared column(s) {missing} absent; columns are {list(table.columns)}")
    sfreq = spec.sfreq or _estimate_sfreq(path, table, spec.time)
    data = table[channels + list(spec.misc)].to_numpy(dtype=float).T * UNIT_FACTORS[units]
    info = mne.create_info(channels + list(spec.misc), sfreq,
                           ch_types=["eeg"] * len(channels) + ["misc"] * len(spec.misc))
    raw = mne.io.RawArray(data, info, verbose=verbose)
    if marker is not None:
        codes = table[marker].fillna(0).to_numpy()
        onsets = np.flatnonzero(codes)
        raw.set_annotations(mne.Annotations(onsets / sfreq, 0.0, [f"{int(c)}" for c in codes[onsets]]))
    return raw


def _estimate_sfreq(path: Path, table, time_col: str | None) -> float:
    if time_col is None:
        raise ConfigError(f"{path}: declare csv.sfreq or csv.time to know the sampling frequency")
    step = np.median(np.diff(table[time_col].to_numpy(dtype=float)))
    if not step > 0:
        raise UnreadableFileError(path, f"column {time_col!r} is not increasing: cannot estimate sfreq")
    return float(1.0 / step)


def _check_finite(raw, path: Path) -> None:
    bad = ~np.isfinite(raw.get_data()).all(axis=1)
    if bad.any():
        names = [raw.ch_names[i] for i in np.flatnonzero(bad)]
        raise InvalidDataError(
            path, f"NaN or infinite samples in channel(s) {names}; interpolate or drop them "
            "(or mark the channels bad) before loading"
        )
