"""Preprocessed datasets: any MOABB dataset seen through a recipe and the run cache.

:class:`PreprocessedDataset` is itself a MOABB dataset, so MOABB paradigms
and evaluations read the cleaned runs. :func:`with_recipe` makes a MOABB
paradigm do that for every dataset it is given, and puts the recipe digest
into the process pipeline, hence into the keys of MOABB's results store.
"""
from __future__ import annotations

import copy
import json

import mne

from ..datasets.durations import restore_event_durations
from ..errors import ConfigError
from ..moabb_api import BaseDataset, FixedTransformer, any_class_name, subject_data
from ..utils import progress, write_atomic_bytes
from .cache import CachedRun, RunCache
from .recipe import Recipe

__all__ = ["PreprocessedDataset", "with_recipe", "RecipeStamp"]


class PreprocessedDataset(BaseDataset):
    """A MOABB dataset whose runs have been through a recipe's raw steps.

    Parameters
    ----------
    dataset : moabb.datasets.base.BaseDataset
        The source dataset.
    recipe : Recipe | dict | list | str | None
        The recipe (see :meth:`Recipe.coerce`).
    cache : bool | RunCache
        ``True`` uses the default :class:`RunCache`; ``False`` recomputes
        every time.

    Notes
    -----
    Event (stim) channels and annotations go through the recipe untouched, so
    MOABB finds the same events as on the source dataset.
    """

    def __init__(self, dataset, recipe=None, cache: bool | RunCache = True):
        if isinstance(dataset, PreprocessedDataset):
            raise ConfigError("dataset is already preprocessed; chain the steps in one recipe")
        if not isinstance(dataset, BaseDataset):
            raise TypeError(f"dataset must be a MOABB BaseDataset, got {type(dataset).__name__}")
        self.source = dataset
        # synthetic datasets name their generation settings, so caches never mix them
        self.cache_name = getattr(dataset, "cache_name", dataset.code)
        self.recipe = Recipe.coerce(recipe)
        self.cache = RunCache() if cache is True else (cache or None)
        with any_class_name():
            super().__init__(subjects=list(dataset.subject_list),
                             sessions_per_subject=dataset.n_sessions,
                             events=dict(dataset.event_id), code=dataset.code,
                             interval=list(dataset.interval), paradigm=dataset.paradigm,
                             doi=getattr(dataset, "doi", None),
                             unit_factor=getattr(dataset, "unit_factor", 1e6))
        # the sensor types MOABB's paradigms pick (EEG unless the source asks for MEG...)
        self.return_all_modalities = getattr(dataset, "return_all_modalities", False)

    def __getattr__(self, name):  # dataset-specific attributes (imagined, METADATA, ...)
        if name == "source":
            raise AttributeError(name)
        return getattr(self.source, name)

    def data_path(self, subject, path=None, force_update=False, update_path=None, verbose=None):
        return self.source.data_path(subject, path, force_update, update_path, verbose)

    def tag(self, subject, session, run) -> str:
        return f"{self.code} subject {subject} session {session} run {run}"

    @mne.utils.verbose
    def runs(self, subject: int, *, verbose=None) -> dict[str, dict[str, CachedRun]]:
        """``{session: {run: CachedRun}}`` for one subject, computed once and cached."""
        digest = self.recipe.digest
        keys = self._cached_keys(subject, digest)
        if keys is not None:
            return keys
        out: dict = {}
        source_runs = restore_event_durations(self.source, subject, subject_data(self.source, subject))
        todo = [(session, run, raw) for session, runs in source_runs.items() for run, raw in runs.items()]
        for session, run, raw in progress(todo, desc=f"{self.code} sub-{subject}: preprocessing"):
            key = (self.cache_name, subject, session, run, digest)
            entry = self.cache.get(key) if self.cache else None
            if entry is None:
                entry = self._process(raw, subject, session, run, key)
            out.setdefault(session, {})[run] = entry
        if self.cache:
            self._write_index(subject, out)
        return out

    def _cached_keys(self, subject, digest):
        """All runs of a subject from the cache without loading the source, if complete."""
        if not self.cache:
            return None
        index = self._index_file(subject)
        if not index.exists():
            return None
        listing = json.loads(index.read_text())
        out: dict = {}
        for session, runs in listing.items():
            for run in runs:
                entry = self.cache.get((self.cache_name, subject, session, run, digest))
                if entry is None:
                    return None
                out.setdefault(session, {})[run] = entry
        return out

    def _process(self, raw, subject, session, run, key) -> CachedRun:
        raw = raw.copy().load_data(verbose=False)
        raw.info["description"] = f"neurodecode:{self.tag(subject, session, run)}"
        raw = self.recipe.apply_raw(raw, copy=False)
        raw.info["description"] = f"neurodecode:{self.tag(subject, session, run)} [recipe {self.recipe.digest}]"
        if not self.cache:
            return CachedRun.from_raw(raw)
        return self.cache.put(key, raw, extra={"recipe": self.recipe.to_dict(),
                                               "versions": self.recipe.versions()})

    def _index_file(self, subject):
        return self.cache.path((self.cache_name, subject, "x", "x", self.recipe.digest)).parent.parent \
            / "runs.json"

    def _write_index(self, subject, runs: dict) -> None:
        """Record the subject's complete run list, so warm reads skip the source loader."""
        index = self._index_file(subject)
        write_atomic_bytes(index, json.dumps({str(s): [str(r) for r in rr] for s, rr in runs.items()}))

    def _get_single_subject_data(self, subject):
        return {session: {run: entry.to_raw() for run, entry in runs.items()}
                for session, runs in self.runs(subject).items()}


