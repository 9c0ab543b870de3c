"""The pseudo-online replay as a benchmark type: settings, checks, units, its leaderboard metrics,
the offline-vs-pseudo-online table and its figures (timeline, confusions, detector curves)."""
from __future__ import annotations

import inspect
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import ConfigError
from ...moabb_api import SPLITS
from ...utils import digest
from ..protocol import GROUP, EvaluationType, ReportContext, Section, Session, board
from .moabb_class import load_dataset

__all__ = ["PseudoOnlineType", "pseudo_online_evaluation", "offline_vs_pseudo_online", "online_two_stage",
           "ONLINE_COLUMNS"]

#: Pseudo-online metrics carried to the leaderboard (nMCC is the score).
ONLINE_COLUMNS = ("itr", "itr_window", "fa_per_min", "detection_rate", "latency_mean", "idle_fpr")
#: Settings of the evaluation that the runner sets itself.
_RESERVED = {"self", "paradigm", "datasets", "recipe", "task_interval", "random_state", "hdf5_path", "predictions_dir",
             "overwrite", "error_score", "suffix", "verbose", "cache"}
_METRICS_TEXT = (
    "ITR: `itr` is the practical rate, one selection per trial, Wolpaw's "
    "B = log2 N + P log2 P + (1 - P) log2((1 - P)/(N - 1)) bits with N task classes and P the "
    "trial accuracy (majority of a trial's non-idle decisions), times 60 / the median cue-to-cue "
    "period (bits/min). `itr_window` applies the same formula to every window decision (N + 1 "
    "classes) times 60 / step: it grows with 1/step, since overlapping windows are not independent "
    "selections, and is not comparable across steps. `fa_per_min`: runs of non-idle decisions "
    "starting outside every task period, per minute of idle time; `detection_rate`: share of "
    "trials with a correct decision inside their task period. The score is nMCC = (MCC + 1) / 2 over "
    "the task classes and idle (chance 0.5).")


