"""The built-in evaluation types: MOABB's three offline splits, the pseudo-online replay,
cross-dataset transfer, leave-one-block-out with training strategies and data lengths, and federated
training across datasets, each an
:class:`~neurodecode.benchmark.EvaluationType` registered like a user's own (see
:mod:`neurodecode.benchmark.protocol`)."""
from __future__ import annotations

from ...moabb_api import SPLITS
from .cross_dataset import CrossDatasetType
from .federated import FederatedType
from .leave_block_out import LeaveBlockOutType
from .moabb_class import MoabbEvaluation, OfflineEvaluation
from .pseudo_online import PseudoOnlineType

__all__ = ["BUILTIN", "MoabbEvaluation", "OfflineEvaluation", "PseudoOnlineType", "CrossDatasetType",
           "LeaveBlockOutType", "FederatedType"]

#: Registered at the first lookup, in this order (which is also the order of their report sections).
BUILTIN = (*(OfflineEvaluation(split) for split in SPLITS), PseudoOnlineType(), CrossDatasetType(),
           LeaveBlockOutType(), FederatedType())
