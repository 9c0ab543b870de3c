"""The protocol every benchmark evaluation type implements (the registry that finds them is
:mod:`neurodecode.benchmark.registry`).

An evaluation type says how its YAML entry is read and checked, which units
of work it plans, how a worker runs one, which result columns its rows carry,
how its leaderboard rows are aggregated, which extra tables it writes and
what it adds to the report. The benchmark runner, the tables and the report
ask the type of each row (the ``evaluation_type`` column); nothing is decided
from an evaluation's label.

Types come from four places, looked up in this order:

1. the built-in ones (``within-session``, ``cross-session``,
   ``cross-subject``, ``pseudo-online``, ``cross-dataset``, ``leave-block-out``, ``federated``), registered with
   :func:`register_evaluation` like any other;
2. :func:`register_evaluation` calls;
3. the ``neurodecode.evaluations`` entry-point group of installed packages
   (``[project.entry-points."neurodecode.evaluations"] my-type = "pkg.mod:MyType"``);
4. ``type: package.module:Class`` in the YAML: an :class:`EvaluationType`
   subclass, or a MOABB ``BaseEvaluation`` subclass, which runs unchanged.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import pandas as pd

from ..errors import ConfigError, UnknownNameError

__all__ = ["EvaluationType", "Session", "Section", "ReportContext", "GROUP", "ok_rows", "board", "import_object"]
#: The columns that name a leaderboard row.
GROUP = ["dataset", "evaluation", "pipeline"]


class Session:
    """What a worker keeps for the pipelines of one unit (one subject's data, loaded once).

    A type's :meth:`EvaluationType.start` returns one; :meth:`evaluate` is
    called once per task of the unit, in order.
    """

    def evaluate(self, task, pipeline) -> tuple[list[dict], dict]:
        """Score ``pipeline`` (a fresh estimator) on ``task``; return ``(rows, files)``.

        Each row is a mapping with at least ``subject``, ``session`` and
        ``score``; ``files`` maps paths relative to the output folder to
        DataFrames, which the driver writes (a worker writes nothing).
        """
        raise NotImplementedError


@dataclass
class Section:
    """One section of the report: a title, paragraphs of text (Markdown inline marks), tables
    ``(caption, DataFrame)`` and figures ``(caption, path relative to the output folder)``."""

    title: str
    lines: list[str] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ReportContext:
    """What a type's report section may read: the definition, every table, the output folder."""

    cfg: object
    tables: dict
    output: object
    figures: object


class EvaluationType:
    """One kind of evaluation in a benchmark.

    Subclass it, set :attr:`name`, implement :meth:`start` (and override the
    rest where the defaults do not fit), then register the class with
    :func:`register_evaluation`, name it as ``type: module:Class`` in the
    YAML, or declare it in the ``neurodecode.evaluations`` entry-point group.

    Attributes
    ----------
    name : str
        The ``type:`` that selects it.
    parameters : tuple of str
        The settings its YAML entry accepts besides ``type`` and ``label``.
    columns : tuple of str
        Numeric result columns its rows carry beyond ``score``; their means
        over subjects go to its leaderboard rows.
    group_columns : tuple of str
        Result columns that split a leaderboard row further (cross-dataset: ``shots``).
    groups_subjects : bool
        One unit holds every subject of a dataset (the source model is
        trained once for all of them) instead of one subject.
    reads_task_interval : bool
        The dataset's ``task_interval`` is part of what its rows mean.

    Examples
    --------
    A type that scores each pipeline on the second half of a subject's
    trials after training on the first half:

    >>> from neurodecode.benchmark import EvaluationType, Session
    >>> class HalfSplit(EvaluationType):
    ...     name = "half-split"
    ...     def start(self, task, scratch):
    ...         return HalfSplitSession(task)
    """

    name: str = ""
    parameters: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    group_columns: tuple[str, ...] = ()
    groups_subjects: bool = False
    reads_task_interval: bool = True

    # -- reading the YAML entry -----------------------------------------------------------------
    def parse(self, settings: dict, *, where: str, datasets: list[dict]) -> dict:
        """Check and complete the settings of one YAML entry (plain data, before any work).

        ``datasets`` are the benchmark's checked dataset specs. The default
        refuses names outside :attr:`parameters`, with close matches.
        """
        for key in settings:
            if key not in self.parameters:
                raise UnknownNameError(f"{self.name} setting in {where}:", key, self.parameters)
        return dict(settings)

    def default_label(self, settings: dict) -> str:
        """The label of an entry that gives none."""
        return self.name

    def check(self, cfg, evaluation: dict, *, paradigm, datasets: list, where: str) -> None:
        """Checks that need the whole benchmark, before any task runs (``datasets``: ``(spec, dataset)``).

        Raise :class:`~neurodecode.errors.ConfigError` with what to change.
        """

    # -- planning -------------------------------------------------------------------------------
    def targets(self, evaluation: dict, datasets: list[dict]) -> list[dict]:
        """The dataset specs this evaluation scores (every one by default)."""
        return list(datasets)

    def pool(self, evaluation: dict, datasets: list[dict]) -> tuple:
        """Other dataset specs a unit reads (cross-dataset: its sources)."""
        return ()

    def trains_across_subjects(self, evaluation: dict) -> bool:
        """Whether a subject's score depends on the other subjects (then they are part of its task)."""
        return False

    def unit_holds_every_subject(self, evaluation: dict) -> bool:
        """Whether one unit holds every subject of a dataset (:attr:`groups_subjects` unless an
        evaluation's settings say otherwise: a pseudo-online replay with a global model does)."""
        return self.groups_subjects

    def unit_holds_every_dataset(self, evaluation: dict) -> bool:
        """Whether one unit holds every dataset's tasks (a federation: every dataset is a client of one run)."""
        return False

    def subjects_loaded(self, task) -> list:
        """The subjects a unit loads for ``task``."""
        every = self.unit_holds_every_subject(task.evaluation) or self.trains_across_subjects(task.evaluation)
        return list(task.dataset["subjects"]) if every else [task.subject]

    # -- running --------------------------------------------------------------------------------
    def start(self, task, scratch: str) -> Session:
        """Load what the unit of ``task`` shares (in a worker); ``scratch`` is a private temporary folder."""
        raise NotImplementedError(f"evaluation type {self.name!r} does not implement start()")

    def chance(self, paradigm, dataset) -> float:
        """The score of a chance-level decoder: MOABB's metric for the paradigm (0.5 for ROC-AUC,
        1 / classes for accuracy)."""
        from ..evaluation.metrics import chance_level

        return chance_level(getattr(paradigm, "scoring", "accuracy"), len(paradigm.used_events(dataset)))

    # -- tables and report ----------------------------------------------------------------------
    def leaderboard(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Leaderboard rows of this type's result rows (errors already removed)."""
        return board(rows, [*GROUP, *self.group_columns], self.columns)

    def comparable(self, rows: pd.DataFrame) -> pd.DataFrame:
        """This type's rows as evaluations within which pipelines are compared (MOABB's statistics,
        score figures); by default the rows themselves."""
        return rows

    def tables(self, rows: pd.DataFrame, every: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """Extra CSV tables, by file stem, from this type's ``rows`` and ``every`` row of the benchmark."""
        return {}

    def report(self, rows: pd.DataFrame, context: ReportContext) -> list[Section]:
        """Report sections for this type's rows."""
        return []

    def __repr__(self) -> str:
        return f"<evaluation type {self.name!r} ({type(self).__module__}.{type(self).__qualname__})>"


def ok_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows without an error."""
    if rows.empty or "error" not in rows:
        return rows
    return rows[rows["error"].fillna("") == ""]


def board(ok: pd.DataFrame, group: list, columns=()) -> pd.DataFrame:
    """Leaderboard rows: each subject averaged over sessions and runs, then mean and SD over subjects
    of ``score``, means of ``chance``, ``nmcc`` and ``columns``, and the rank within dataset x
    evaluation (x the group's other columns)."""
    if ok.empty:
        return pd.DataFrame()
    means = [c for c in ("score", "chance", "nmcc", *columns) if c in ok]
    subj = ok.groupby([*group, "subject"], sort=False)[means].mean().reset_index()
    out = subj.groupby(group, sort=False).agg(
        score_mean=("score", "mean"), score_std=("score", "std"), n_subjects=("subject", "nunique"),
        chance=("chance", "mean"), **{k: (k, "mean") for k in ("nmcc", *columns) if k in subj}).reset_index()
    out["score_minus_chance"] = out["score_mean"] - out["chance"]
    rank_by = ["dataset", "evaluation", *[c for c in group if c not in GROUP]]
    out["rank"] = out.groupby(rank_by)["score_mean"].rank(ascending=False, method="min").astype(int)
    return out


def import_object(path: str, where: str):
    """The object at ``package.module:Name`` (or ``Name.attr``), or one line saying what is wrong."""
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001  (ImportError or an error inside the plugin's module)
        raise ConfigError(f"{where}: evaluation type {path!r}: cannot import {module_name}: "
                          f"{type(exc).__name__}: {exc}; install the package that provides it, or put its "
                          "folder on PYTHONPATH") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in vars(obj) if not n.startswith("_")]
            raise UnknownNameError(f"evaluation class in {module_name} (from {where}):", part, names)
        obj = getattr(obj, part)
    return obj
