"""Evaluations: MOABB's offline ones and a leak-free pseudo-online replay with an idle state.

>>> from neurodecode.evaluation import nmcc, wolpaw_itr
>>> nmcc(["idle", "a", "b"], ["idle", "a", "b"])
1.0
"""
from .compare import compare_offline, offline_evaluations, side_by_side
from .metrics import METRIC_COLUMNS, decision_metrics, nmcc, wolpaw_itr
from .pseudo_online import PseudoOnlineEvaluation
from .splits import SPLITS, Fold
from .stream import RunStream, replay

__all__ = ["PseudoOnlineEvaluation", "nmcc", "wolpaw_itr", "decision_metrics", "METRIC_COLUMNS",
           "SPLITS", "Fold", "RunStream", "replay", "compare_offline", "offline_evaluations",
           "side_by_side"]
