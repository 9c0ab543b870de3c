"""Leaderboard, offline-vs-pseudo-online and MOABB meta-analysis tables from result rows."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..utils import atomic_write

__all__ = ["leaderboard", "offline_vs_pseudo_online", "statistics", "transfer_effects", "write_tables",
           "by_shots", "cross_dataset_rows"]

_GROUP = ["dataset", "evaluation", "pipeline"]
#: Pseudo-online metrics carried to the leaderboard (nMCC is the score).
_ONLINE = ("itr", "itr_window", "fa_per_min", "detection_rate", "latency_mean", "idle_fpr")


def _ok(rows: pd.DataFrame) -> pd.DataFrame:
    if rows.empty:
        return rows
    return rows[rows["error"].fillna("") == ""]


def per_subject(rows: pd.DataFrame, columns=("score", "chance")) -> pd.DataFrame:
    """Mean over sessions and replayed runs: one row per dataset, evaluation, pipeline and subject."""
    cols = [c for c in columns if c in rows]
    return rows.groupby([*_GROUP, "subject"], sort=False)[cols].mean().reset_index()


def leaderboard(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset x evaluation x pipeline (x shots), ranked within dataset x evaluation (x shots).

    Columns: ``score_mean`` and ``score_std`` across subjects (each subject
    first averaged over sessions and runs), ``n_subjects``, ``rank`` (1 is
    best), ``chance`` (0.5 for ROC-AUC and nMCC, 1/classes for accuracy),
    ``score_minus_chance``, ``nmcc`` (offline: over the N task classes on
    MOABB's folds; pseudo-online: the score, over N + 1 classes), and for
    pseudo-online rows ``itr`` (bits/min, one selection per trial),
    ``itr_window`` (per window decision; grows with 1/step), ``fa_per_min``,
    ``detection_rate``, ``latency_mean`` (s) and ``idle_fpr``; ``n_errors``
    counts failed tasks.

    Cross-dataset rows get one row per ``shots``: the score is the source
    model adapted with that many calibration trials per class;
    ``scratch_mean`` is the same pipeline trained on those trials alone, and
    ``transfer_effect`` the mean per-subject difference, with
    ``p_transfer`` (see :func:`transfer_effects`).
    """
    ok = _ok(rows)
    columns = [*_GROUP, "shots", "score_mean", "score_std", "n_subjects", "rank", "chance", "score_minus_chance",
               "nmcc", *_ONLINE, "scratch_mean", "transfer_effect", "p_transfer", "n_errors"]
    if ok.empty:
        return pd.DataFrame(columns=columns)
    cross = cross_dataset_rows(ok)
    boards = [_board(ok[~cross], _GROUP)]
    if cross.any():
        adapted = ok[cross & (ok["training"] == "transfer")]
        effects = transfer_effects(ok).drop_duplicates([*_GROUP, "shots"])[
            [*_GROUP, "shots", "scratch_mean", "transfer_effect", "p_transfer"]]
        boards.append(_board(adapted, [*_GROUP, "shots"]).merge(effects, on=[*_GROUP, "shots"], how="left"))
    board = pd.concat([b for b in boards if not b.empty], ignore_index=True)
    errors = rows[rows["error"].fillna("") != ""].groupby(_GROUP).size().rename("n_errors")
    board = board.merge(errors, left_on=_GROUP, right_index=True, how="left")
    board["n_errors"] = board["n_errors"].fillna(0).astype(int)
    for col in columns:
        if col not in board:
            board[col] = np.nan
    return board.sort_values(["dataset", "evaluation", "shots", "rank", "pipeline"], ignore_index=True,
                             na_position="first")[columns]


def cross_dataset_rows(rows: pd.DataFrame) -> pd.Series:
    """Rows of a cross-dataset evaluation (they say how they were trained, and with how many shots)."""
    if "training" not in rows:
        return pd.Series(False, index=rows.index)
    return rows["training"].fillna("").astype(str) != ""


