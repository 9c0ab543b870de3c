"""Benchmark tasks and the units that workers run.

A task is (dataset, subject, pipeline, evaluation): the store keeps each
task's rows under its own id, so results are kept, resumed and overwritten
pipeline by pipeline. A unit is (dataset, subject, evaluation) with the
tasks of that subject still to run: a worker loads and preprocesses the
subject once, then runs every pipeline on it, as MOABB's ``process()`` does.

Tasks and units hold plain data only, so they can be sent to another process
or a Dask worker; :func:`iter_unit` rebuilds the dataset, paradigm,
pipelines and evaluation there and returns result rows and decision tables.
It never writes anything.
"""
from __future__ import annotations

import tempfile
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from time import perf_counter

from ..utils import digest
from .build import build_pipeline, make_paradigm
from .registry import evaluation_type, type_of_task

__all__ = ["Task", "Unit", "build_tasks", "build_units", "iter_unit", "run_unit", "make_paradigm",
           "build_pipeline", "identity"]

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
    random_state: int
    output: str
    threads: int | None = None
    pool: tuple = ()  # cross-dataset: every dataset of the benchmark (the target's sources among them)

    def describe(self) -> str:
        return f"{self.dataset['code']} sub-{self.subject} {self.pipeline['name']} {self.evaluation['label']}"


def build_tasks(cfg, threads: int | None = None) -> list[Task]:
    """Every task of a benchmark, in a stable order (dataset, evaluation, pipeline, subject), as each
    evaluation's type plans them (which datasets it scores, which other datasets it reads)."""
    recipe = cfg.recipe.to_dict()
    tasks = []
    for ds in cfg.datasets:
        for ev in cfg.evaluations:
            kind = evaluation_type(ev["type"])
            if ds["code"] not in [d["code"] for d in kind.targets(ev, cfg.datasets)]:
                continue
            pool = tuple(kind.pool(ev, cfg.datasets))
            for pipe in cfg.pipelines:
                for subject in ds["subjects"]:
                    key = {"dataset": [ds["name"], ds["params"],
                                       ds["subjects"] if kind.trains_across_subjects(ev) else None,
                                       ds.get("task_interval") if kind.reads_task_interval else None],
                           "subject": subject, "pipeline": pipe["digest"], "evaluation": ev,
                           "paradigm": cfg.paradigm, "recipe": cfg.recipe.digest, "random_state": cfg.random_state}
                    if pool:  # the other datasets read are part of what a row means
                        key["pool"] = [[d["name"], d["params"], d["subjects"]] for d in pool]
                    task_id = digest(key)
                    tasks.append(Task(task_id, ds, subject, pipe, ev, cfg.paradigm, recipe, cfg.recipe.digest,
                                      cfg.random_state, str(cfg.output), threads, pool))
    return tasks


Outcome = tuple[list[dict], str, str, dict]  # rows, status, message, files


@dataclass(frozen=True)
class Unit:
    """The tasks of one subject of one dataset under one evaluation, run by one worker on one load."""

    id: str
    tasks: tuple[Task, ...]

    def describe(self) -> str:
        t = self.tasks[0]
        return f"{t.dataset['code']} sub-{t.subject} {t.evaluation['label']} ({len(self.tasks)} pipeline(s))"


def build_units(tasks: list[Task]) -> list[Unit]:
    """Group tasks into units of (dataset, subject, evaluation), in the order the tasks come.

    A unit of an evaluation whose type holds every subject in one unit
    (cross-dataset, a MOABB class, leave-block-out, a pseudo-online replay
    with a global model) holds every subject of its dataset: a source or
    global model is trained once for all of them. A federation's unit holds
    every dataset: each is a client of the same run.
    """
    groups: dict = {}
    for t in tasks:
        kind = type_of_task(t.evaluation)
        subject = None if kind.unit_holds_every_subject(t.evaluation) else t.subject
        dataset = None if kind.unit_holds_every_dataset(t.evaluation) else digest(t.dataset)
        groups.setdefault((dataset, subject, digest(t.evaluation)), []).append(t)
    return [Unit(digest([t.id for t in ts]), tuple(ts)) for ts in groups.values()]


def iter_unit(unit: Unit):
    """Run a unit's pipelines one by one; yield ``(task, (rows, status, message, files), seconds)``.

    The subject is loaded and preprocessed once, by the first pipeline, and
    kept for the others. ``status`` is ``"ok"``, or ``"error"`` with one error
    row and the exception as ``message``: a pipeline that crashes is a result,
    not the end of the benchmark. ``files`` maps paths relative to the output
    folder to tables (the pseudo-online decisions): a worker writes nothing, so
    it needs no access to the driver's disk.
    """
    from ..config import exported
    from ..environment import current_environment

    _, environment = current_environment()  # every row names the setup it was computed in
    shared = None
    with tempfile.TemporaryDirectory(prefix="neurodecode-moabb-") as scratch:
        for task in unit.tasks:
            t0 = perf_counter()
            # limits and filters are set around each pipeline, never across a yield
            with warnings.catch_warnings(), _threads(task.threads), _quiet_libraries(), exported():
                warnings.simplefilter("ignore")
                try:
                    shared = shared or type_of_task(task.evaluation).start(task, scratch)
                    pipeline = build_pipeline(task.pipeline, getattr(shared, "sfreq", None))
                    rows, files = shared.evaluate(task, pipeline)
                    out: Outcome = (_finished(task, rows, getattr(shared, "chance", float("nan"))), "ok", "", files)
                except Exception as exc:  # noqa: BLE001  (recorded as an error row)
                    message = f"{type(exc).__name__}: {exc}".splitlines()[0]
                    row = {**identity(task), "score": float("nan"), "time": perf_counter() - t0,
                           "error": message, "traceback": traceback.format_exc(limit=-3)}
                    out = ([row], "error", message, {})
            for row in out[0]:
                row["environment"] = environment
            yield task, out, perf_counter() - t0


def run_unit(unit: Unit) -> list[tuple[Task, Outcome, float]]:
    """:func:`iter_unit` as a list: what a worker process returns to the driver."""
    return list(iter_unit(unit))


@contextmanager
def _quiet_libraries():
    """MNE and MOABB at ERROR level for one task, then the caller's levels again."""
    import logging

    import mne

    log = logging.getLogger("moabb")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with mne.utils.use_log_level("ERROR"):
            yield
    finally:
        log.setLevel(level)


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
            "evaluation": task.evaluation["label"], "evaluation_type": task.evaluation["type"],
            "pipeline_digest": task.pipeline["digest"], "recipe_digest": task.recipe_digest,
            "random_state": task.random_state, "task": task.id}


def _finished(task: Task, raw_rows: list[dict], chance: float) -> list[dict]:
    """A type's rows in the store's form: MOABB's column names, the task's identity, the session
    as text, the chance level (the row's own where it has one)."""
    out = []
    for raw in raw_rows:
        row = {_RENAME.get(k, k): v for k, v in raw.items() if k not in ("dataset", "pipeline")}
        row.update(identity(task), session=str(raw["session"]), n_sessions=task.dataset["n_sessions"],
                   chance=raw.get("chance", chance), error="")
        row["subject"] = int(raw["subject"])
        out.append(row)
    return out