class RecipeStamp(FixedTransformer):
    """First step of a MOABB process pipeline run through :func:`with_recipe`.

    It checks that each run went through the recipe, and carries the digest
    into the pipeline's repr, so MOABB's results keys change with the recipe.
    """

    def __init__(self, digest: str):
        super().__init__()
        self.digest = digest

    def __repr__(self) -> str:
        return f"RecipeStamp(digest={self.digest!r})"

    def transform(self, raw, y=None):
        if f"[recipe {self.digest}]" not in (raw.info.get("description") or ""):
            raise ConfigError(f"this run did not go through recipe {self.digest}; use the "
                              "paradigm returned by with_recipe with the original dataset")
        return raw


class _RecipeParadigm:
    """Mixin put in front of a MOABB paradigm class by :func:`with_recipe`."""

    recipe: Recipe
    run_cache: RunCache | None

    def _preprocessed(self, dataset):
        if isinstance(dataset, PreprocessedDataset):
            if dataset.recipe != self.recipe:
                raise ConfigError("dataset was preprocessed with another recipe")
            return dataset
        return PreprocessedDataset(dataset, self.recipe, cache=self.run_cache or False)

    def get_data(self, dataset, *args, **kwargs):
        return super().get_data(self._preprocessed(dataset), *args, **kwargs)

    def make_process_pipelines(self, dataset, *args, **kwargs):
        from ..moabb_api import FixedPipeline, StepType

        pipelines = super().make_process_pipelines(dataset, *args, **kwargs)
        stamp = (StepType.RAW, RecipeStamp(self.recipe.digest))
        return [FixedPipeline([stamp, *p.steps]) for p in pipelines]


def with_recipe(paradigm, recipe, cache: bool | RunCache = True):
    """A copy of a MOABB paradigm that reads every dataset through ``recipe``.

    Parameters
    ----------
    paradigm : moabb.paradigms.base.BaseParadigm
        E.g. ``LeftRightImagery(fmin=8, fmax=30)``; its own filters still run
        after the recipe.
    recipe : Recipe | dict | list | str
    cache : bool | RunCache

    Returns
    -------
    paradigm : BaseParadigm
        Same class (a subclass of it) and parameters, usable in any MOABB
        evaluation.

    Examples
    --------
    >>> from moabb.paradigms import LeftRightImagery
    >>> p = with_recipe(LeftRightImagery(), [{"notch": {"freqs": 50}}], cache=False)
    >>> isinstance(p, LeftRightImagery), type(p).__name__
    (True, 'LeftRightImageryWithRecipe')
    """
    recipe = Recipe.coerce(recipe)
    if recipe.window_steps:
        raise ConfigError(f"window steps ({', '.join(s.name for s in recipe.window_steps)}) "
                          "drop or transform whole windows, which MOABB paradigms cannot do; "
                          "use neurodecode.windows for them, or remove them from this recipe")
    cls = type(paradigm)
    new = copy.copy(paradigm)
    new.__class__ = type(f"{cls.__name__}WithRecipe", (_RecipeParadigm, cls), {})
    new.recipe = recipe
    new.run_cache = RunCache() if cache is True else (cache or None)
    return new
