"""A Markdown report of a benchmark with PNG figures (MOABB's plots where MOABB has one)."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..evaluation.pseudo_online import safe_name
from ..utils import atomic_write, write_atomic_bytes
from .tables import by_shots, cross_dataset_rows

__all__ = ["write_report", "timeline_figure", "confusion_figure", "shots_figure"]


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return f"figures/{path.name}"


def _score_plots(results: pd.DataFrame, figures: Path) -> list[str]:
    """MOABB's score plot per dataset, one entry per pipeline and evaluation."""
    from ..moabb_api import plotting

    score_plot = plotting.score_plot

    out = []
    for dataset, g in results.groupby("dataset", sort=False):
        data = g.assign(pipeline=g["pipeline"] + " | " + g["evaluation"])
        chance = float(g["chance"].min())
        fig, _ = score_plot(data[["dataset", "subject", "session", "pipeline", "score"]], chance_level=chance)
        fig.suptitle(f"{dataset}: scores per subject (offline: MOABB's metric; pseudo-online: nMCC)")
        out.append((f"Scores on {dataset}", _save(fig, figures / f"scores_{_file(dataset)}.png")))
    return out


def shots_figure(rows: pd.DataFrame, title: str, path: Path) -> str:
    """Score against calibration trials per class, per pipeline: pretrained then adapted (solid)
    and trained from scratch on the same trials (dashed); mean and standard error over subjects."""
    import matplotlib.pyplot as plt

    subj = rows.groupby(["pipeline", "training", "shots", "subject"])["score"].mean().reset_index()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, (pipeline, g) in enumerate(subj.groupby("pipeline", sort=False)):
        for training, style in (("transfer", "-o"), ("scratch", "--s")):
            curve = g[g["training"] == training].groupby("shots")["score"].agg(["mean", "sem"]).reset_index()
            if curve.empty:
                continue
            ax.errorbar(curve["shots"], curve["mean"], yerr=curve["sem"].fillna(0), fmt=style, color=f"C{i}",
                        capsize=3, label=f"{pipeline} ({'pretrained + shots' if training == 'transfer' else 'scratch'})")
    ax.axhline(float(rows["chance"].mean()), color="grey", lw=1, ls=":", label="chance")
    ax.set_xlabel("calibration trials per class (shots)")
    ax.set_ylabel("score on the target's test trials")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    return _save(fig, path)


def _shots_plots(ok: pd.DataFrame, figures: Path) -> list[tuple]:
    cross = ok[cross_dataset_rows(ok)]
    out = []
    for (evaluation, dataset), g in cross.groupby(["evaluation", "dataset"], sort=False):
        title = f"{evaluation}: {g['source'].iloc[0]} -> {dataset} ({g['subject'].nunique()} subject(s))"
        out.append((f"Score against shots: {dataset} ({evaluation})",
                    shots_figure(g, title, figures / f"shots_{_file(evaluation)}_{_file(dataset)}.png")))
    return out


def _paired_plots(paired: pd.DataFrame, figures: Path) -> list[str]:
    """MOABB's paired plot of offline against pseudo-online nMCC, per pipeline."""
    from ..moabb_api import plotting

    paired_plot = plotting.paired_plot

    out = []
    for (split, pipeline), g in paired.groupby(["split", "pipeline"], sort=False):
        long = pd.concat([
            pd.DataFrame({"dataset": g["dataset"], "subject": g["subject"], "session": "all",
                          "pipeline": "offline", "score": g["offline_nmcc"]}),
            pd.DataFrame({"dataset": g["dataset"], "subject": g["subject"], "session": "all",
                          "pipeline": "pseudo-online", "score": g["pseudo_online_nmcc"]}),
        ])
        fig = paired_plot(long, "offline", "pseudo-online", chance_level=0.5)
        fig.suptitle(f"{pipeline} ({split}): nMCC, one dot per subject")
        out.append((f"Offline vs pseudo-online: {pipeline}, {split}",
                    _save(fig, figures / f"paired_{_file(split)}_{_file(pipeline)}.png")))
    return out


def _decisions(output: Path, board: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    """Saved decisions of the best pseudo-online pipeline of the first dataset that has some."""
    online = board[board["evaluation"].str.startswith("pseudo-online")]
    for row in online.sort_values("rank").itertuples():
        folder = output / "predictions" / safe_name(row.evaluation) / row.dataset
        files = sorted(folder.glob(f"*_{safe_name(row.pipeline)}.parquet"))
        if files:
            return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True), row.evaluation
    return None, ""


