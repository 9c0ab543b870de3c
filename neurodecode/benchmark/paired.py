"""Per-subject means and MOABB's one-sided paired test, shared by the tables of several types."""
from __future__ import annotations

import pandas as pd

from .protocol import GROUP

__all__ = ["per_subject", "p_value"]


def per_subject(rows: pd.DataFrame, columns=("score", "chance")) -> pd.DataFrame:
    """Mean over sessions and replayed runs: one row per dataset, evaluation, pipeline and subject."""
    cols = [c for c in columns if c in rows]
    return rows.groupby([*GROUP, "subject"], sort=False)[cols].mean().reset_index()


def p_value(pairs: pd.DataFrame) -> tuple[float, str]:
    """MOABB's one-sided p-value that the first column beats the second, and the test used."""
    from ..moabb_api import meta_analysis

    if len(pairs) < 2:
        return float("nan"), "none (one subject)"
    # as moabb.analysis.meta_analysis.compute_dataset_statistics: permutations below 20 subjects
    if len(pairs) < 20:
        return float(meta_analysis.compute_pvals_perm(pairs)[0, 1]), "permutation"
    return float(meta_analysis.compute_pvals_wilcoxon(pairs)[0, 1]), "wilcoxon"
