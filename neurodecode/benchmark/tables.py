"""Leaderboard and MOABB meta-analysis tables from result rows, each type aggregating its own rows."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..utils import atomic_write
from .protocol import GROUP, ok_rows

__all__ = ["leaderboard", "statistics", "write_tables", "by_type", "comparable", "LEADERBOARD_COLUMNS"]

#: The leaderboard columns every evaluation type has; types add theirs after ``nmcc``.
LEADERBOARD_COLUMNS = ["score_mean", "score_std", "n_subjects", "rank", "chance", "score_minus_chance", "nmcc"]


def by_type(rows: pd.DataFrame) -> list[tuple]:
    """``(type, its rows)`` for each evaluation type in ``rows`` (the ``evaluation_type`` column),
    built-in types first in their registration order."""
    from .protocol import EvaluationType
    from .registry import evaluation_type, evaluation_types

    if rows.empty:
        return []
    if "evaluation_type" not in rows:
        raise ConfigError("result rows have no evaluation_type column; they come from a version of neurodecode "
                          "before evaluation types were stored: rerun the benchmark to add it")
    present = list(dict.fromkeys(rows["evaluation_type"].astype(str)))
    order = {name: i for i, name in enumerate(evaluation_types())}
    out = []
    for name in sorted(present, key=lambda n: (order.get(n, len(order)), present.index(n))):
        try:
            kind = evaluation_type(name)
        except (ConfigError, KeyError) as exc:  # a plugin no longer installed: its rows still count
            warnings.warn(f"evaluation type {name!r} cannot be loaded ({exc}); its rows get the plain "
                          "leaderboard", UserWarning, stacklevel=2)
            kind = EvaluationType()
            kind.name = name
        out.append((kind, rows[rows["evaluation_type"].astype(str) == name]))
    return out


def leaderboard(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset x evaluation x pipeline (x the type's own groups, such as ``shots``),
    ranked within dataset x evaluation (x those groups), as each row's evaluation type aggregates it.

    Columns: ``score_mean`` and ``score_std`` across subjects (each subject
    first averaged over sessions and runs), ``n_subjects``, ``rank`` (1 is
    best), ``chance`` (0.5 for ROC-AUC and nMCC, 1/classes for accuracy),
    ``score_minus_chance``, ``nmcc`` (offline: over the N task classes on
    MOABB's folds; pseudo-online: the score, over N + 1 classes), then the
    columns the types present declare: pseudo-online ``itr`` (bits/min, one
    selection per trial), ``itr_window`` (per window decision; grows with
    1/step), ``fa_per_min``, ``detection_rate``, ``latency_mean`` (s) and
    ``idle_fpr``; cross-dataset one row per ``shots`` (the source model
    adapted with that many calibration trials per class), ``scratch_mean``
    (the same pipeline trained on those trials alone), ``transfer_effect``
    and ``p_transfer``. ``n_errors`` counts failed tasks.
    """
    ok = ok_rows(rows)
    kinds = by_type(ok)
    groups = list(dict.fromkeys(c for kind, _ in kinds for c in kind.group_columns))
    boards = [b for b in (kind.leaderboard(g) for kind, g in kinds) if not b.empty]
    extra = list(dict.fromkeys(c for b in boards for c in b if c not in [*GROUP, *groups, *LEADERBOARD_COLUMNS]))
    columns = [*GROUP, *groups, *LEADERBOARD_COLUMNS, *extra, "n_errors"]
    if not boards:
        return pd.DataFrame(columns=columns)
    board = pd.concat(boards, ignore_index=True)
    errors = rows[rows["error"].fillna("") != ""].groupby(GROUP).size().rename("n_errors")
    board = board.merge(errors, left_on=GROUP, right_index=True, how="left")
    board["n_errors"] = board["n_errors"].fillna(0).astype(int)
    for col in columns:
        if col not in board:
            board[col] = np.nan
    return board.sort_values(["dataset", "evaluation", *groups, "rank", "pipeline"], ignore_index=True,
                             na_position="first")[columns]


def comparable(rows: pd.DataFrame) -> pd.DataFrame:
    """Every row as the evaluation its pipelines are compared within (each type's ``comparable``)."""
    parts = [kind.comparable(g) for kind, g in by_type(rows)]
    return pd.concat(parts) if parts else rows


