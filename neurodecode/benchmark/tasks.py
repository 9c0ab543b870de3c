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

import copy
import tempfile
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

from ..datasets import with_channel_types
from ..evaluation.cross_dataset import CROSS_DATASET
from ..moabb_api import OFFLINE_EVALUATIONS as OFFLINE
from ..preprocessing import Recipe
from ..utils import digest

__all__ = ["Task", "Unit", "build_tasks", "build_units", "iter_unit", "run_unit", "make_paradigm",
           "build_pipeline", "identity", "pseudo_online_evaluation", "cross_dataset_evaluation"]

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
    pool: tuple = ()  # cross-dataset: every dataset of the benchmark (the target's sources among them)

    def describe(self) -> str:
        return f"{self.dataset['code']} sub-{self.subject} {self.pipeline['name']} {self.evaluation['label']}"


def build_tasks(cfg, threads: int | None = None) -> list[Task]:
    """Every task of a benchmark, in a stable order (dataset, evaluation, pipeline, subject)."""
    recipe = cfg.recipe.to_dict()
    tasks = []
    for ds in cfg.datasets:
        for ev in cfg.evaluations:
            cross = ev["type"] == CROSS_DATASET
            if cross and ds["code"] not in _targets(ev, [d["code"] for d in cfg.datasets]):
                continue
            pool = tuple(cfg.datasets) if cross else ()
            for pipe in cfg.pipelines:
                for subject in ds["subjects"]:
                    key = {"dataset": [ds["name"], ds["params"], ds["subjects"] if _needs_all(ev) else None,
                                       ds.get("task_interval") if ev["type"] not in OFFLINE else None],
                           "subject": subject, "pipeline": pipe["digest"], "evaluation": ev,
                           "paradigm": cfg.paradigm, "recipe": cfg.recipe.digest, "seed": cfg.seed}
                    if cross:  # the sources trained on are part of what a row means
                        key["pool"] = [[d["name"], d["params"], d["subjects"]] for d in pool]
                    task_id = digest(key)
                    tasks.append(Task(task_id, ds, subject, pipe, ev, cfg.paradigm, recipe, cfg.recipe.digest,
                                      cfg.seed, str(cfg.output), threads, pool))
    return tasks


def _targets(evaluation: dict, codes: list[str]) -> list[str]:
    """The target datasets of a cross-dataset evaluation (every dataset when it leaves one out)."""
    settings = evaluation["settings"]
    if settings.get("target"):
        return list(settings["target"])
    return [c for c in codes if c not in (settings.get("source") or [])]


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

    A cross-dataset unit holds every subject of its target dataset: the
    source model of each pipeline is trained once for all of them.
    """
    groups: dict = {}
    for t in tasks:
        subject = None if t.evaluation["type"] == CROSS_DATASET else t.subject
        groups.setdefault((digest(t.dataset), subject, digest(t.evaluation)), []).append(t)
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
    import logging

    import mne

    from ..config import apply
    from ..environment import current_environment

    apply()
    _, environment = current_environment()  # every row names the setup it was computed in
    mne.set_log_level("ERROR")
    logging.getLogger("moabb").setLevel(logging.ERROR)
    shared = None
    with tempfile.TemporaryDirectory(prefix="neurodecode-moabb-") as scratch:
        for task in unit.tasks:
            t0 = perf_counter()
            # limits and filters are set around each pipeline, never across a yield
            with warnings.catch_warnings(), _threads(task.threads):
                warnings.simplefilter("ignore")
                try:
                    shared = shared or _SubjectWork(task, scratch)
                    rows, files = shared.evaluate(task)
                    out: Outcome = (rows, "ok", "", files)
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


class _SubjectWork:
    """What the pipelines of a unit share: the dataset, and a paradigm (offline) or a
    pseudo-online evaluation (replay) that keeps the subject's data once loaded."""

    def __init__(self, task: Task, scratch: str):
        from ..datasets import get_dataset

        subjects = task.dataset["subjects"] if _needs_all(task.evaluation) else [task.subject]
        self.dataset = with_channel_types(get_dataset(task.dataset["name"], subjects=subjects,
                                                      **task.dataset["params"]), task.paradigm.get("ch_types"))
        paradigm = make_paradigm(task.paradigm)
        self.sfreq = getattr(paradigm, "resample", None)
        self.chance = _chance(paradigm, self.dataset, task.evaluation)
        recipe = Recipe.coerce(task.recipe)
        if task.evaluation["type"] == CROSS_DATASET:
            self.cross = cross_dataset_evaluation(task.pool, task.paradigm, task.evaluation, paradigm, recipe,
                                                  task.seed)
            self.sfreq = self.cross.sfreq  # every dataset is resampled to it
        elif task.evaluation["type"] in OFFLINE:
            if recipe.steps:
                from ..preprocessing import with_recipe

                paradigm = with_recipe(paradigm, recipe)
            self.paradigm = remembering(paradigm)
        else:
            self.online = pseudo_online_evaluation(task, self.dataset, paradigm, recipe, scratch)

    def evaluate(self, task: Task) -> tuple[list[dict], dict]:
        name = task.pipeline["name"]
        pipeline = build_pipeline(task.pipeline, self.sfreq)
        files: dict = {}
        if task.evaluation["type"] == CROSS_DATASET:
            raw_rows = self.cross.evaluate_subject(task.dataset["code"], task.subject, {name: pipeline})
        elif task.evaluation["type"] in OFFLINE:
            raw_rows = self._offline(task, name, pipeline)
        else:
            from ..evaluation.pseudo_online import safe_name

            raw_rows = self.online.evaluate_subject(self.dataset, task.subject, {name: pipeline})
            folder = Path("predictions") / safe_name(task.evaluation["label"])  # relative: the driver writes
            files = {str(folder / rel): table for rel, table in self.online.decisions.items()}
            self.online.decisions.clear()
        out = []
        for raw in raw_rows:
            row = {_RENAME.get(k, k): v for k, v in raw.items() if k not in ("dataset", "pipeline")}
            row.update(identity(task), session=str(raw["session"]), n_sessions=task.dataset["n_sessions"],
                       chance=raw.get("chance", self.chance), error="")
            row["subject"] = int(raw["subject"])
            out.append(row)
        return out, files

    def _offline(self, task, name, pipeline) -> list[dict]:
        """MOABB's own evaluation of one subject, through its public ``process()``: the scores are
        exactly those MOABB prints (float32, as its results store keeps them)."""
        from sklearn.metrics import make_scorer

        from ..evaluation.compare import moabb_groups
        from ..evaluation.metrics import nmcc
        from ..moabb_api import offline_rows

        [(pipelines, extra)] = moabb_groups({name: pipeline})
        split = task.evaluation["type"]
        held_out = task.subject if split == "cross-subject" else None
        # nMCC over the N task classes, on MOABB's own folds, beside its score
        return offline_rows(split, self.paradigm, self.dataset, pipelines, seed=task.seed, subject=held_out,
                            extra_scores={"nmcc": make_scorer(nmcc)}, **extra)


