"""Datasets: MOABB datasets by name, local recordings and synthetic recordings.

All are MOABB-compatible (subclasses of :class:`moabb.datasets.base.BaseDataset`),
so MOABB's paradigms and evaluations accept them.
"""
from .channel_types import CH_TYPES, with_channel_types
from .generated import RunTruth
from .registry import available_subjects, dataset_names, get_dataset, list_datasets
from .synthetic import SyntheticMI, SyntheticP300, SyntheticSpeller, SyntheticSSVEP
from .synthetic_meg import SyntheticMEG

__all__ = [
    "get_dataset",
    "available_subjects",
    "dataset_names",
    "list_datasets",
    "SyntheticMI",
    "SyntheticSSVEP",
    "SyntheticP300",
    "SyntheticSpeller",
    "SyntheticMEG",
    "with_channel_types",
    "CH_TYPES",
    "RunTruth",
]
