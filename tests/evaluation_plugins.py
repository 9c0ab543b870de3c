"""Evaluation types defined outside neurodecode, as a user's package would: the plugin tests name
them as ``type: evaluation_plugins:HalfSplit`` (tests/ is on the path of pytest, its subprocesses
and workers)."""
from __future__ import annotations

import time

from moabb.evaluations import WithinSessionEvaluation
from sklearn.metrics import get_scorer
from sklearn.model_selection import StratifiedShuffleSplit

from neurodecode.benchmark import EvaluationType, Section, Session
from neurodecode.errors import ConfigError


class HalfSplit(EvaluationType):
    """Train on the first ``train_fraction`` of a subject's trials in recording order, score the rest.

    Its own result column is ``n_train``; ``pause`` (s) slows each task, so a test can kill a run
    mid-way.
    """

    name = "half-split"
    parameters = ("train_fraction", "pause")
    columns = ("n_train",)

    def parse(self, settings, *, where, datasets):
        settings = super().parse(settings, where=where, datasets=datasets)
        fraction = settings.setdefault("train_fraction", 0.5)
        if not 0 < fraction < 1:
            raise ConfigError(f"{where}: half-split train_fraction must be in (0, 1), got {fraction!r}")
        return settings

    def default_label(self, settings):
        return f"half-split/{settings['train_fraction']:g}"

    def check(self, cfg, evaluation, *, paradigm, datasets, where):
        for spec, _ in datasets:
            if spec["params"].get("n_trials", 20) < 8:
                raise ConfigError(f"{where}: evaluation {evaluation['label']} needs 8 or more trials per run")

    def start(self, task, scratch):
        return _HalfSession(task)

    def report(self, rows, context):
        per_subject = rows.groupby(["pipeline", "subject"], as_index=False)[["score", "n_train"]].mean()
        return [Section("Half split", ["Trained on the first part of each subject's trials."],
                        [("Per subject", per_subject)])]


class _HalfSession(Session):
    def __init__(self, task):
        from neurodecode.benchmark.build import make_paradigm
        from neurodecode.datasets import get_dataset

        self.paradigm = make_paradigm(task.paradigm)
        dataset = get_dataset(task.dataset["name"], subjects=[task.subject], **task.dataset["params"])
        self.X, self.y, _ = self.paradigm.get_data(dataset, [task.subject])
        self.sfreq = getattr(self.paradigm, "resample", None)
        self.chance = 0.5

    def evaluate(self, task, pipeline):
        time.sleep(task.evaluation["settings"].get("pause", 0))
        n_train = int(len(self.y) * task.evaluation["settings"]["train_fraction"])
        pipeline.fit(self.X[:n_train], self.y[:n_train])
        score = get_scorer(self.paradigm.scoring)(pipeline, self.X[n_train:], self.y[n_train:])
        return [{"subject": task.subject, "session": "all", "score": float(score), "n_train": n_train}], {}


class ShuffleWithinSession(WithinSessionEvaluation):
    """A MOABB evaluation as a MOABB user writes one: within-session with 3 stratified shuffle splits."""

    def __init__(self, **kwargs):
        kwargs.setdefault("cv_class", StratifiedShuffleSplit)
        kwargs.setdefault("cv_kwargs", {"n_splits": 3, "test_size": 0.25})
        super().__init__(**kwargs)


class BrokenCheck(EvaluationType):
    """A plugin whose check fails with a bug of its own."""

    name = "broken-check"

    def check(self, cfg, evaluation, *, paradigm, datasets, where):
        raise ZeroDivisionError("division by zero")

    def start(self, task, scratch):  # pragma: no cover - never reached
        raise AssertionError


class NotAnEvaluation:
    """A class that is not an evaluation."""
