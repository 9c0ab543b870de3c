"""MOABB evaluations as benchmark types: the three offline splits, and any ``BaseEvaluation``
subclass a user wrote for MOABB, run unchanged through its public ``process()``."""
from __future__ import annotations

import copy
import inspect
import tempfile

from ...errors import ConfigError
from ..protocol import EvaluationType, Session

__all__ = ["MoabbEvaluation", "OfflineEvaluation", "remembering", "load_dataset", "epoch_seconds"]

#: Settings of a MOABB evaluation that the runner sets itself.
RESERVED = {"self", "paradigm", "datasets", "random_state", "n_jobs", "overwrite", "error_score", "suffix",
            "hdf5_path", "verbose", "save_model", "cache_config", "codecarbon_config", "args", "kwargs"}


def _settable(cls) -> tuple[str, ...]:
    """The keyword arguments of a MOABB evaluation class and the bases its ``**kwargs`` reach."""
    names: list[str] = []
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters
        names += [n for n, p in params.items() if n not in RESERVED and n not in names
                  and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            break
    return tuple(names)


def load_dataset(task, subjects):
    """The task's dataset with only ``subjects``, its channel types as the paradigm asks."""
    from ...datasets import get_dataset, with_channel_types

    return with_channel_types(get_dataset(task.dataset["name"], subjects=list(subjects), **task.dataset["params"]),
                              task.paradigm.get("ch_types"))


def epoch_seconds(paradigm, dataset) -> float:
    """The length (s) of the trials a MOABB paradigm cuts from ``dataset``."""
    tmin = getattr(paradigm, "tmin", 0.0) or 0.0
    tmax = getattr(paradigm, "tmax", None)
    start, end = dataset.interval[0] + tmin, dataset.interval[0] + tmax if tmax is not None else dataset.interval[1]
    return float(end - start)


class MoabbEvaluation(EvaluationType):
    """A MOABB ``BaseEvaluation`` subclass as a benchmark type.

    Its YAML settings are the class's own keyword arguments (``n_splits``,
    ``cv_class`` as ``module:Class``, ``cv_kwargs``...); the runner sets
    ``paradigm``, ``datasets``, ``random_state``, ``hdf5_path`` and the
    other store settings. A unit is one dataset: ``process()`` runs once per
    pipeline on every subject, and each subject's rows go to its own task.
    MOABB's own metric is the score; nMCC is computed on the same folds.

    Parameters
    ----------
    moabb_class : type
        A subclass of ``moabb.evaluations.base.BaseEvaluation``.
    name : str | None
        Default: ``module:Class``.
    """

    groups_subjects = True
    reads_task_interval = False

    def __init__(self, moabb_class, name: str | None = None):
        self.moabb_class = moabb_class
        self.name = name or f"{moabb_class.__module__}:{moabb_class.__qualname__}"
        self.parameters = _settable(moabb_class)

    def parse(self, settings, *, where, datasets):
        settings = super().parse(settings, where=where, datasets=datasets)
        if isinstance(settings.get("cv_class"), str):  # YAML names a class; keep the name as data
            _cv_class(settings["cv_class"], where)
        return settings

    def check(self, cfg, evaluation, *, paradigm, datasets, where):
        from ..fits import check_split

        for spec, dataset in datasets:
            check_split(self._split(evaluation), evaluation["label"], spec, where)
            with tempfile.TemporaryDirectory() as scratch:
                try:  # MOABB's own checks: the paradigm against the dataset, its settings
                    self.build(paradigm, dataset, evaluation["settings"], random_state=cfg.random_state,
                               scratch=scratch)
                except ConfigError:
                    raise
                except Exception as exc:  # noqa: BLE001  (whatever MOABB raises is one line)
                    raise ConfigError(f"{where}: evaluation {evaluation['label']} ({self.name}) refuses "
                                      f"{dataset.code}: {type(exc).__name__}: {exc}") from None

    def _split(self, evaluation) -> str | None:
        from ...moabb_api import SPLITS, evaluation_class

        for split in SPLITS:
            if issubclass(self.moabb_class, evaluation_class(split)):
                return split
        return None

    def build(self, paradigm, dataset, settings: dict, *, random_state: int, scratch: str):
        """The MOABB evaluation object, as :meth:`rows` runs it."""
        return self.moabb_class(paradigm=paradigm, datasets=[dataset], random_state=random_state, hdf5_path=scratch,
                                n_jobs=1, overwrite=True, error_score="raise", **self._settings(settings))

    def _settings(self, settings: dict) -> dict:
        settings = dict(settings)
        if isinstance(settings.get("cv_class"), str):
            settings["cv_class"] = _cv_class(settings["cv_class"], self.name)
        return settings

    def rows(self, task, paradigm, dataset, pipelines: dict, extra: dict) -> list[dict]:
        """MOABB's result rows of ``pipelines`` for the subjects of ``dataset``."""
        from sklearn.metrics import make_scorer

        from ...evaluation.metrics import nmcc
        from ...moabb_api import offline_rows

        return offline_rows(self.moabb_class, paradigm, dataset, pipelines, random_state=task.random_state,
                            extra_scores={"nmcc": make_scorer(nmcc)}, **self._settings(task.evaluation["settings"]),
                            **extra)

    def start(self, task, scratch):
        return MoabbSession(self, task)


def _cv_class(path: str, where: str):
    from ..protocol import import_object

    cls = import_object(path, where) if ":" in path else None
    if not inspect.isclass(cls):
        raise ConfigError(f"{where}: cv_class must name a splitter class as module:Class "
                          f"(for example sklearn.model_selection:StratifiedKFold), got {path!r}")
    return cls


class OfflineEvaluation(MoabbEvaluation):
    """MOABB's ``WithinSessionEvaluation``, ``CrossSessionEvaluation`` or ``CrossSubjectEvaluation``,
    one unit per subject (cross-subject: that subject held out, trained on all others)."""

    groups_subjects = False
    parameters = ()

    def __init__(self, split: str):
        from ...moabb_api import evaluation_class

        self.split = split
        self.name = split
        self.moabb_class = evaluation_class(split)

    def parse(self, settings, *, where, datasets):
        if settings:
            raise ConfigError(f"{where}: offline evaluation {self.name} takes no settings, got {sorted(settings)}")
        return {}

    def default_label(self, settings):
        return f"offline/{self.name}"

    def _split(self, evaluation):
        return self.split

    def check(self, cfg, evaluation, *, paradigm, datasets, where):
        from ...moabb_api import declared_sfreq
        from ..fits import check_split, networks_fit

        for spec, dataset in datasets:
            check_split(self.split, evaluation["label"], spec, where)
            rate = getattr(paradigm, "resample", None) or declared_sfreq(dataset)
            seconds = epoch_seconds(paradigm, dataset)
            if rate and seconds:
                networks_fit(cfg.pipelines, evaluation["label"], dataset, paradigm, int(round(seconds * rate)), rate)

    def trains_across_subjects(self, evaluation):
        return self.split == "cross-subject"

    def rows(self, task, paradigm, dataset, pipelines, extra):
        from sklearn.metrics import make_scorer

        from ...evaluation.metrics import nmcc
        from ...moabb_api import offline_rows

        held_out = task.subject if self.split == "cross-subject" else None
        # nMCC over the N task classes, on MOABB's own folds, beside its score
        return offline_rows(self.split, paradigm, dataset, pipelines, random_state=task.random_state, subject=held_out,
                            extra_scores={"nmcc": make_scorer(nmcc)}, **extra)


class MoabbSession(Session):
    """One load of the unit's subjects, shared by the ``process()`` calls of its pipelines."""

    def __init__(self, kind: MoabbEvaluation, task):
        from ...preprocessing import Recipe, with_recipe
        from ..build import make_paradigm

        self.kind = kind
        self.dataset = load_dataset(task, kind.subjects_loaded(task))
        paradigm = make_paradigm(task.paradigm)
        self.sfreq = getattr(paradigm, "resample", None)
        self.chance = kind.chance(paradigm, self.dataset)
        recipe = Recipe.coerce(task.recipe)
        self.paradigm = remembering(with_recipe(paradigm, recipe) if recipe.steps else paradigm)
        self._rows: dict = {}

    def evaluate(self, task, pipeline):
        """MOABB's own evaluation through its public ``process()``: the scores are exactly those
        MOABB prints (float32, as its results store keeps them)."""
        from ...evaluation.compare import moabb_groups

        key = task.pipeline["digest"]
        if key not in self._rows:  # a unit of several subjects: process() once, rows for every subject
            [(pipelines, extra)] = moabb_groups({task.pipeline["name"]: pipeline})
            self._rows = {key: self.kind.rows(task, self.paradigm, self.dataset, pipelines, extra)}
        return [r for r in self._rows[key] if str(r["subject"]) == str(task.subject)], {}


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
