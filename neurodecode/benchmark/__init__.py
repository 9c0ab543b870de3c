"""Benchmark runs: definitions, an append-only results store, leaderboards and reports.

>>> from neurodecode.benchmark import run_benchmark, load_config
"""
from .config import BenchmarkConfig, load_config
from .runner import BenchmarkResult, run_benchmark
from .store import ResultStore
from .tables import leaderboard, offline_vs_pseudo_online, statistics

__all__ = ["BenchmarkConfig", "load_config", "run_benchmark", "BenchmarkResult", "ResultStore", "leaderboard",
           "offline_vs_pseudo_online", "statistics"]