class PseudoOnlineType(EvaluationType):
    """``type: pseudo-online``: held-out runs replayed in time order with an idle state
    (:class:`~neurodecode.evaluation.PseudoOnlineEvaluation`)."""

    name = "pseudo-online"
    columns = ONLINE_COLUMNS

    @property
    def parameters(self):
        from ...evaluation import PseudoOnlineEvaluation

        return tuple(sorted(set(inspect.signature(PseudoOnlineEvaluation.__init__).parameters) - _RESERVED))

    def parse(self, settings, *, where, datasets):
        settings = super().parse(settings, where=where, datasets=datasets)
        settings.setdefault("split", "within-session")
        return settings

    def default_label(self, settings):
        return f"pseudo-online/{settings['split']}"

    def trains_across_subjects(self, evaluation):
        return evaluation["settings"].get("split") == "cross-subject" or _global(evaluation)

    def unit_holds_every_subject(self, evaluation):
        """A global model serves every subject: one unit holds them, so it is trained once per run name."""
        return _global(evaluation)

    def check(self, cfg, evaluation, *, paradigm, datasets, where):
        from ...evaluation import PseudoOnlineEvaluation
        from ...moabb_api import declared_sfreq
        from ..fits import check_split, networks_fit

        settings = evaluation["settings"]
        for spec, dataset in datasets:
            check_split(settings.get("split", "within-session"), evaluation["label"], spec, where)
            _check_training(cfg, evaluation, spec, where, getattr(paradigm, "resample", None))
            run_settings = dict(settings)
            if spec.get("task_interval") is not None:
                run_settings["task_interval"] = {dataset.code: spec["task_interval"]}
            with tempfile.TemporaryDirectory() as scratch:
                online = PseudoOnlineEvaluation(paradigm, [dataset], recipe=cfg.recipe, hdf5_path=scratch,
                                                **run_settings)
                try:
                    online.check_dataset(dataset)
                except ConfigError as exc:
                    raise ConfigError(f"{where}: evaluation {evaluation['label']} on {dataset.code}: {exc}") from None
            rate = getattr(paradigm, "resample", None) or declared_sfreq(dataset)
            seconds = float(settings["window"]) if "window" in settings else float(online.window)
            if rate and seconds:
                networks_fit(cfg.pipelines, evaluation["label"], dataset, paradigm, int(round(seconds * rate)), rate)

    def start(self, task, scratch):
        return _ReplaySession(self, task, scratch)

    def chance(self, paradigm, dataset):
        return 0.5  # nMCC

    def leaderboard(self, rows):
        out = board(rows, GROUP, self.columns)
        if out.empty:
            return out
        out["nmcc"] = out["score_mean"]  # the score is nMCC over the task classes and idle
        gains = online_two_stage(rows)
        if gains.empty:
            return out
        gains = gains.drop_duplicates(GROUP)[[*GROUP, "two_stage_gain", "p_two_stage"]]
        return out.merge(gains, on=GROUP, how="left")

    def tables(self, rows, every):
        out = {"offline_vs_pseudoonline": offline_vs_pseudo_online(every)}
        gains = online_two_stage(rows)
        return {**out, "two_stage_online": gains} if len(gains) else out

    def report(self, rows, context: ReportContext):
        from ..figures import file_name

        paired = context.tables.get("offline_vs_pseudoonline", pd.DataFrame())
        summary = paired.groupby(["dataset", "pipeline", "split"], sort=False).agg(
            n_subjects=("subject", "nunique"), offline_nmcc=("offline_nmcc", "mean"),
            pseudo_online_nmcc=("pseudo_online_nmcc", "mean"), difference=("difference", "mean"),
            p_offline_higher=("p_offline_higher", "first")).reset_index() if len(paired) else paired
        text = [_METRICS_TEXT, *_task_periods(rows),
                "Offline against pseudo-online: mean over subjects of nMCC on both sides; `difference` is "
                "pseudo-online minus offline; `p_offline_higher` is MOABB's one-sided paired test. What still "
                "differs: idle is a class online only (N + 1 classes against N), and online decisions are "
                "windows replayed in time order, not whole trials."]
        if paired.empty:
            text.append("No offline evaluation with the same split to pair these replays with; add one "
                        "(for example `within-session`) for the paired table.")
        figures = _paired_plots(paired, context.figures)
        decided = _decision_tables(context.output, rows)
        if decided:
            figures.append(_timeline(decided, context.figures))
        for (dataset, evaluation), tables in _by_dataset(decided).items():
            stem = f"{file_name(dataset)}_{file_name(evaluation)}"
            figures.append((f"Confusion matrices: {dataset}, {evaluation}", _confusions(
                tables, f"{dataset}, {evaluation}: decisions, normalised per true class",
                Path(context.figures) / f"confusion_{stem}.png")))
            curve = _detector_curves(tables, f"{dataset}, {evaluation}: threshold sweep",
                                     Path(context.figures) / f"detector_{stem}.png")
            if curve:
                figures.append((f"Detector curves: {dataset}, {evaluation}", curve))
        tables = [("Offline against pseudo-online", summary)]
        gains = context.tables.get("two_stage_online", pd.DataFrame())
        if len(gains):
            text.append("Two-stage against subject-only: replays that differ only in `training`, paired per subject "
                        "(nMCC); `two_stage_gain` is the mean difference, `p_two_stage` MOABB's one-sided test.")
            tables.append(("Two-stage against subject-only training", gains.drop_duplicates([*GROUP, "replay"])[
                [*GROUP, "n_subjects", "subject_mean", "two_stage_mean", "two_stage_gain", "p_two_stage", "test"]]))
        return [Section("Pseudo-online", text, tables, figures)]


