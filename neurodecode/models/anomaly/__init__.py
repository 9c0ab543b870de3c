"""Trial anomaly scores: a hierarchical VAE (hvEEGNet) and classical detectors, and ``DropAnomalies``."""
from .classical import AuditRuleScorer, PeakToPeakScorer, PotatoScorer
from .drop import DETECTORS, DropAnomalies, make_detector
from .scorer import MIN_TRIALS, VAEAnomalyScorer

__all__ = ["VAEAnomalyScorer", "PotatoScorer", "PeakToPeakScorer", "AuditRuleScorer", "DropAnomalies",
           "DETECTORS", "make_detector", "MIN_TRIALS"]