def _timeline(decisions: pd.DataFrame, label: str, figures: Path, seconds: float = 90.0) -> tuple:
    first = decisions.groupby(["subject", "session", "run"], sort=False).ngroup() == 0
    run = decisions[first]
    head = run.iloc[0]
    title = (f"{head['dataset']} subject {head['subject']} session {head['session']} run {head['run']}: "
             f"{head['pipeline']} ({label}), first {seconds:g} s")
    return "Pseudo-online decisions against the truth", timeline_figure(run, title, figures / "timeline.png",
                                                                        seconds)


def timeline_figure(run: pd.DataFrame, title: str, path: Path, seconds: float = 90.0) -> str:
    """Decisions (dots) against the truth (steps) over the first ``seconds`` of one run's
    decisions (columns ``time`` in s, ``truth``, ``prediction``); returns the figure's relative path."""
    import matplotlib.pyplot as plt

    run = run[run["time"] <= run["time"].min() + seconds]
    classes = ["idle"] + sorted(set(run["truth"]) - {"idle"} | set(run["prediction"]) - {"idle"})
    code = {c: i for i, c in enumerate(classes)}
    fig, ax = plt.subplots(figsize=(11, 3))
    ax.step(run["time"], run["truth"].map(code), where="post", lw=2.5, alpha=0.5, label="truth")
    ax.plot(run["time"], run["prediction"].map(code), ".", ms=3, label="decision")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("time in the run (s)")
    ax.set_title(title)
    ax.legend(loc="upper right")
    return _save(fig, path)


def _confusions(output: Path, board: pd.DataFrame, figures: Path) -> list[tuple]:
    """Confusion matrices (rows: truth, normalised) of the scored pseudo-online decisions."""
    out = []
    online = board[board["evaluation"].str.startswith("pseudo-online")]
    for (dataset, evaluation), g in online.groupby(["dataset", "evaluation"], sort=False):
        tables = []
        for pipeline in g["pipeline"]:
            files = sorted((output / "predictions" / safe_name(evaluation) / dataset)
                           .glob(f"*_{safe_name(pipeline)}.parquet"))
            if files:
                d = pd.concat([pd.read_parquet(f, columns=["truth", "prediction", "scored"]) for f in files])
                tables.append((pipeline, d[d["scored"]]))
        if not tables:
            continue
        out.append((f"Confusion matrices: {dataset}, {evaluation}",
                    confusion_figure(tables, f"{dataset}, {evaluation}: decisions, normalised per true class",
                                     figures / f"confusion_{_file(dataset)}_{_file(evaluation)}.png")))
    return out


def confusion_figure(tables: list[tuple[str, pd.DataFrame]], title: str, path: Path) -> str:
    """One confusion matrix (rows: truth, normalised) per ``(name, decisions)``; returns the relative path."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, axes = plt.subplots(1, len(tables), figsize=(4.2 * len(tables), 4), squeeze=False)
    for ax, (name, d) in zip(axes[0], tables):
        labels = sorted(set(d["truth"]) | set(d["prediction"]))
        ConfusionMatrixDisplay.from_predictions(d["truth"], d["prediction"], labels=labels, normalize="true",
                                                ax=ax, colorbar=False, values_format=".2f")
        ax.set_title(name)
    fig.suptitle(title)
    return _save(fig, path)


def _detector_curves(output: Path, board: pd.DataFrame, figures: Path) -> list[tuple]:
    """TPR against false activations per minute per pipeline, swept over the decision threshold."""
    import matplotlib.pyplot as plt

    from ..evaluation.metrics import detector_curve

    out = []
    online = board[board["evaluation"].str.startswith("pseudo-online")]
    for (dataset, evaluation), g in online.groupby(["dataset", "evaluation"], sort=False):
        fig, ax = plt.subplots(figsize=(5.5, 4))
        drawn = False
        for pipeline in g["pipeline"]:
            files = sorted((output / "predictions" / safe_name(evaluation) / dataset)
                           .glob(f"*_{safe_name(pipeline)}.parquet"))
            curves = []
            for f in files:
                d = pd.read_parquet(f)
                step = float(np.median(np.diff(d["time"].to_numpy()))) if len(d) > 1 else np.nan
                curves.append(detector_curve(d, step))
            curves = [c for c in curves if len(c)]
            if not curves:
                continue
            mean = pd.concat(curves).groupby("threshold").mean()
            ax.plot(mean["fa_per_min"], mean["tpr"], ".-", label=pipeline)
            drawn = True
        if not drawn:
            plt.close(fig)
            continue
        ax.set_xlabel("false activations per minute of idle time")
        ax.set_ylabel("true-positive rate of task decisions")
        ax.set_title(f"{dataset}, {evaluation}: threshold sweep", fontsize=9)
        ax.legend(fontsize=8)
        out.append((f"Detector curves: {dataset}, {evaluation}",
                    _save(fig, figures / f"detector_{_file(dataset)}_{_file(evaluation)}.png")))
    return out


def _file(name: str) -> str:
    return safe_name(name).replace("/", "_")


def _table(df: pd.DataFrame) -> str:
    return df.to_markdown(index=False, floatfmt=".3f") if len(df) else "_none_"


def _task_periods(results: pd.DataFrame) -> list[str]:
    """Which source gave each dataset's pseudo-online task periods."""
    if "task_period" not in results or results["task_period"].isna().all():
        return []
    used = results.dropna(subset=["task_period"]).groupby("dataset")["task_period"].agg(
        lambda s: ", ".join(sorted(set(s))))
    return ["Task periods of the pseudo-online truth (`task_interval` declared, event durations from the "
            "`annotations`, MOABB's declared `trial_duration` clipped at the next cue, or the epoch "
            "`interval`): " + "; ".join(f"{d}: {s}" for d, s in used.items()) + ".", ""]


