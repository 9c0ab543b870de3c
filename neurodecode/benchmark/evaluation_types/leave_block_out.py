"""Leave-one-block-out as a benchmark type: subject-only, global and two-stage training side by
side, scores and ITR by data length, the two-stage gain with MOABB's paired test, and the
accuracy/ITR against data length figure."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ...errors import ConfigError
from ..protocol import GROUP, EvaluationType, ReportContext, Section, Session, board

__all__ = ["LeaveBlockOutType", "two_stage_gains"]

_GAIN = ("two_stage_gain", "p_two_stage")


class LeaveBlockOutType(EvaluationType):
    """``type: leave-block-out``: each block (a run, or ``blocks: N`` contiguous stretches of a
    session) scored by models trained on the other blocks, with ``training: [subject, global,
    two-stage]`` and ``data_lengths`` (:class:`~neurodecode.evaluation.leave_block_out.LeaveBlockOut`).

    Examples
    --------
    >>> from neurodecode.benchmark import evaluation_type
    >>> evaluation_type("leave-block-out").group_columns
    ('training', 'data_length')
    """

    name = "leave-block-out"
    columns = ("accuracy", "itr")
    group_columns = ("training", "data_length")
    groups_subjects = True  # the global model of a fold serves every subject: trained once per fold

    @property
    def parameters(self):
        from ...evaluation.leave_block_out import SETTINGS

        return SETTINGS

    def parse(self, settings, *, where, datasets):
        from ...evaluation.leave_block_out import check_settings

        spec = super().parse(settings, where=where, datasets=datasets)
        label = self.name
        try:
            spec = check_settings(spec)
        except ConfigError as exc:
            raise ConfigError(f"{where}: evaluation {label}: {exc}") from None
        across = [t for t in spec["training"] if t != "subject"]
        for d in datasets if across else ():
            if len(d["subjects"]) < 2:
                raise ConfigError(f"{where}: evaluation {label}: training {' and '.join(across)} needs two or more "
                                  f"subjects, but {d['code']} lists {d['subjects']}; add subjects or use "
                                  "training: [subject]")
        return spec

    def check(self, cfg, evaluation, *, paradigm, datasets, where):
        """Data lengths that fit the trials, and networks whose receptive field the shortest one fits."""
        from ...moabb_api import declared_sfreq
        from ..fits import networks_fit
        from .moabb_class import epoch_seconds

        label, settings = evaluation["label"], evaluation["settings"]
        for _, dataset in datasets:
            seconds = epoch_seconds(paradigm, dataset)
            lengths = settings["data_lengths"] or [seconds - settings["latency"]]
            end = settings["latency"] + max(lengths)
            if end > seconds + 1e-9 or max(lengths) <= 0:
                raise ConfigError(f"{where}: evaluation {label}: a data length of {max(lengths):g} s from a latency of "
                                  f"{settings['latency']:g} s ends at {end:g} s, after the {seconds:g} s trials of "
                                  f"{dataset.code}; shorten data_lengths or the latency, or lengthen the paradigm's "
                                  "tmax")
            rate = getattr(paradigm, "resample", None) or declared_sfreq(dataset)
            if rate:  # the shortest windows must still fit every network's receptive field
                networks_fit(cfg.pipelines, label, dataset, paradigm, int(round(min(lengths) * rate)), rate)

    def start(self, task, scratch):
        return _BlockSession(task)

    def leaderboard(self, rows):
        out = board(rows, [*GROUP, *self.group_columns], self.columns)
        gains = two_stage_gains(rows)
        if out.empty or gains.empty:
            return out
        keys = [*GROUP, "data_length"]
        gains = gains.drop_duplicates(keys)[[*keys, *_GAIN]].assign(training="two-stage")
        return out.merge(gains, on=[*keys, "training"], how="left")

    def comparable(self, rows):
        """Each training strategy and data length as an evaluation of its own."""
        return rows.assign(evaluation=rows["evaluation"] + " | " + rows["training"] + " | "
                           + rows["data_length"].map("{:g} s".format))

    def tables(self, rows, every):
        return {"two_stage": two_stage_gains(rows)}

    def report(self, rows, context: ReportContext):
        from ..figures import data_length_figure, file_name

        figures = []
        for (evaluation, dataset), g in rows.groupby(["evaluation", "dataset"], sort=False):
            path = Path(context.figures) / f"data_length_{file_name(evaluation)}_{file_name(dataset)}.png"
            title = f"{dataset}, {evaluation} ({g['subject'].nunique()} subjects)"
            figures.append((f"Accuracy and ITR against data length: {dataset} ({evaluation})",
                            data_length_figure(g, title, path)))
        gains = context.tables.get("two_stage", pd.DataFrame())
        summary = gains.drop_duplicates([*GROUP, "data_length"])[
            [*GROUP, "data_length", "n_subjects", "two_stage_mean", "subject_mean", "two_stage_gain", "p_two_stage",
             "test"]] if len(gains) else gains
        text = ["Each block is scored by models trained on the other blocks: `subject` on the subject's own, "
                "`global` on every subject's (trained once per block and data length), `two-stage` the global "
                "model fine-tuned on the subject's. Windows start at the trial start plus the latency. ITR is "
                "Wolpaw's with one selection per trial every data length plus gaze shift. `two_stage_gain`: the "
                "mean per-subject difference two-stage minus subject-only; `p_two_stage`: MOABB's one-sided "
                "paired test that two-stage is better."]
        return [Section("Leave-one-block-out: training strategies and data length", text,
                        [("Two-stage gain over subject-only", summary)], figures)]


class _BlockSession(Session):
    """Every subject of the dataset loaded once; each pipeline's rows computed at its first task."""

    def __init__(self, task):
        from ...evaluation.leave_block_out import LeaveBlockOut
        from ...preprocessing import Recipe, with_recipe
        from ..build import make_paradigm
        from .moabb_class import load_dataset

        subjects = list(task.dataset["subjects"])
        dataset = load_dataset(task, subjects)
        paradigm = make_paradigm(task.paradigm)
        recipe = Recipe.coerce(task.recipe)
        reader = with_recipe(paradigm, recipe) if recipe.steps else paradigm
        epochs, labels, meta = reader.get_data(dataset, subjects, return_epochs=True)
        self.sfreq = float(epochs.info["sfreq"])
        self.blocks = LeaveBlockOut(epochs.get_data(copy=False), labels, meta.reset_index(drop=True), self.sfreq,
                                    scoring=paradigm.scoring, settings=task.evaluation["settings"])
        self.chance = float("nan")  # the rows carry their own
        self._rows: dict = {}

    def evaluate(self, task, pipeline):
        key = task.pipeline["digest"]
        if key not in self._rows:  # every subject's rows at once: the global model is shared
            self._rows = {key: self.blocks.evaluate(task.pipeline["name"], pipeline)}
        return [r for r in self._rows[key] if str(r["subject"]) == str(task.subject)], {}


def two_stage_gains(rows: pd.DataFrame) -> pd.DataFrame:
    """Two-stage minus subject-only training, per subject, pipeline and data length, with MOABB's
    one-sided paired test that two-stage is better (permutations below 20 subjects, else Wilcoxon).

    Returns
    -------
    table : pandas.DataFrame
        ``dataset``, ``evaluation``, ``pipeline``, ``data_length``, ``subject``,
        ``two_stage``, ``subject_only``, ``difference``, and per group
        ``two_stage_mean``, ``subject_mean``, ``two_stage_gain``,
        ``p_two_stage``, ``test``, ``n_subjects``.
    """
    from ..paired import paired_effect

    return paired_effect(rows, ["data_length"], ("two-stage", "subject"),
                         {"a": "two_stage", "b": "subject_only", "mean_a": "two_stage_mean",
                          "mean_b": "subject_mean", "effect": "two_stage_gain", "p": "p_two_stage"})