def statistics(rows: pd.DataFrame) -> pd.DataFrame:
    """MOABB's pairwise pipeline statistics per dataset, and their meta-analysis across datasets.

    For each evaluation with two or more pipelines:
    ``moabb.analysis.meta_analysis.compute_dataset_statistics`` per dataset
    (``p``: one-sided p-value that ``pipe1`` beats ``pipe2``; ``smd``:
    standardised mean difference; ``nsub``), then one ``dataset="meta-analysis"``
    row per pair with MOABB's ``combine_effects`` and ``combine_pvalues``
    (Stouffer) over the datasets.
    """
    from ..moabb_api import meta_analysis as ma

    combine_effects, combine_pvalues, compute_dataset_statistics = (
        ma.combine_effects, ma.combine_pvalues, ma.compute_dataset_statistics)

    ok = comparable(ok_rows(rows))  # cross-dataset: adapted models, compared at each shot count
    columns = ["evaluation", "dataset", "pipe1", "pipe2", "p", "smd", "nsub"]
    out = []
    for evaluation, g in (ok.groupby("evaluation", sort=False) if not ok.empty else []):
        if g["pipeline"].nunique() < 2:
            continue
        # MOABB pivots subjects x pipelines: keep the subjects every pipeline has
        full = g.groupby(["dataset", "subject"])["pipeline"].transform("nunique") == g["pipeline"].nunique()
        g = g[full]
        if g.empty or g["subject"].nunique() < 2:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stats = compute_dataset_statistics(g[["dataset", "subject", "session", "pipeline", "score"]])
        stats = stats[stats["pipe1"] != stats["pipe2"]].drop(columns="index")
        meta = [{"dataset": "meta-analysis", "pipe1": a, "pipe2": b,
                 "p": combine_pvalues(s["p"], s["nsub"]), "smd": combine_effects(s["smd"], s["nsub"]),
                 "nsub": s["nsub"].sum()} for (a, b), s in stats.groupby(["pipe1", "pipe2"], sort=False)]
        out.append(pd.concat([stats, pd.DataFrame(meta)], ignore_index=True).assign(evaluation=evaluation))
    return pd.concat(out, ignore_index=True)[columns] if out else pd.DataFrame(columns=columns)


def _write_csv(table: pd.DataFrame, path: Path) -> Path:
    with atomic_write(path) as tmp:  # a kill leaves the previous file, never half a file
        table.to_csv(tmp, index=False)
    return path


def write_tables(rows: pd.DataFrame, folder) -> tuple[dict, dict]:
    """Write ``results.csv``, ``leaderboard.csv``, ``stats.csv`` and the tables of the evaluation
    types present (pseudo-online: ``offline_vs_pseudoonline.csv``; cross-dataset: ``transfer.csv``).

    Returns ``(files, tables)``: paths by name, and the tables (plus
    ``failures``) as DataFrames.
    """
    folder = Path(folder)
    if rows.empty:
        rows = pd.DataFrame(columns=[*GROUP, "subject", "session", "score", "chance", "error", "evaluation_type"])
    rows = rows.copy()
    rows["error"] = rows["error"].fillna("") if "error" in rows else ""
    first = ["dataset", "evaluation", "pipeline", "subject", "session", "run", "score", "time", "samples",
             "channels", "n_sessions", "chance"]
    order = [c for c in first if c in rows] + [c for c in rows if c not in first and c != "traceback"]
    sort = [c for c in ("dataset", "evaluation", "pipeline", "subject", "session", "run") if c in rows]
    results = rows[order].sort_values(sort, ignore_index=True, key=_sort_key)
    tables = {"results": results, "leaderboard": leaderboard(rows), "stats": statistics(rows)}
    every = ok_rows(rows)
    for kind, g in by_type(every):
        for name, table in kind.tables(g, every).items():
            if name in tables:
                raise ConfigError(f"evaluation type {kind.name!r} writes a table {name!r} that another part of the "
                                  "benchmark writes; rename it")
            tables[name] = table
    tables["failures"] = results.loc[results["error"] != "", ["dataset", "subject", "pipeline", "evaluation",
                                                              "error"]].reset_index(drop=True)
    files = {name: _write_csv(table, folder / f"{name}.csv") for name, table in tables.items() if name != "failures"}
    return files, tables


def _sort_key(col: pd.Series) -> pd.Series:
    return col.astype(str) if col.dtype == object else col
