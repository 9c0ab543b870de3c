"""Models trained on windows: classical pipelines and braindecode networks, by name.

>>> from neurodecode.models import get_pipeline
>>> [name for name, _ in get_pipeline("TS+LR").steps]
['covariances', 'tangentspace', 'logisticregression']
"""
from .deep import DeepClassifier
from .filterbank import FilterBank, FilterBankCSP
from .persistence import SavedModel, load_model, save_model
from .registry import PIPELINES, get_pipeline, list_pipelines
from .ssvep import CCA, FBCCA, TRCA
from .transfer import few_shot_indices, fine_tune, transfer_curve
from .yaml_pipelines import load_pipeline_file, load_pipelines

__all__ = ["DeepClassifier", "FilterBank", "FilterBankCSP", "CCA", "FBCCA", "TRCA", "PIPELINES",
           "get_pipeline", "list_pipelines", "save_model", "load_model", "SavedModel", "fine_tune",
           "few_shot_indices", "transfer_curve", "load_pipeline_file", "load_pipelines"]