def remembering(paradigm):
    """A copy of a MOABB paradigm whose ``get_data`` keeps its last result and returns it again
    for the same arguments, so that the ``process()`` calls of a unit's pipelines share one
    load (and one preprocessing) of the subject; copies of it share the memory."""
    new = copy.copy(paradigm)
    cls = type(paradigm)
    new.__class__ = type(cls.__name__, (_Remembering, cls), {})
    new.last_load = {}
    return new


class _Remembering:
    last_load: dict

    def get_data(self, dataset, *args, **kwargs):
        key = repr((dataset.code, list(dataset.subject_list), args, sorted(kwargs.items())))
        if key not in self.last_load:
            self.last_load.clear()  # one load in memory at a time
            self.last_load[key] = super().get_data(dataset, *args, **kwargs)
        return self.last_load[key]


def cross_dataset_evaluation(pool, paradigm_spec: dict, evaluation: dict, paradigm, recipe, seed: int = 42):
    """The :class:`~neurodecode.evaluation.CrossDatasetEvaluation` of a benchmark's cross-dataset
    evaluation over the dataset specs ``pool`` (what the driver checks and a worker runs)."""
    from ..datasets import get_dataset
    from ..evaluation import CrossDatasetEvaluation

    datasets = [with_channel_types(get_dataset(d["name"], subjects=d["subjects"], **d["params"]),
                                   paradigm_spec.get("ch_types")) for d in pool]
    return CrossDatasetEvaluation(paradigm, datasets, recipe=recipe, random_state=seed, **evaluation["settings"])


def pseudo_online_evaluation(task: Task, dataset, paradigm, recipe, scratch: str):
    """The :class:`~neurodecode.evaluation.PseudoOnlineEvaluation` of a pseudo-online task, as the
    benchmark runs it (also what ``neurodecode train`` fits a live decoder with)."""
    from ..evaluation import PseudoOnlineEvaluation

    settings = dict(task.evaluation["settings"])
    if task.paradigm.get("ch_types"):
        settings["ch_types"] = task.paradigm["ch_types"]
    if task.dataset.get("task_interval") is not None:  # declared per dataset in the benchmark
        settings["task_interval"] = {dataset.code: task.dataset["task_interval"]}
    return PseudoOnlineEvaluation(paradigm, [dataset], recipe=recipe, random_state=task.seed, hdf5_path=scratch,
                                  keep_decisions=True, error_score="raise", **settings)
