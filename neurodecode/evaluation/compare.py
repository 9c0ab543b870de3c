"""Offline (MOABB) and pseudo-online scores of the same pipelines on the same data, side by side."""
from __future__ import annotations

import pandas as pd

from ..moabb_api import evaluation_class
from ..models.signal import needs_class_names

__all__ = ["offline_evaluations", "side_by_side", "compare_offline", "moabb_groups"]

_KEYS = ["dataset", "subject", "session", "pipeline"]


def offline_evaluations(online, pipelines: dict, **kwargs) -> list:
    """MOABB's offline evaluations matching ``online``: ``[(evaluation, pipelines)]``.

    Same paradigm, datasets, seed (``random_state``) and results folder, and the same recipe
    (zero-phase, as offline analyses use). Pipelines that read stimulation
    frequencies from class names get their own evaluation with MOABB's
    ``return_epochs=True, mne_labels=True``.
    """
    from ..preprocessing import with_recipe

    paradigm = online.paradigm
    if online.recipe.steps:
        paradigm = with_recipe(paradigm, online.recipe, cache=online.cache)
    cls = evaluation_class(online.split)
    return [(cls(paradigm=paradigm, datasets=list(online.datasets), random_state=online.random_state,
                 hdf5_path=online.hdf5_path, **extra, **kwargs), group)
            for group, extra in moabb_groups(pipelines)]


def moabb_groups(pipelines: dict) -> list[tuple[dict, dict]]:
    """Split pipelines by the MOABB evaluation settings they need: ``[(pipelines, settings)]``.

    Pipelines that read stimulation frequencies from class names need
    ``return_epochs=True, mne_labels=True``; the others need nothing. Empty
    groups are left out.
    """
    named = {k: p for k, p in pipelines.items() if needs_class_names(p)}
    plain = {k: p for k, p in pipelines.items() if k not in named}
    return [(g, extra) for g, extra in ((plain, {}), (named, {"return_epochs": True, "mne_labels": True})) if g]


def side_by_side(offline: pd.DataFrame, online: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, subject, session, pipeline): the offline score (MOABB's metric for
    the paradigm) and the pseudo-online nMCC and metrics, averaged over replayed runs."""
    cols = ["score", "accuracy", "itr", "idle_fpr", "latency_mean", "trial_accuracy"]
    keyed = [df.assign(subject=df["subject"].astype(str), session=df["session"].astype(str))
             for df in (offline, online)]
    po = keyed[1].groupby(_KEYS)[cols].mean().add_prefix("pseudo_online_").reset_index()
    off = keyed[0][_KEYS + ["score"]].rename(columns={"score": "offline_score"})
    table = off.merge(po, on=_KEYS, how="outer")
    return table.rename(columns={"pseudo_online_score": "pseudo_online_nmcc"}).sort_values(_KEYS, ignore_index=True)


def compare_offline(online, pipelines: dict) -> pd.DataFrame:
    """Run ``online`` and its offline counterparts on ``pipelines``; return :func:`side_by_side`.

    Offline within-session rows are per session and pseudo-online rows per
    replayed run, so both are averaged to (subject, session).
    """
    offline = pd.concat([ev.process(group) for ev, group in offline_evaluations(online, pipelines)],
                        ignore_index=True)
    return side_by_side(offline, online.process(pipelines))
