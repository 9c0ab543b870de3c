"""Evaluations: MOABB's offline ones, a leak-free pseudo-online replay with an idle state, and
cross-dataset transfer with few-shot calibration.

Names load on first use, so ``import neurodecode.evaluation`` imports neither
torch nor MOABB.

>>> from neurodecode.evaluation import nmcc, wolpaw_itr
>>> nmcc(["idle", "a", "b"], ["idle", "a", "b"])
1.0
"""
from ..utils import lazy_exports

_EXPORTS = {
    "PseudoOnlineEvaluation": "pseudo_online", "nmcc": "metrics", "wolpaw_itr": "metrics",
    "decision_metrics": "metrics", "METRIC_COLUMNS": "metrics", "chance_level": "metrics",
    "SPLITS": "splits", "Fold": "splits",
    "RunStream": "stream", "replay": "stream", "compare_offline": "compare",
    "offline_evaluations": "compare", "side_by_side": "compare", "CrossDatasetEvaluation": "cross_dataset",
    "anomaly_audit": "anomaly", "score_windows": "anomaly", "save_audit": "anomaly_report",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
