"""Benchmark tasks, one per (dataset, subject, pipeline, evaluation), and the work a worker does.

A task holds plain data only, so it can be sent to another process or a Dask
worker; :func:`run_task` rebuilds the dataset, paradigm, pipeline and
evaluation there and returns result rows. It never writes the store.
"""
from __future__ import annotations

import tempfile
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

from ..datasets import with_channel_types
from ..moabb_api import OFFLINE_EVALUATIONS as OFFLINE
from ..preprocessing import Recipe
from ..utils import digest

__all__ = ["Task", "build_tasks", "run_task", "make_paradigm", "build_pipeline", "identity"]

#: MOABB's result-row names for the counts that its evaluations yield under other names.
_RENAME = {"n_samples": "samples", "n_channels": "channels"}


@dataclass(frozen=True)
class Task:
    """One unit of work: a pipeline scored on one subject of one dataset by one evaluation."""

    id: str
    dataset: dict
    subject: int
    pipeline: dict
    evaluation: dict
    paradigm: dict
    recipe: dict
    recipe_digest: str
    seed: int
    output: str
    threads: int | None = None

    def describe(self) -> str:
        return f"{self.dataset['code']} sub-{self.subject} {self.pipeline['name']} {self.evaluation['label']}"


def build_tasks(cfg, threads: int | None = None) -> list[Task]:
    """Every task of a benchmark, in a stable order (dataset, evaluation, pipeline, subject)."""
    recipe = cfg.recipe.to_dict()
    tasks = []
    for ds in cfg.datasets:
        for ev in cfg.evaluations:
            for pipe in cfg.pipelines:
                for subject in ds["subjects"]:
                    key = {"dataset": [ds["name"], ds["params"], ds["subjects"] if _needs_all(ev) else None,
                                       ds.get("task_interval") if ev["type"] not in OFFLINE else None],
                           "subject": subject, "pipeline": pipe["digest"], "evaluation": ev,
                           "paradigm": cfg.paradigm, "recipe": cfg.recipe.digest, "seed": cfg.seed}
                    task_id = digest(key)
                    tasks.append(Task(task_id, ds, subject, pipe, ev, cfg.paradigm, recipe, cfg.recipe.digest,
                                      cfg.seed, str(cfg.output), threads))
    return tasks


def _needs_all(evaluation: dict) -> bool:
    return "cross-subject" in (evaluation["type"], evaluation["settings"].get("split"))


def make_paradigm(spec: dict):
    """A MOABB paradigm from ``{"name", "params"}``."""
    from ..moabb_api import make_paradigm as build

    return build(spec["name"], spec["params"])


def build_pipeline(spec: dict, sfreq: float | None):
    """A fresh estimator from a pipeline entry of a benchmark (registry name or YAML file),
    with ``sfreq`` (Hz) filled in where the pipeline needs it."""
    from sklearn.base import clone

    from ..models import get_pipeline, load_pipeline_file
    from ..models.signal import fill_sfreq

    est = clone(load_pipeline_file(spec["file"])["pipeline"]) if "file" in spec else \
        get_pipeline(spec["name"], **spec["params"])
    return fill_sfreq(est, sfreq) if sfreq else est  # filter banks and networks on arrays need the rate


def _chance(paradigm, dataset, evaluation: dict) -> float:
    if evaluation["type"] not in OFFLINE:
        return 0.5  # nMCC
    scoring = getattr(paradigm, "scoring", "accuracy")
    return 0.5 if scoring == "roc_auc" else 1.0 / len(paradigm.used_events(dataset))


def run_task(task: Task) -> tuple[list[dict], str, str, dict]:
    """Run one task; return ``(rows, status, message, files)``.

    ``status`` is ``"ok"``, or ``"error"`` with one error row and the
    exception as ``message``: a pipeline that crashes is a result, not the
    end of the benchmark. ``files`` maps paths relative to the output folder
    to tables (the pseudo-online decisions): a worker writes nothing, so it
    needs no access to the driver's disk.
    """
    import logging

    import mne

    from ..config import apply

    apply()
    mne.set_log_level("ERROR")
    logging.getLogger("moabb").setLevel(logging.ERROR)
    t0 = perf_counter()
    try:
        with warnings.catch_warnings(), _threads(task.threads):
            warnings.simplefilter("ignore")
            rows, files = _evaluate(task)
    except Exception as exc:  # noqa: BLE001  (recorded as an error row)
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        detail = traceback.format_exc(limit=-3)
        row = {**identity(task), "score": float("nan"), "time": perf_counter() - t0, "error": message,
               "traceback": detail}
        return [row], "error", message, {}
    return rows, "ok", "", files


