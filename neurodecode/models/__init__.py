"""Models trained on windows: classical pipelines and braindecode networks, by name.

Names load on first use, so ``import neurodecode.models`` imports neither
torch nor MOABB.

>>> from neurodecode.models import get_pipeline
>>> [name for name, _ in get_pipeline("TS+LR").steps]
['covariances', 'tangentspace', 'logisticregression']
"""
from ..utils import lazy_exports

_EXPORTS = {
    "DeepClassifier": "deep", "IdleThreshold": "decision", "DecisionSmoother": "decision",
    "WindowFilterBank": "filterbank", "FilterBankCSP": "filterbank",
    "CCA": "ssvep", "FBCCA": "ssvep", "TRCA": "ssvep",
    "get_pipeline": "registry", "list_pipelines": "registry", "classical_pipelines": "registry",
    "save_model": "persistence", "load_model": "persistence", "SavedModel": "persistence",
    "fine_tune": "transfer", "random_per_class": "transfer", "transfer_curve": "transfer",
    "load_pipeline_file": "yaml_pipelines", "load_pipelines": "yaml_pipelines",
    "VAEAnomalyScorer": "anomaly", "DropAnomalies": "anomaly",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