def _transfer_section(transfer: pd.DataFrame | None) -> list[str]:
    if transfer is None or transfer.empty:
        return []
    summary = transfer.drop_duplicates(["dataset", "evaluation", "pipeline", "shots"])[
        ["dataset", "evaluation", "pipeline", "shots", "n_subjects", "transfer_mean", "scratch_mean",
         "transfer_effect", "p_transfer", "test"]]
    return ["## Cross-dataset transfer", "",
            "`transfer_mean`: the source model adapted with `shots` calibration trials per class of the target "
            "subject (networks fine-tuned, classical pipelines re-fitted with the target weighted); "
            "`scratch_mean`: the same pipeline trained on those trials alone; `transfer_effect`: the mean "
            "per-subject difference, on the same test trials (the EEGNet-family comparison's effect of "
            "transfer learning); `p_transfer`: MOABB's one-sided paired test that transfer is better.", "",
            _table(summary), ""]


def _environment_lines(results: pd.DataFrame, environments: dict[str, dict]) -> list[str]:
    """One line of the environment the rows ran in; a warning when they ran in several."""
    from ..environment import describe_difference

    used = list(dict.fromkeys(results["environment"].dropna())) if "environment" in results else []
    envs = [environments[d] for d in used if d in environments] or list(environments.values())[-1:]
    if not envs:
        return []
    env = envs[-1]
    packages = ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v)
    commit = env["neurodecode"]["commit"]
    lines = [f"Environment (`environment.json`): Python {env['python']}, neurodecode {env['neurodecode']['version']}"
             + (f" (git {commit[:12]}{'+dirty' if commit.endswith('+dirty') else ''})" if commit else "")
             + f", {packages}; CPU {env['cpu']} ({env['n_cpus']} cores), GPU {env['gpu'] or 'none'}.", ""]
    if len(used) > 1:
        counts = results["environment"].value_counts()
        lines += [f"**These results come from {len(used)} environments**, so they may not be comparable: "
                  + "; ".join(f"`{d}` ({counts[d]} rows)" for d in used) + ". They differ in: "
                  + ("; ".join(describe_difference([environments[d] for d in used if d in environments]))
                     or "(not recorded)") + ". Rerun with `--overwrite` for results from one environment.", ""]
    return lines


def _interpolated_lines(cfg) -> list[str]:
    """Which channels each ``harmonise`` step of the recipe interpolates on each dataset (what a
    pretrained model's channel contract, or a cross-cap template, costs the data)."""
    steps = [s for s in cfg.recipe.steps if s.name == "harmonise"]
    if not steps:
        return []
    from ..datasets import get_dataset
    from ..evaluation.cross_dataset import dataset_channels

    lines = ["## Channels interpolated by harmonise", ""]
    for step in steps:
        for spec in cfg.datasets:
            names, _ = dataset_channels(get_dataset(spec["name"], **spec["params"]))
            missing = step.interpolated(names)
            lines.append(f"- {spec['code']}: {len(missing)} of {len(step.target)} template channels interpolated"
                         + (f" ({', '.join(missing)})" if missing else ""))
    return [*lines, ""]


