"""Fit the live decoder of a benchmark definition: one pipeline, one subject, as its pseudo-online evaluation does."""
from __future__ import annotations

import tempfile
from pathlib import Path

import mne

from ..errors import ConfigError, UnknownNameError

__all__ = ["train_model"]


def _only(tasks: list, kind: str, wanted, names_of) -> list:
    """The tasks that ``wanted`` names, or an error with the close matches."""
    kept = [t for t in tasks if wanted in names_of(t)]
    if not kept:
        raise UnknownNameError(kind, str(wanted), sorted({str(n) for t in tasks for n in names_of(t)}))
    return kept


@mne.utils.verbose
def train_model(config, *, dataset: str, subject: int, pipeline: str, out, runs=None,
                evaluation: str | None = None, verbose=None) -> Path:
    """Fit a pipeline on a subject's runs exactly as the definition's pseudo-online evaluation
    would, and save it as a model file for :class:`~neurodecode.online.OnlineDecoder`.

    Same causal recipe (the evaluation's raw steps, then the paradigm's channels,
    band and rate, all causal), same training windows (task windows inside each
    trial and idle windows, ``train_step`` apart, ``idle_ratio``), same idle mode
    and smoothing, same seed.

    Parameters
    ----------
    config : str | Path | dict | BenchmarkConfig
        A benchmark definition with a pseudo-online evaluation.
    dataset : str
        Name or code of one of its datasets.
    subject : int
    pipeline : str
        Name of one of its pipelines.
    out : str | Path
        The model file to write (``.ndmodel``).
    runs : list of str | None
        Runs to train on, by name (``"2"``) or ``"session/run"``; None: every
        run of the subject with task events.
    evaluation : str | None
        Label of the pseudo-online evaluation when the definition has several.
    %(verbose)s

    Returns
    -------
    path : Path
    """
    from ..benchmark import load_config
    from ..benchmark.build import build_pipeline, make_paradigm
    from ..benchmark.evaluation_types.pseudo_online import PseudoOnlineType, pseudo_online_evaluation
    from ..benchmark.tasks import build_tasks
    from ..datasets import get_dataset, with_channel_types
    from ..evaluation.splits import Fold
    from ..moabb_api import subject_data
    from ..models.persistence import save_model
    from ..preprocessing import Recipe
    from ..windows import Windows

    cfg = load_config(config)
    tasks = [t for t in build_tasks(cfg) if t.evaluation["type"] == PseudoOnlineType.name]
    if not tasks:
        raise ConfigError(f"{cfg.name} has no pseudo-online evaluation; a live decoder is fitted as one "
                          "would fit it, so add one (type: pseudo-online)")
    labels = sorted({t.evaluation["label"] for t in tasks})
    if evaluation is None and len(labels) > 1:
        raise ConfigError(f"{cfg.name} has {len(labels)} pseudo-online evaluations; choose one with "
                          f"evaluation= (--evaluation): {labels}")
    label = evaluation or labels[0]
    tasks = _only(tasks, "pseudo-online evaluation", label, lambda t: (t.evaluation["label"],))
    training = tasks[0].evaluation["settings"].get("training", "subject")
    if training != "subject":  # a live decoder is fitted on the subject's own runs only
        raise ConfigError(f"pseudo-online evaluation {label} trains with training {training}, on other subjects' "
                          "runs too; neurodecode train fits the subject's own runs, so choose an evaluation with "
                          "training subject")
    tasks = _only(tasks, "dataset", dataset, lambda t: (t.dataset["name"], t.dataset["code"]))
    tasks = _only(tasks, "pipeline", pipeline, lambda t: (t.pipeline["name"],))
    [task] = _only(tasks, f"subject of {tasks[0].dataset['code']}", subject, lambda t: (t.subject,))
    ds = with_channel_types(get_dataset(task.dataset["name"], subjects=[subject], **task.dataset["params"]),
                            task.paradigm.get("ch_types"))
    paradigm = make_paradigm(task.paradigm)
    with tempfile.TemporaryDirectory(prefix="neurodecode-train-") as scratch:
        ev = pseudo_online_evaluation(task, ds, paradigm, Recipe.coerce(task.recipe), scratch)
        classes, _, _ = ev.check_dataset(ds)
        streams = [s for runs_ in ev.streams(ds, subject).values() for s in runs_]
        chosen = _choose_runs(streams, runs, f"{ds.code} subject {subject}")
        X, y, groups, meta = ev.training_set(Fold(train=chosen, test=chosen[0]), classes)
        est = ev.prepare(build_pipeline(task.pipeline, getattr(paradigm, "resample", None)), chosen[0].sfreq)
        est.fit(X, y, **({"groups": groups} if ev.idle == "threshold" else {}))
        recipe = ev.online_recipe
    source = subject_data(ds, subject)[chosen[0].session][chosen[0].run]
    # the stream's channels that the recipe reads: all but event channels, which the markers replace
    input_info = mne.pick_info(source.info, [i for i, kind in enumerate(source.info.get_channel_types())
                                             if kind != "stim"])
    online = {"window": ev.window, "step": ev.step, "idle": ev.idle, "smoothing": ev.smoothing,
              "rest": list(ev.rest), "classes": list(classes), "recipe": recipe.to_dict(),
              "input_info": input_info, "dataset": ds.code, "subject": subject, "pipeline": pipeline,
              "evaluation": label, "runs": [f"{s.session}/{s.run}" for s in chosen],
              "n_training_windows": len(y), "random_state": task.random_state}
    windows = Windows(X, meta, list(chosen[0].ch_names), float(chosen[0].sfreq), recipe_digest=recipe.digest)
    return save_model(est, out, windows, recipe=recipe, online=online)


def _choose_runs(streams: list, runs, where: str) -> list:
    if runs is None:
        return streams
    names = {f"{s.session}/{s.run}": s for s in streams}
    chosen = []
    for r in runs:
        r = str(r)
        match = [s for key, s in names.items() if r in (key, key.split("/", 1)[1])]
        if not match:
            raise UnknownNameError(f"run of {where}", r, list(names))
        if len(match) > 1:
            raise ConfigError(f"run {r!r} of {where} is in several sessions; name it as session/run: "
                              f"{[f'{s.session}/{s.run}' for s in match]}")
        chosen.append(match[0])
    return chosen
