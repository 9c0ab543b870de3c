"""Find datasets by name, check which subjects are on disk, and summarise them."""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pandas as pd
from mne.utils import verbose as _verbose

from ..errors import DataNotFoundError, UnknownNameError, check_params
from ..utils import resource_names, resource_path
from .download_guard import guard_downloads, protect

__all__ = ["get_dataset", "available_subjects", "dataset_names", "list_datasets", "DEFINITIONS_DIR"]

#: Dataset definition files (YAML) shipped inside the package.
DEFINITIONS_DIR = resource_path("datasets")

_SYNTHETIC = ("SyntheticMI", "SyntheticSSVEP", "SyntheticP300", "SyntheticSpeller", "SyntheticMEG")


def _key(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def _moabb_classes() -> dict[str, type]:
    from ..moabb_api import moabb_datasets

    return moabb_datasets()


def _definition_files() -> dict[str, Path]:
    return resource_names("datasets")


def dataset_names() -> list[str]:
    """Names accepted by :func:`get_dataset`: MOABB classes, synthetic presets and shipped definitions.

    Returns
    -------
    names : list of str
        Sorted names.
    """
    return sorted([*_moabb_classes(), *_SYNTHETIC, *_definition_files()])


@_verbose
def get_dataset(name: str | Path, subjects: list | None = None, *, verbose=None, **kwargs):
    """Return a MOABB-compatible dataset by name, offline-safe.

    Parameters
    ----------
    name : str | Path
        A MOABB dataset class name or code (``"Kalunga2016"``, ``"BNCI2014-001"``;
        case, ``-`` and ``_`` are ignored), a synthetic preset
        (``"SyntheticMI"``, ``"SyntheticSSVEP"``, ``"SyntheticP300"``, ``"SyntheticSpeller"``), the stem
        of a definition file shipped in the package (``MuseVisualP300``), or a path to a YAML definition.
    subjects : list | None
        Restrict the dataset to these subjects.
    verbose : bool | str | int | None
        MNE-style verbosity.
    **kwargs
        Passed to the dataset's constructor.

    Returns
    -------
    dataset : moabb.datasets.base.BaseDataset
        With downloads guarded: in offline mode a missing subject raises
        :class:`~neurodecode.errors.DataNotFoundError` at once.

    Examples
    --------
    >>> from neurodecode.datasets import get_dataset
    >>> get_dataset("SyntheticMI", n_subjects=2).subject_list
    [1, 2]
    """
    path = Path(name)
    if path.suffix in (".yml", ".yaml"):
        from .local import LocalDataset

        check_params(f"dataset {path.name}", LocalDataset.from_yaml, kwargs)
        dataset = LocalDataset.from_yaml(path, **kwargs)
    else:
        name = str(name)
        wanted = _key(name)
        classes = _moabb_classes()
        by_key = {_key(n): n for n in [*classes, *_SYNTHETIC, *_definition_files()]}
        match = by_key.get(wanted) or _match_code(wanted, classes)
        if match is None:
            raise UnknownNameError("dataset", name, dataset_names(), listing="`neurodecode datasets`")
        if match in _SYNTHETIC:
            from . import synthetic, synthetic_meg

            cls = getattr(synthetic_meg if match == "SyntheticMEG" else synthetic, match)
            check_params(f"dataset {match}", cls, kwargs)
            dataset = cls(**kwargs)
        elif match in classes:
            check_params(f"dataset {match}", classes[match], kwargs)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dataset = protect(classes[match](**kwargs))
        else:
            from .local import LocalDataset

            check_params(f"dataset {match}", LocalDataset.from_yaml, kwargs)
            dataset = LocalDataset.from_yaml(_definition_files()[match], **kwargs)
    if subjects is not None:
        missing = [s for s in subjects if s not in dataset.subject_list]
        if missing:
            raise DataNotFoundError(
                dataset.code, missing[0], None,
                f"not a subject of this dataset, which has {dataset.subject_list}",
            )
        dataset.subject_list = list(subjects)
    return dataset


def _match_code(wanted: str, classes: dict[str, type]) -> str | None:
    # Codes ("PhysionetMotorImagery") are only known on instances; names rarely
    # need this, so build it lazily.
    for name, cls in classes.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if _key(cls().code) == wanted:
                    return name
        except Exception:  # a constructor that needs arguments cannot be matched by code
            continue
    return None


@_verbose
def available_subjects(dataset, *, verbose=None) -> list:
    """Subjects whose files are present on disk, found without touching the network.

    For MOABB datasets this asks the dataset's own ``data_path`` (MOABB's and
    MNE's path logic) with every download refused: a subject is present when
    no file had to be fetched.

    Parameters
    ----------
    dataset : moabb.datasets.base.BaseDataset
        Any MOABB-compatible dataset.
    verbose : bool | str | int | None
        MNE-style verbosity.

    Returns
    -------
    subjects : list
        The present subjects, in the dataset's order.
    """
    local = getattr(dataset, "local_subjects", None)
    if local is not None:
        return list(local())
    present = []
    for subject in dataset.subject_list:
        try:
            with guard_downloads(dataset.code, subject, offline=True):
                type(dataset).data_path(dataset, subject, verbose=False)
        except DataNotFoundError:
            continue
        except Exception:  # a loader that fails for any other reason has no usable files
            logging.getLogger("neurodecode").debug("data_path failed", exc_info=True)
            continue
        present.append(subject)
    return present


def _describe(name: str, dataset, local: bool) -> dict:
    from ..moabb_api import declared_channels, declared_sfreq

    info = getattr(dataset, "summary", lambda: {})()
    row = {
        "dataset": name,
        "code": dataset.code,
        "paradigm": dataset.paradigm,
        "n_subjects": len(dataset.subject_list),
        "sessions": info.get("sessions", dataset.n_sessions),
        "sfreq": declared_sfreq(dataset),
        "channels": info.get("channels", declared_channels(dataset)),
    }
    if local:
        subjects = available_subjects(dataset)
        row["local_subjects"] = _ranges(subjects)
        row["n_local"] = len(subjects)
    return row


def _ranges(values: list) -> str:
    """Compact subject lists: ``[1, 2, 3, 5]`` -> ``"1-3,5"``."""
    if not all(isinstance(v, int) for v in values):
        return ",".join(map(str, values))
    groups: list[list[int]] = []
    for v in values:
        if groups and v == groups[-1][1] + 1:
            groups[-1][1] = v
        else:
            groups.append([v, v])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in groups)


@_verbose
def list_datasets(*, local: bool = False, verbose=None) -> pd.DataFrame:
    """Table of known datasets.

    Parameters
    ----------
    local : bool
        If True, only datasets with at least one subject on disk, with a
        column listing those subjects.
    verbose : bool | str | int | None
        MNE-style verbosity.

    Returns
    -------
    table : pandas.DataFrame
        One row per dataset: code, paradigm, subjects, sessions, sampling
        rate (Hz) and channels (count), plus local subjects if asked.
    """
    rows = []
    for name in dataset_names():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dataset = get_dataset(name)
        except Exception:  # e.g. a definition whose root is absent on this machine
            logging.getLogger("neurodecode").debug("cannot build %s", name, exc_info=True)
            continue
        rows.append(_describe(name, dataset, local))
    table = pd.DataFrame(rows).astype({"channels": "Int64"})  # counts, with <NA> where undeclared
    if local:
        table = table[table["n_local"] > 0].drop(columns="n_local")
    return table.reset_index(drop=True)