def by_shots(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows with each cross-dataset shot count as an evaluation of its own (``"<label> | 5 shots"``),
    adapted models only, for tables and plots that compare pipelines within an evaluation."""
    cross = cross_dataset_rows(rows)
    if not cross.any():
        return rows
    adapted = rows[cross & (rows["training"] == "transfer")]
    return pd.concat([rows[~cross], adapted.assign(
        evaluation=adapted["evaluation"] + " | " + adapted["shots"].astype(int).astype(str) + " shots")])


def _board(ok: pd.DataFrame, group: list) -> pd.DataFrame:
    if ok.empty:
        return pd.DataFrame()
    subj = ok.groupby([*group, "subject"], sort=False)[
        [c for c in ("score", "chance", "nmcc", *_ONLINE) if c in ok]].mean().reset_index()
    board = subj.groupby(group, sort=False).agg(
        score_mean=("score", "mean"), score_std=("score", "std"), n_subjects=("subject", "nunique"),
        chance=("chance", "mean"), **{k: (k, "mean") for k in ("nmcc", *_ONLINE) if k in subj}).reset_index()
    board["score_minus_chance"] = board["score_mean"] - board["chance"]
    online = board["evaluation"].str.startswith("pseudo-online")
    board["nmcc"] = board["score_mean"].where(online, board["nmcc"] if "nmcc" in board else np.nan)
    for k in _ONLINE:
        board[k] = board[k].where(online) if k in board else np.nan
    rank_by = ["dataset", "evaluation", *(["shots"] if "shots" in group else [])]
    board["rank"] = board.groupby(rank_by)["score_mean"].rank(ascending=False, method="min").astype(int)
    return board


def transfer_effects(rows: pd.DataFrame) -> pd.DataFrame:
    """The transfer effect of every pipeline at every shot count, per subject, with its paired test.

    As in the EEGNet-family comparison (Kollod et al. 2023), the effect of
    transfer learning is the score of the model pretrained on the source and
    adapted with k calibration trials per class, minus the score of the same
    pipeline trained from scratch on those k trials, on the same test trials
    of the same subject. ``transfer_effect`` is its mean over subjects,
    ``p_transfer`` MOABB's one-sided paired p-value that transfer beats
    scratch (permutation test below 20 subjects, else Wilcoxon).

    Returns
    -------
    table : pandas.DataFrame
        ``dataset``, ``evaluation``, ``pipeline``, ``shots``, ``subject``,
        ``transfer``, ``scratch``, ``difference``, and per group
        ``transfer_mean``, ``scratch_mean``, ``transfer_effect``,
        ``p_transfer``, ``test``, ``n_subjects``.
    """
    columns = [*_GROUP, "shots", "subject", "transfer", "scratch", "difference", "transfer_mean", "scratch_mean",
               "transfer_effect", "p_transfer", "test", "n_subjects"]
    ok = _ok(rows)
    if ok.empty or not cross_dataset_rows(ok).any():
        return pd.DataFrame(columns=columns)
    cross = ok[cross_dataset_rows(ok) & (ok["shots"] > 0)]
    subj = cross.pivot_table(index=[*_GROUP, "shots", "subject"], columns="training", values="score",
                             aggfunc="mean").reset_index()
    out = []
    for _, g in subj.dropna(subset=["transfer", "scratch"]).groupby([*_GROUP, "shots"], sort=False):
        p, test = _p_value(pd.DataFrame({"transfer": g["transfer"].to_numpy(), "scratch": g["scratch"].to_numpy()}))
        out.append(g.assign(difference=g["transfer"] - g["scratch"], transfer_mean=g["transfer"].mean(),
                            scratch_mean=g["scratch"].mean(), transfer_effect=(g["transfer"] - g["scratch"]).mean(),
                            p_transfer=p, test=test, n_subjects=len(g)))
    return pd.concat(out, ignore_index=True)[columns] if out else pd.DataFrame(columns=columns)


def _p_value(pairs: pd.DataFrame) -> tuple[float, str]:
    """MOABB's one-sided p-value that the first column beats the second, and the test used."""
    from ..moabb_api import meta_analysis

    compute_pvals_perm, compute_pvals_wilcoxon = meta_analysis.compute_pvals_perm, meta_analysis.compute_pvals_wilcoxon

    if len(pairs) < 2:
        return float("nan"), "none (one subject)"
    # as moabb.analysis.meta_analysis.compute_dataset_statistics: permutations below 20 subjects
    if len(pairs) < 20:
        return float(compute_pvals_perm(pairs)[0, 1]), "permutation"
    return float(compute_pvals_wilcoxon(pairs)[0, 1]), "wilcoxon"


def offline_vs_pseudo_online(rows: pd.DataFrame) -> pd.DataFrame:
    """Offline and pseudo-online nMCC of the same pipeline and split, paired per subject.

    Both sides use the same metric: ``offline_nmcc`` is (MCC + 1) / 2 over the
    N task classes on MOABB's own folds, ``pseudo_online_nmcc`` the same over
    N + 1 classes (idle is a class online only: that, and windows instead of
    trials, is what still differs). ``difference`` is pseudo-online minus
    offline, and ``p_offline_higher`` is MOABB's one-sided paired test
    (permutation below 20 subjects, else Wilcoxon) over the subjects of that
    dataset and pipeline. MOABB's own offline score is kept beside them.
    """
    ok = _ok(rows)
    columns = ["dataset", "pipeline", "split", "subject", "offline_nmcc", "pseudo_online_nmcc", "difference",
               "p_offline_higher", "test", "n_subjects", "offline_score"]
    if ok.empty or "nmcc" not in ok:
        return pd.DataFrame(columns=columns)
    subj = per_subject(ok, ("score", "chance", "nmcc"))
    out = []
    for split in ("within-session", "cross-session", "cross-subject"):
        off = subj[subj["evaluation"] == f"offline/{split}"]
        onl = subj[subj["evaluation"] == f"pseudo-online/{split}"]
        if off.empty or onl.empty:
            continue
        both = off.merge(onl, on=["dataset", "pipeline", "subject"], suffixes=("_off", "_on"))
        for (dataset, pipeline), g in both.groupby(["dataset", "pipeline"], sort=False):
            pairs = pd.DataFrame({"offline": g["nmcc_off"].to_numpy(), "pseudo-online": g["score_on"].to_numpy()})
            p, test = _p_value(pairs)
            out.append(pd.DataFrame({
                "dataset": dataset, "pipeline": pipeline, "split": split, "subject": g["subject"].to_numpy(),
                "offline_nmcc": pairs["offline"].to_numpy(), "pseudo_online_nmcc": pairs["pseudo-online"].to_numpy(),
                "difference": (pairs["pseudo-online"] - pairs["offline"]).to_numpy(),
                "p_offline_higher": p, "test": test, "n_subjects": len(g),
                "offline_score": g["score_off"].to_numpy()}))
    return pd.concat(out, ignore_index=True)[columns] if out else pd.DataFrame(columns=columns)


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

    ok = by_shots(_ok(rows))  # cross-dataset: adapted models, compared at each shot count
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
    """Write ``results.csv``, ``leaderboard.csv``, ``offline_vs_pseudoonline.csv``, ``stats.csv`` and
    ``transfer.csv`` (cross-dataset transfer effects per subject).

    Returns ``(files, tables)``: paths by name, and the tables (plus
    ``failures``) as DataFrames.
    """
    folder = Path(folder)
    if rows.empty:
        rows = pd.DataFrame(columns=[*_GROUP, "subject", "session", "score", "chance", "error"])
    rows = rows.copy()
    rows["error"] = rows["error"].fillna("") if "error" in rows else ""
    first = ["dataset", "evaluation", "pipeline", "subject", "session", "run", "score", "time", "samples",
             "channels", "n_sessions", "chance"]
    order = [c for c in first if c in rows] + [c for c in rows if c not in first and c != "traceback"]
    sort = [c for c in ("dataset", "evaluation", "pipeline", "subject", "session", "run") if c in rows]
    results = rows[order].sort_values(sort, ignore_index=True, key=_sort_key)
    tables = {"results": results, "leaderboard": leaderboard(rows),
              "offline_vs_pseudoonline": offline_vs_pseudo_online(rows), "stats": statistics(rows),
              "transfer": transfer_effects(rows),
              "failures": results.loc[results["error"] != "", ["dataset", "subject", "pipeline", "evaluation",
                                                               "error"]].reset_index(drop=True)}
    files = {name: _write_csv(tables[name], folder / f"{name}.csv")
             for name in ("results", "leaderboard", "offline_vs_pseudoonline", "stats", "transfer")}
    return files, tables


def _sort_key(col: pd.Series) -> pd.Series:
    return col.astype(str) if col.dtype == object else col
