"""Where a replay's decisions are stored: one parquet file per (dataset, subject, session, run, pipeline).

The evaluation names the files, the benchmark driver writes them and the
report reads them back; all three go through this module.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..utils import atomic_write

__all__ = ["safe_name", "decision_file", "decision_files", "write_decisions"]


def safe_name(name: str) -> str:
    """``name`` with every run of characters unsafe in file names replaced by ``_``.

    Examples
    --------
    >>> safe_name("CSP+LDA (4 s)")
    'CSP+LDA_4_s_'
    """
    return re.sub(r"[^A-Za-z0-9.+=-]+", "_", name)


def decision_file(dataset: str, subject, session, run, pipeline: str) -> str:
    """The file of one replay's decisions, relative to a predictions folder.

    Examples
    --------
    >>> decision_file("Kalunga2016", 1, "0", "2", "TS+LR")
    'Kalunga2016/sub-1_ses-0_run-2_TS+LR.parquet'
    """
    return f"{dataset}/sub-{subject}_ses-{session}_run-{run}_{safe_name(pipeline)}.parquet"


def decision_files(folder: Path, dataset: str, pipeline: str) -> list[Path]:
    """Every decision file of ``pipeline`` on ``dataset`` under ``folder``, sorted."""
    return sorted((Path(folder) / dataset).glob(f"*_{safe_name(pipeline)}.parquet"))


def write_decisions(table: pd.DataFrame, path: Path) -> Path:
    """Write one replay's decisions as parquet, atomically (a kill leaves no half file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        table.to_parquet(tmp, index=False)
    return path
