"""Per-subject means and MOABB's one-sided paired test, shared by the tables of several types."""
from __future__ import annotations

import pandas as pd

from .protocol import GROUP

__all__ = ["per_subject", "p_value", "paired_effect"]


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


def paired_effect(rows: pd.DataFrame, keys: list, modes: tuple[str, str], names: dict,
                  column: str = "training") -> pd.DataFrame:
    """Mode ``a`` minus mode ``b`` of ``column`` (``modes = (a, b)``), per subject on the same
    test trials, within each dataset, evaluation, pipeline and ``keys``, with MOABB's one-sided
    paired test that ``a`` scores higher.

    ``names`` renames the output columns ``a``, ``b``, ``mean_a``, ``mean_b``, ``effect`` and
    ``p``; the others are ``subject``, ``difference``, ``test`` and ``n_subjects``.

    Examples
    --------
    >>> rows = pd.DataFrame({"dataset": "D", "evaluation": "e", "pipeline": "P", "subject": [1, 1, 2, 2],
    ...                      "training": ["new", "old"] * 2, "score": [0.9, 0.7, 0.8, 0.7]})
    >>> out = paired_effect(rows, [], ("new", "old"), {"effect": "gain"})
    >>> round(float(out["gain"].iloc[0]), 3), out["test"].iloc[0]
    (0.15, 'permutation')
    """
    a, b = modes
    final = [*GROUP, *keys, "subject", "a", "b", "difference", "mean_a", "mean_b", "effect", "p", "test",
             "n_subjects"]
    columns = [names.get(c, c) for c in final]
    both = rows[rows[column].isin(modes)] if len(rows) else rows
    if both.empty or not set(modes) <= set(both[column]):
        return pd.DataFrame(columns=columns)
    # the modes become columns; their names may clash with the index (two-stage's "subject" mode)
    both = both.assign(**{column: both[column].map({a: "a", b: "b"})})
    subj = both.pivot_table(index=[*GROUP, *keys, "subject"], columns=column, values="score",
                            aggfunc="mean").reset_index()
    out = []
    for _, g in subj.dropna(subset=["a", "b"]).groupby([*GROUP, *keys], sort=False):
        p, test = p_value(pd.DataFrame({a: g["a"].to_numpy(), b: g["b"].to_numpy()}))
        out.append(g.assign(difference=g["a"] - g["b"], mean_a=g["a"].mean(), mean_b=g["b"].mean(),
                            effect=(g["a"] - g["b"]).mean(), p=p, test=test, n_subjects=len(g)))
    if not out:
        return pd.DataFrame(columns=columns)
    return pd.concat(out, ignore_index=True)[final].rename(columns=names)