class _ReplaySession(Session):
    def __init__(self, kind, task, scratch):
        from ...preprocessing import Recipe
        from ..build import make_paradigm

        self.dataset = load_dataset(task, kind.subjects_loaded(task))
        paradigm = make_paradigm(task.paradigm)
        self.sfreq = getattr(paradigm, "resample", None)
        self.chance = kind.chance(paradigm, self.dataset)
        self.online = pseudo_online_evaluation(task, self.dataset, paradigm, Recipe.coerce(task.recipe), scratch)

    def evaluate(self, task, pipeline):
        from ...evaluation.decision_files import safe_name

        rows = self.online.evaluate_subject(self.dataset, task.subject, {task.pipeline["name"]: pipeline})
        folder = Path("predictions") / safe_name(task.evaluation["label"])  # relative: the driver writes
        files = {str(folder / rel): table for rel, table in self.online.decisions.items()}
        self.online.decisions.clear()
        settings = task.evaluation["settings"]
        split = settings.get("split", "within-session")
        # the replay's settings but its training: rows of replays that differ only there are paired
        replay = digest({k: v for k, v in sorted(settings.items()) if k not in ("training", "finetune")})
        return [{**r, "split": split, "replay": replay} for r in rows], files


def pseudo_online_evaluation(task, dataset, paradigm, recipe, scratch: str):
    """The :class:`~neurodecode.evaluation.PseudoOnlineEvaluation` of a pseudo-online task, as the
    benchmark runs it (also what ``neurodecode train`` fits a live decoder with)."""
    from ...evaluation import PseudoOnlineEvaluation

    settings = dict(task.evaluation["settings"])
    if task.paradigm.get("ch_types"):
        settings["ch_types"] = task.paradigm["ch_types"]
    if task.dataset.get("task_interval") is not None:  # declared per dataset in the benchmark
        settings["task_interval"] = {dataset.code: task.dataset["task_interval"]}
    return PseudoOnlineEvaluation(paradigm, [dataset], recipe=recipe, random_state=task.random_state, hdf5_path=scratch,
                                  keep_decisions=True, error_score="raise", **settings)


def offline_vs_pseudo_online(rows: pd.DataFrame) -> pd.DataFrame:
    """Offline and pseudo-online nMCC of the same pipeline and split, paired per subject.

    Both sides use the same metric: ``offline_nmcc`` is (MCC + 1) / 2 over the
    N task classes on MOABB's own folds, ``pseudo_online_nmcc`` the same over
    N + 1 classes (idle is a class online only: that, and windows instead of
    trials, is what still differs). ``difference`` is pseudo-online minus
    offline, and ``p_offline_higher`` is MOABB's one-sided paired test
    (permutation below 20 subjects, else Wilcoxon) over the subjects of that
    dataset and pipeline. MOABB's own offline score is kept beside them.
    Rows are paired by their ``evaluation_type`` (the offline split) and the
    replay's ``split``, whatever their labels; ``evaluation`` and
    ``offline_evaluation`` name the two sides.
    """
    from ..paired import p_value, per_subject
    from ..protocol import ok_rows

    ok = ok_rows(rows)
    columns = ["dataset", "pipeline", "split", "subject", "offline_nmcc", "pseudo_online_nmcc", "difference",
               "p_offline_higher", "test", "n_subjects", "offline_score", "evaluation", "offline_evaluation"]
    if ok.empty or "nmcc" not in ok or "evaluation_type" not in ok:
        return pd.DataFrame(columns=columns)
    kinds = ok.drop_duplicates("evaluation").set_index("evaluation")
    splits = kinds["split"] if "split" in kinds else pd.Series(np.nan, index=kinds.index)
    out = []
    for split in SPLITS:
        offline_labels = kinds.index[kinds["evaluation_type"] == split]
        trained = kinds["training"].fillna("subject") if "training" in kinds else "subject"
        online_labels = kinds.index[(kinds["evaluation_type"] == "pseudo-online") & (splits == split)
                                    & (trained == "subject")]  # offline models are the subject's own
        for off_label in offline_labels:
            for on_label in online_labels:
                off = per_subject(ok[ok["evaluation"] == off_label], ("score", "chance", "nmcc"))
                onl = per_subject(ok[ok["evaluation"] == on_label], ("score", "chance", "nmcc"))
                both = off.merge(onl, on=["dataset", "pipeline", "subject"], suffixes=("_off", "_on"))
                for (dataset, pipeline), g in both.groupby(["dataset", "pipeline"], sort=False):
                    pairs = pd.DataFrame({"offline": g["nmcc_off"].to_numpy(),
                                          "pseudo-online": g["score_on"].to_numpy()})
                    p, test = p_value(pairs)
                    out.append(pd.DataFrame({
                        "dataset": dataset, "pipeline": pipeline, "split": split, "subject": g["subject"].to_numpy(),
                        "offline_nmcc": pairs["offline"].to_numpy(),
                        "pseudo_online_nmcc": pairs["pseudo-online"].to_numpy(),
                        "difference": (pairs["pseudo-online"] - pairs["offline"]).to_numpy(),
                        "p_offline_higher": p, "test": test, "n_subjects": len(g),
                        "offline_score": g["score_off"].to_numpy(), "evaluation": on_label,
                        "offline_evaluation": off_label}))
    return pd.concat(out, ignore_index=True)[columns] if out else pd.DataFrame(columns=columns)


