"""Cross-dataset transfer as a benchmark type: source and target datasets, one unit per target,
leaderboard rows per shot count, transfer effects and their figures."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ...errors import ConfigError
from ..protocol import GROUP, EvaluationType, ReportContext, Section, Session, board

__all__ = ["CrossDatasetType", "cross_dataset_evaluation", "transfer_effects", "by_shots", "SETTINGS"]

#: Settings of a cross-dataset evaluation (see :class:`~neurodecode.evaluation.CrossDatasetEvaluation`).
SETTINGS = ("source", "target", "template", "sfreq", "shots", "alignment", "zero_shot_alignment",
            "target_weight", "finetune")
_TRANSFER = ("scratch_mean", "transfer_effect", "p_transfer")


class CrossDatasetType(EvaluationType):
    """``type: cross-dataset``: a model trained on source datasets, adapted to each target subject
    with ``shots`` calibration trials per class (:class:`~neurodecode.evaluation.CrossDatasetEvaluation`)."""

    name = "cross-dataset"
    parameters = SETTINGS
    group_columns = ("shots",)
    groups_subjects = True

    def parse(self, settings, *, where, datasets):
        """Settings with ``source``/``target`` given as dataset codes (names accepted when unique)."""
        from ...evaluation.cross_dataset_settings import check_settings

        spec = super().parse(settings, where=where, datasets=datasets)
        codes = [d["code"] for d in datasets]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ConfigError(f"{where}: cross-dataset needs distinct dataset codes, and {twice} appear twice; "
                              "give generated datasets a code (params: {code: ...})")
        by_name: dict = {}
        for d in datasets:
            by_name.setdefault(d["name"], []).append(d["code"])
        for key in ("source", "target"):
            if spec.get(key) is None:
                continue
            names = [spec[key]] if isinstance(spec[key], str) else list(spec[key])
            spec[key] = [n if n in codes or len(by_name.get(n, [])) != 1 else by_name[n][0] for n in names]
        try:
            return check_settings(spec, codes)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None

    def targets(self, evaluation, datasets):
        settings = evaluation["settings"]
        if settings.get("target"):
            return [d for d in datasets if d["code"] in settings["target"]]
        return [d for d in datasets if d["code"] not in (settings.get("source") or [])]

    def pool(self, evaluation, datasets):
        return tuple(datasets)

    def check(self, cfg, evaluation, *, paradigm, datasets, where):
        """Classes shared by name, one rate, the template against every cap, and networks that fit it."""
        from ..fits import networks_fit

        label = evaluation["label"]
        try:
            cross = cross_dataset_evaluation(cfg.datasets, cfg.paradigm, evaluation, paradigm, cfg.recipe)
            n_chans = len(cross.template_channels())
        except ConfigError as exc:
            message = str(exc).removeprefix("cross-dataset: ")  # the evaluation's label says it
            raise ConfigError(f"{where}: evaluation {label}: {message}") from None
        filters = getattr(paradigm, "filters", None) or []
        fmax = max((f for band in filters for f in band if f is not None), default=None)  # MOABB keeps its bands
        if fmax is not None and fmax >= cross.sfreq / 2:
            raise ConfigError(f"{where}: evaluation {label}: the paradigm's fmax={fmax:g} Hz is at or above the "
                              f"Nyquist frequency of the common rate ({cross.sfreq / 2:g} Hz); raise sfreq or "
                              "lower fmax")
        prepared = cross.prepared_paradigm()
        seconds = prepared.tmax - (prepared.tmin or 0.0)
        for dataset in cross.datasets:
            networks_fit(cfg.pipelines, label, dataset, prepared, int(round(seconds * cross.sfreq)), cross.sfreq,
                         n_chans=n_chans)

    def start(self, task, scratch):
        return _TransferSession(task)

    def chance(self, paradigm, dataset):
        return 0.5  # the rows carry their own

    def leaderboard(self, rows):
        adapted = rows[rows["training"] == "transfer"]
        out = board(adapted, [*GROUP, *self.group_columns])
        if out.empty:
            return out
        effects = transfer_effects(rows).drop_duplicates([*GROUP, "shots"])[[*GROUP, "shots", *_TRANSFER]]
        return out.merge(effects, on=[*GROUP, "shots"], how="left")

    def comparable(self, rows):
        return by_shots(rows)

    def tables(self, rows, every):
        return {"transfer": transfer_effects(rows)}

    def report(self, rows, context: ReportContext):
        from ..figures import file_name, shots_figure

        transfer = context.tables.get("transfer", pd.DataFrame())
        summary = transfer.drop_duplicates(["dataset", "evaluation", "pipeline", "shots"])[
            ["dataset", "evaluation", "pipeline", "shots", "n_subjects", "transfer_mean", "scratch_mean",
             "transfer_effect", "p_transfer", "test"]] if len(transfer) else transfer
        figures = []
        for (evaluation, dataset), g in rows.groupby(["evaluation", "dataset"], sort=False):
            title = f"{evaluation}: {g['source'].iloc[0]} -> {dataset} ({g['subject'].nunique()} subject(s))"
            figures.append((f"Score against shots: {dataset} ({evaluation})", shots_figure(
                g, title, Path(context.figures) / f"shots_{file_name(evaluation)}_{file_name(dataset)}.png")))
        text = ["`transfer_mean`: the source model adapted with `shots` calibration trials per class of the target "
                "subject (networks fine-tuned, classical pipelines re-fitted with the target weighted); "
                "`scratch_mean`: the same pipeline trained on those trials alone; `transfer_effect`: the mean "
                "per-subject difference, on the same test trials (the EEGNet-family comparison's effect of "
                "transfer learning); `p_transfer`: MOABB's one-sided paired test that transfer is better."]
        return [Section("Cross-dataset transfer", text, [("Transfer effects", summary)], figures)]


class _TransferSession(Session):
    def __init__(self, task):
        from ...preprocessing import Recipe
        from ..build import make_paradigm

        paradigm = make_paradigm(task.paradigm)
        self.cross = cross_dataset_evaluation(task.pool, task.paradigm, task.evaluation, paradigm,
                                              Recipe.coerce(task.recipe), task.random_state)
        self.sfreq = self.cross.sfreq  # every dataset is resampled to it
        self.chance = 0.5

    def evaluate(self, task, pipeline):
        return self.cross.evaluate_subject(task.dataset["code"], task.subject, {task.pipeline["name"]: pipeline}), {}


def cross_dataset_evaluation(pool, paradigm_spec: dict, evaluation: dict, paradigm, recipe, random_state: int = 42):
    """The :class:`~neurodecode.evaluation.CrossDatasetEvaluation` of a benchmark's cross-dataset
    evaluation over the dataset specs ``pool`` (what the driver checks and a worker runs)."""
    from ...datasets import get_dataset, with_channel_types
    from ...evaluation import CrossDatasetEvaluation

    datasets = [with_channel_types(get_dataset(d["name"], subjects=d["subjects"], **d["params"]),
                                   paradigm_spec.get("ch_types")) for d in pool]
    return CrossDatasetEvaluation(paradigm, datasets, recipe=recipe, random_state=random_state,
                                  **evaluation["settings"])


def by_shots(rows: pd.DataFrame) -> pd.DataFrame:
    """Cross-dataset rows of adapted models, each shot count as an evaluation of its own
    (``"<label> | 5 shots"``), for tables and plots that compare pipelines within an evaluation."""
    adapted = rows[rows["training"] == "transfer"]
    return adapted.assign(evaluation=adapted["evaluation"] + " | " + adapted["shots"].astype(int).astype(str)
                          + " shots")


def transfer_effects(rows: pd.DataFrame) -> pd.DataFrame:
    """The transfer effect of every pipeline at every shot count, per subject, with its paired test.

    As in the EEGNet-family comparison (Kollod et al. 2023), the effect of
    transfer learning is the score of the model pretrained on the source and
    adapted with k calibration trials per class, minus the score of the same
    pipeline trained from scratch on those k trials, on the same test trials
    of the same subject. ``transfer_effect`` is its mean over subjects,
    ``p_transfer`` MOABB's one-sided paired p-value that transfer beats
    scratch (permutation test below 20 subjects, else Wilcoxon).

    Parameters
    ----------
    rows : DataFrame
        Cross-dataset result rows without errors.

    Returns
    -------
    table : pandas.DataFrame
        ``dataset``, ``evaluation``, ``pipeline``, ``shots``, ``subject``,
        ``transfer``, ``scratch``, ``difference``, and per group
        ``transfer_mean``, ``scratch_mean``, ``transfer_effect``,
        ``p_transfer``, ``test``, ``n_subjects``.
    """
    from ..paired import paired_effect

    adapted = rows[rows["shots"] > 0] if len(rows) else rows
    return paired_effect(adapted, ["shots"], ("transfer", "scratch"),
                         {"a": "transfer", "b": "scratch", "mean_a": "transfer_mean", "mean_b": "scratch_mean",
                          "effect": "transfer_effect", "p": "p_transfer"})