def write_report(cfg, tables: dict, output, environments: dict[str, dict] | None = None) -> Path:
    """Write ``report.md`` and ``figures/*.png`` from the benchmark tables; return the report's path.

    ``environments`` (digest to :func:`~neurodecode.environment.environment`) describes
    the setups the rows name in their ``environment`` column."""
    import matplotlib

    matplotlib.use("Agg")
    output = Path(output)
    figures = output / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    ok = tables["results"][tables["results"]["error"] == ""]
    board = tables["leaderboard"]
    shown = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if len(ok):
            shown += _score_plots(by_shots(ok), figures)
            shown += _shots_plots(ok, figures)
        if len(tables["offline_vs_pseudoonline"]):
            shown += _paired_plots(tables["offline_vs_pseudoonline"], figures)
        decisions, label = _decisions(output, board)
        if decisions is not None:
            shown.append(_timeline(decisions, label, figures))
        shown += _confusions(output, board, figures)
        shown += _detector_curves(output, board, figures)
    paired = tables["offline_vs_pseudoonline"]
    summary = paired.groupby(["dataset", "pipeline", "split"], sort=False).agg(
        n_subjects=("subject", "nunique"), offline_nmcc=("offline_nmcc", "mean"),
        pseudo_online_nmcc=("pseudo_online_nmcc", "mean"), difference=("difference", "mean"),
        p_offline_higher=("p_offline_higher", "first")).reset_index() if len(paired) else paired
    lines = [f"# Benchmark: {cfg.name}", "",
             f"Datasets: {', '.join(d['code'] + ' (subjects ' + ', '.join(map(str, d['subjects'])) + ')' for d in cfg.datasets)}. "
             f"Paradigm: {cfg.paradigm['name']} {cfg.paradigm['params'] or ''}. "
             f"Recipe: {cfg.recipe!r} (digest {cfg.recipe.digest}). Seed: {cfg.seed}.", "",
             *_environment_lines(tables["results"], environments or {}),
             "## Leaderboard", "",
             "Offline scores use MOABB's metric for the paradigm (ROC-AUC for two classes, else accuracy); "
             "pseudo-online scores are nMCC = (MCC + 1) / 2 over the task classes and idle (chance 0.5). "
             "`nmcc` is nMCC for both: offline over the N task classes on MOABB's folds.", "",
             "ITR: `itr` is the practical rate, one selection per trial, Wolpaw's "
             "B = log2 N + P log2 P + (1 - P) log2((1 - P)/(N - 1)) bits with N task classes and P the "
             "trial accuracy (majority of a trial's non-idle decisions), times 60 / the median cue-to-cue "
             "period (bits/min). `itr_window` applies the same formula to every window decision (N + 1 "
             "classes) times 60 / step: it grows with 1/step, since overlapping windows are not independent "
             "selections, and is not comparable across steps. `fa_per_min`: runs of non-idle decisions "
             "starting outside every task period, per minute of idle time; `detection_rate`: share of "
             "trials with a correct decision inside their task period.", "",
             _table(board.drop(columns=[c for c in ("nmcc", "itr", "itr_window", "fa_per_min", "detection_rate",
                                                   "latency_mean", "idle_fpr", "shots", "scratch_mean",
                                                   "transfer_effect", "p_transfer")
                                        if c in board and board[c].isna().all()])), "",
             *_task_periods(ok),
             *_interpolated_lines(cfg),
             *_transfer_section(tables.get("transfer")),
             "## Offline against pseudo-online", "",
             "Mean over subjects of nMCC on both sides; `difference` is pseudo-online minus offline; "
             "`p_offline_higher` is MOABB's one-sided paired test. What still differs: idle is a class "
             "online only (N + 1 classes against N), and online decisions are windows replayed in time "
             "order, not whole trials.", "", _table(summary), ""]
    if len(tables["failures"]):
        lines += ["## Failures", "", _table(tables["failures"]), ""]
    for title, path in shown:
        lines += [f"## {title}", "", f"![{title}]({path})", ""]
    report = output / "report.md"
    write_atomic_bytes(report, "\n".join(lines))
    return report