def _task_periods(results: pd.DataFrame) -> list[str]:
    """Which source gave each dataset's pseudo-online task periods."""
    if "task_period" not in results or results["task_period"].isna().all():
        return []
    used = results.dropna(subset=["task_period"]).groupby("dataset")["task_period"].agg(
        lambda s: ", ".join(sorted(set(s))))
    return ["Task periods of the pseudo-online truth (`task_interval` declared, event durations from the "
            "`annotations`, MOABB's declared `trial_duration` clipped at the next cue, or the epoch "
            "`interval`): " + "; ".join(f"{d}: {s}" for d, s in used.items()) + "."]


def _paired_plots(paired: pd.DataFrame, figures) -> list[tuple]:
    """MOABB's paired plot of offline against pseudo-online nMCC, per pipeline."""
    from ...moabb_api import plotting
    from ..figures import file_name, save

    out = []
    for (split, pipeline), g in paired.groupby(["split", "pipeline"], sort=False) if len(paired) else []:
        long = pd.concat([
            pd.DataFrame({"dataset": g["dataset"], "subject": g["subject"], "session": "all",
                          "pipeline": "offline", "score": g["offline_nmcc"]}),
            pd.DataFrame({"dataset": g["dataset"], "subject": g["subject"], "session": "all",
                          "pipeline": "pseudo-online", "score": g["pseudo_online_nmcc"]}),
        ])
        fig = plotting.paired_plot(long, "offline", "pseudo-online", chance_level=0.5)
        fig.suptitle(f"{pipeline} ({split}): nMCC, one dot per subject")
        out.append((f"Offline vs pseudo-online: {pipeline}, {split}",
                    save(fig, Path(figures) / f"paired_{file_name(split)}_{file_name(pipeline)}.png")))
    return out


def _decision_tables(output, rows: pd.DataFrame) -> list[tuple]:
    """``(dataset, evaluation, pipeline, rank, decisions)`` of every scored pipeline, best first."""
    from ...evaluation.decision_files import decision_files, safe_name

    if rows.empty:
        return []
    means = rows.groupby(["dataset", "evaluation", "pipeline"], sort=False)["score"].mean().reset_index()
    means["rank"] = means.groupby(["dataset", "evaluation"])["score"].rank(ascending=False, method="min")
    out = []
    for row in means.itertuples():
        files = decision_files(Path(output) / "predictions" / safe_name(row.evaluation), row.dataset,
                               row.pipeline)
        if files:
            out.append((row.dataset, row.evaluation, row.pipeline, row.rank,
                        pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)))
    return out


def _by_dataset(decided: list[tuple]) -> dict:
    grouped: dict = {}
    for dataset, evaluation, pipeline, _, d in decided:
        grouped.setdefault((dataset, evaluation), []).append((pipeline, d))
    return grouped