@contextmanager
def _threads(n: int | None):
    """Limit BLAS and torch threads inside a worker (None: leave them)."""
    if n is None:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(n):
            yield
    finally:
        torch.set_num_threads(before)


def identity(task: Task) -> dict:
    """The columns that name a task's rows in the store and the tables."""
    return {"dataset": task.dataset["code"], "subject": task.subject, "pipeline": task.pipeline["name"],
            "evaluation": task.evaluation["label"], "pipeline_digest": task.pipeline["digest"],
            "recipe_digest": task.recipe_digest, "seed": task.seed, "task": task.id}


def _evaluate(task: Task) -> tuple[list[dict], dict]:
    from ..datasets import get_dataset

    subjects = task.dataset["subjects"] if _needs_all(task.evaluation) else [task.subject]
    dataset = with_channel_types(get_dataset(task.dataset["name"], subjects=subjects, **task.dataset["params"]),
                                 task.paradigm.get("ch_types"))
    paradigm = make_paradigm(task.paradigm)
    recipe = Recipe.coerce(task.recipe)
    pipeline = build_pipeline(task.pipeline, getattr(paradigm, "resample", None))
    name = task.pipeline["name"]
    files: dict = {}
    with tempfile.TemporaryDirectory(prefix="neurodecode-moabb-") as scratch:
        if task.evaluation["type"] in OFFLINE:
            raw_rows = _offline(task, dataset, paradigm, recipe, name, pipeline, scratch)
        else:
            raw_rows, files = _pseudo_online(task, dataset, paradigm, recipe, name, pipeline, scratch)
    chance = _chance(paradigm, dataset, task.evaluation)
    out = []
    for raw in raw_rows:
        row = {_RENAME.get(k, k): v for k, v in raw.items() if k not in ("dataset", "pipeline")}
        row.update(identity(task), session=str(raw["session"]), n_sessions=task.dataset["n_sessions"],
                   chance=chance, error="")
        row["subject"] = int(raw["subject"])
        out.append(row)
    return out, files


def _offline(task, dataset, paradigm, recipe, name, pipeline, scratch) -> list[dict]:
    """MOABB's own evaluation of one subject, through its public ``process()``: the scores are
    exactly those MOABB prints (float32, as its results store keeps them)."""
    from ..evaluation.compare import moabb_groups
    from ..moabb_api import offline_rows
    from ..preprocessing import with_recipe

    if recipe.steps:
        paradigm = with_recipe(paradigm, recipe)
    [(pipelines, extra)] = moabb_groups({name: pipeline})
    split = task.evaluation["type"]
    held_out = task.subject if split == "cross-subject" else None
    from sklearn.metrics import make_scorer

    from ..evaluation.metrics import nmcc

    # nMCC over the N task classes, on MOABB's own folds, beside its score
    return offline_rows(split, paradigm, dataset, pipelines, seed=task.seed, subject=held_out,
                        extra_scores={"nmcc": make_scorer(nmcc)}, **extra)


def _pseudo_online(task, dataset, paradigm, recipe, name, pipeline, scratch) -> list[dict]:
    from ..evaluation import PseudoOnlineEvaluation
    from ..evaluation.pseudo_online import safe_name

    folder = Path("predictions") / safe_name(task.evaluation["label"])  # relative: the driver writes
    settings = dict(task.evaluation["settings"])
    if task.paradigm.get("ch_types"):
        settings["ch_types"] = task.paradigm["ch_types"]
    if task.dataset.get("task_interval") is not None:  # declared per dataset in the benchmark
        settings["task_interval"] = {dataset.code: task.dataset["task_interval"]}
    ev = PseudoOnlineEvaluation(paradigm, [dataset], recipe=recipe, random_state=task.seed, hdf5_path=scratch,
                                keep_decisions=True, error_score="raise", **settings)
    rows = ev.evaluate_subject(dataset, task.subject, {name: pipeline})
    return rows, {str(folder / rel): table for rel, table in ev.decisions.items()}
