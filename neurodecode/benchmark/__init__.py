"""Benchmark runs: definitions, evaluation types as plugins, an append-only results store,
leaderboards and reports.

>>> from neurodecode.benchmark import run_benchmark, load_config
"""
from .config import BenchmarkConfig, load_config
from .evaluation_types.pseudo_online import offline_vs_pseudo_online
from .protocol import EvaluationType, ReportContext, Section, Session
from .registry import evaluation_type, evaluation_types, register_evaluation
from .runner import BenchmarkResult, run_benchmark
from .store import ResultStore
from .tables import leaderboard, statistics

__all__ = ["BenchmarkConfig", "load_config", "run_benchmark", "BenchmarkResult", "ResultStore", "leaderboard",
           "offline_vs_pseudo_online", "statistics", "EvaluationType", "Session", "Section", "ReportContext",
           "register_evaluation", "evaluation_type", "evaluation_types"]