def _timeline(decided: list[tuple], figures, seconds: float = 90.0) -> tuple:
    """Decisions of the best pipeline of the first dataset, first run."""
    from ..figures import timeline_figure

    _, evaluation, _, _, decisions = sorted(decided, key=lambda t: (t[3], t[0], t[1], t[2]))[0]
    first = decisions.groupby(["subject", "session", "run"], sort=False).ngroup() == 0
    run = decisions[first]
    head = run.iloc[0]
    title = (f"{head['dataset']} subject {head['subject']} session {head['session']} run {head['run']}: "
             f"{head['pipeline']} ({evaluation}), first {seconds:g} s")
    return "Pseudo-online decisions against the truth", timeline_figure(run, title, Path(figures) / "timeline.png",
                                                                        seconds)


def _confusions(tables: list[tuple], title: str, path: Path) -> str:
    from ..figures import confusion_figure

    return confusion_figure([(name, d[d["scored"]]) for name, d in tables], title, path)


def _detector_curves(tables: list[tuple], title: str, path: Path) -> str | None:
    """TPR against false activations per minute per pipeline, swept over the decision threshold."""
    import matplotlib.pyplot as plt

    from ...evaluation.metrics import detector_curve
    from ..figures import save

    fig, ax = plt.subplots(figsize=(5.5, 4))
    drawn = False
    for pipeline, d in tables:
        curves = []
        for _, run in d.groupby(["subject", "session", "run"], sort=False):
            step = float(np.median(np.diff(run["time"].to_numpy()))) if len(run) > 1 else np.nan
            curves.append(detector_curve(run, step))
        curves = [c for c in curves if len(c)]
        if not curves:
            continue
        mean = pd.concat(curves).groupby("threshold").mean()
        ax.plot(mean["fa_per_min"], mean["tpr"], ".-", label=pipeline)
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("false activations per minute of idle time")
    ax.set_ylabel("true-positive rate of task decisions")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return save(fig, path)


def _global(evaluation: dict) -> bool:
    return evaluation["settings"].get("training", "subject") != "subject"


def _check_training(cfg, evaluation: dict, spec: dict, where: str, rate) -> None:
    """Global training needs two subjects; two-stage, networks it can fine-tune."""
    from ...models.transfer import can_fine_tune
    from ..build import build_pipeline

    training, label = evaluation["settings"].get("training", "subject"), evaluation["label"]
    if training != "subject" and len(spec["subjects"]) < 2:
        raise ConfigError(f"{where}: evaluation {label}: training {training} needs two or more subjects, but "
                          f"{spec['code']} lists {spec['subjects']}")
    if training == "two-stage":
        for pipe in cfg.pipelines:
            if not can_fine_tune(build_pipeline(pipe, rate)):
                raise ConfigError(f"{where}: evaluation {label}: training two-stage fine-tunes networks, and "
                                  f"pipeline {pipe['name']} has none; give it its own evaluation with training "
                                  "subject or global")


def online_two_stage(rows: pd.DataFrame) -> pd.DataFrame:
    """Two-stage minus subject-only replays of the same settings (nMCC), per subject, with MOABB's
    one-sided paired test; ``evaluation`` names the two-stage replay."""
    from ..paired import paired_effect

    names = {"a": "two_stage", "b": "subject_only", "mean_a": "two_stage_mean", "mean_b": "subject_mean",
             "effect": "two_stage_gain", "p": "p_two_stage"}
    if rows.empty or "replay" not in rows or "training" not in rows:
        return paired_effect(rows.iloc[:0], ["replay"], ("two-stage", "subject"), names)
    rows = rows.assign(training=rows["training"].fillna("subject"))
    labels = rows[rows["training"] == "two-stage"].groupby(["dataset", "pipeline", "replay"])["evaluation"].first()
    out = paired_effect(rows.assign(evaluation="pseudo-online"), ["replay"], ("two-stage", "subject"), names)
    if len(out):
        out["evaluation"] = [labels[key] for key in zip(out["dataset"], out["pipeline"], out["replay"])]
    return out
