"""Cross-dataset evaluation: train on source datasets, test every subject of a held-out target.

Every dataset is mapped onto one channel template (the ``harmonise`` recipe
step, which interpolates template channels a cap lacks), resampled to one
rate and cut to one window length; classes are matched by name. A model is
trained once per fold on all source subjects, then scored on each target
subject with ``shots`` labelled calibration trials per class:

* 0 shots: the source model as it is (zero-shot);
* k shots: a network is fine-tuned on the k-shot trials
  (:func:`~neurodecode.models.fine_tune`); a classical pipeline is re-fitted
  on the source and the k-shot trials together, the target weighted by
  pyRiemann's :class:`~pyriemann.transfer.TLClassifier`;
* the from-scratch baseline: the same pipeline trained on the k-shot trials
  alone.

Calibration and test trials never mix. A target subject's trials are taken
in recording order (MOABB's order: sessions, runs, then time); the
calibration block is the shortest prefix holding ``max(shots)`` trials of
every class (and ``zero_shot_alignment`` trials); the test set is every
trial after it, the same for every shot count. The k-shot trials are the
first k of each class in the block.

Euclidean alignment (He & Wu 2020; MOABB's ``EuclideanAlignment``)
re-centres every source subject and session on its own trials, and every
target subject on calibration trials only: at k shots the k-shot trials
(their labels unused), at 0 shots the first ``zero_shot_alignment`` trials of
the block, unlabelled, as a short recording before use would give; with
``zero_shot_alignment=0`` a zero-shot target is not aligned at all.

Folds come from MOABB's :class:`~moabb.evaluations.splitters.CrossDatasetSplitter`
(leave one dataset out) or from explicit ``source``/``target`` lists.
"""
from __future__ import annotations

import copy
from time import perf_counter

import numpy as np

from ..errors import ConfigError
from ..moabb_api import declared_trials_per_class
from .calibration import align_reference, aligned, calibration_plan
from .channel_template import resolve_template
from .cross_dataset_settings import check_settings
from .metrics import chance_level

__all__ = ["CrossDatasetEvaluation", "shared_classes"]


class CrossDatasetEvaluation:
    """Train on every subject of the source datasets, test each subject of a held-out target.

    Parameters
    ----------
    paradigm : moabb.paradigms.base.BaseParadigm
        Its ``scoring`` is the score; its ``resample`` is replaced by ``sfreq``.
    datasets : list of MOABB datasets
        At least two.
    source, target : list of str | None
        Dataset codes. Both None: leave one dataset out (every dataset is the
        target once). Only ``target``: the others are the source; only
        ``source``: the others are targets.
    template : "intersection" | str | list of str
        The channels every dataset is mapped onto: the channels all datasets
        share, a named template of the ``harmonise`` step (``"1020"``,
        ``"motor"``, ``"occipital"``) or a list of names.
    sfreq : float | None
        The common rate (Hz); default the paradigm's ``resample``, else the
        lowest rate the datasets declare.
    shots : list of int
        Labelled calibration trials per class of each target subject.
    alignment : "euclidean" | "none"
        Euclidean alignment per subject (see the module notes for which
        trials it is fitted on).
    zero_shot_alignment : int
        Unlabelled trials a zero-shot target is aligned on (0: not aligned).
    target_weight : float | None
        Classical pipelines: the target trials' share of the training weight
        when re-fitted on source and target (pyRiemann's ``domain_weight``):
        0.5, the default, makes the few target trials weigh as much as the
        whole source; None weighs every trial alike.
    finetune : dict | None
        Keyword arguments of :func:`~neurodecode.models.fine_tune`.
    recipe : Recipe | list | str | None
        Preprocessing run after the template (raw steps only).
    random_state : int
    cache : bool
        Keep preprocessed runs in neurodecode's run cache.

    Attributes
    ----------
    log_ : list of dict
        Per target subject, pipeline and shots: the indices (recording order)
        of the trials used for ``alignment``, ``calibration`` and ``test``.
    """

    def __init__(self, paradigm, datasets, *, source=None, target=None, template="intersection",
                 sfreq: float | None = None, shots=(0,), alignment: str = "euclidean", zero_shot_alignment: int = 10,
                 target_weight: float | None = 0.5, finetune: dict | None = None, recipe=None, random_state: int = 42,
                 cache: bool = True):
        from ..preprocessing import Recipe

        self.paradigm = paradigm
        self.datasets = list(datasets)
        codes = [d.code for d in self.datasets]
        if len(set(codes)) != len(codes):
            raise ConfigError(f"cross-dataset: dataset codes must be unique, got {codes}")
        settings = check_settings({"source": source, "target": target, "template": template, "shots": list(shots),
                                   "alignment": alignment, "zero_shot_alignment": zero_shot_alignment,
                                   "target_weight": target_weight}, codes)
        self.source, self.target = settings["source"], settings["target"]
        self.template, self.shots = template, settings["shots"]
        self.alignment, self.zero_shot_alignment = alignment, zero_shot_alignment
        self.target_weight, self.finetune = target_weight, dict(finetune or {})
        self.random_state, self.cache = random_state, cache
        self.recipe = Recipe.coerce(recipe)
        if any(s.name == "harmonise" for s in self.recipe.steps):
            raise ConfigError("cross-dataset: remove the harmonise step from the recipe; the evaluation's "
                              "template maps every dataset")
        if self.recipe.window_steps:
            raise ConfigError(f"cross-dataset: window steps ({', '.join(s.name for s in self.recipe.window_steps)}) "
                              "see every trial of a subject, test trials included; use the evaluation's "
                              "alignment setting instead")
        self.classes = self._common_classes()
        self.sfreq = self._rate(sfreq)
        self._check_shots()
        self.log_: list[dict] = []
        self._template: list[str] | None = None
        self._prepared = None
        self._sources: dict = {}
        self._pretrained: dict = {}

    # -- plan ------------------------------------------------------------------
    def folds(self) -> list[tuple[list[str], str]]:
        """``(source codes, target code)`` of every fold."""
        codes = [d.code for d in self.datasets]
        if self.source or self.target:
            targets = self.target or [c for c in codes if c not in self.source]
            return [(self.source or [c for c in codes if c not in targets], t) for t in targets]
        import pandas as pd

        from ..moabb_api import CrossDatasetSplitter

        meta = pd.DataFrame({"dataset": codes})
        return [([codes[i] for i in train], codes[int(test[0])])
                for train, test in CrossDatasetSplitter().split(np.zeros(len(codes)), meta)]

    def _common_classes(self) -> list[str]:
        declared = getattr(self.paradigm, "events", None)
        # MOABB's used_events raises a bare KeyError for a declared event a dataset lacks: match names here
        used = {d.code: set(declared) & set(d.event_id) if declared else set(self.paradigm.used_events(d))
                for d in self.datasets}
        if declared:
            lacking = {code: sorted(set(declared) - names) for code, names in used.items() if set(declared) - names}
            if lacking:
                raise ConfigError(f"cross-dataset: classes are matched by name, and the paradigm's events {declared} "
                                  f"are missing from {lacking}")
        return shared_classes(used, "cross-dataset", "datasets")

    def _check_shots(self) -> None:
        """Shots against the trials a target declares per class and subject, before anything loads
        (datasets that declare none are checked subject by subject as they load)."""
        top = max(self.shots)
        for _, code in self.folds():
            have = declared_trials_per_class(self._dataset(code))
            if have is not None and top + 2 > have:
                raise ConfigError(f"cross-dataset: shots={top} needs {top} calibration trials of each class and 2 "
                                  f"more to test, but {code} records {have} per class and subject; lower shots")

    def _rate(self, sfreq) -> float:
        from ..moabb_api import declared_sfreq

        sfreq = sfreq or getattr(self.paradigm, "resample", None)
        if sfreq:
            return float(sfreq)
        rates = [declared_sfreq(d) for d in self.datasets]
        if None in rates:
            unknown = [d.code for d, r in zip(self.datasets, rates) if r is None]
            raise ConfigError(f"cross-dataset: {unknown} declare no sampling rate; set sfreq (Hz)")
        return float(min(rates))

    def template_channels(self) -> list[str]:
        """The template, resolved and checked against the datasets' channels (read once)."""
        if self._template is None:
            self._template = resolve_template(self.template, self.datasets)
        return list(self._template)

    def prepared_paradigm(self):
        """The paradigm every dataset is read through: one rate, one window length, the template recipe."""
        if self._prepared is None:
            from ..preprocessing import Recipe, with_recipe

            recipe = Recipe.coerce([{"montage": {"on_missing": "ignore"}},
                                    {"harmonise": {"channels": self.template_channels(), "max_missing": 0.99}},
                                    *self.recipe.to_dict()["steps"]])
            paradigm = copy.copy(self.paradigm)
            paradigm.resample = self.sfreq
            tmin = paradigm.tmin or 0.0
            if paradigm.tmax is None:  # one window length for every dataset: the shortest trial
                paradigm.tmax = min(float(d.interval[1] - d.interval[0]) for d in self.datasets)
            if paradigm.tmax <= tmin:
                raise ConfigError(f"cross-dataset: tmax {paradigm.tmax} s must exceed tmin {tmin} s")
            self._prepared = with_recipe(paradigm, recipe, cache=self.cache)
        return self._prepared

    # -- data ------------------------------------------------------------------
    def _dataset(self, code: str):
        return next(d for d in self.datasets if d.code == code)

    def load(self, code: str, subjects: list[int]):
        """Trials of the common classes, in recording order: ``(X, y, metadata)``."""
        paradigm = self.prepared_paradigm()
        X, y, meta = paradigm.get_data(self._dataset(code), subjects=list(subjects))
        keep = np.isin(y, self.classes)
        n_times = int(round((paradigm.tmax - (paradigm.tmin or 0.0)) * self.sfreq))
        X = np.asarray(X)[keep][..., :n_times]  # MOABB's last sample may differ by one between rates
        return X, np.asarray(y)[keep], meta[keep].reset_index(drop=True)

    def source_data(self, codes: list[str]):
        """Pooled source trials, each subject and session aligned on its own trials (kept for the fold)."""
        key = tuple(codes)
        if key not in self._sources:
            self._sources.clear()  # one fold in memory
            parts = []
            for code in codes:
                X, y, meta = self.load(code, list(self._dataset(code).subject_list))
                if self.alignment == "euclidean":
                    X = X.copy()
                    for idx in meta.groupby(["subject", "session"], sort=False).indices.values():
                        X[idx] = aligned(align_reference(X[idx]), X[idx])
                parts.append((X, y))
            self._sources[key] = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
        return self._sources[key]

    def pretrained(self, codes: list[str], name: str, pipeline):
        """The pipeline fitted on the pooled source trials (kept for the fold and pipeline)."""
        from sklearn.base import clone

        key = (tuple(codes), name)
        if key not in self._pretrained:
            self._pretrained.clear()
            X, y = self.source_data(codes)
            self._pretrained[key] = clone(pipeline).fit(X, y)
        return self._pretrained[key]

    # -- evaluation --------------------------------------------------------------
    def evaluate(self, pipelines: dict):
        """Every fold, every target subject: a DataFrame of result rows."""
        import pandas as pd

        rows = []
        for _, target in self.folds():
            for subject in self._dataset(target).subject_list:
                rows += self.evaluate_subject(target, subject, pipelines)
        return pd.DataFrame(rows)

    def evaluate_subject(self, target: str, subject: int, pipelines: dict) -> list[dict]:
        """Rows of one target subject: per pipeline and shots, ``training`` = ``"transfer"``
        (pretrained on the source, then adapted) and, above 0 shots, ``"scratch"``."""
        from sklearn.base import clone
        from sklearn.metrics import get_scorer

        from .metrics import nmcc

        sources = next(s for s, t in self.folds() if t == target)
        X, y, _ = self.load(target, [subject])
        plan = calibration_plan(y, self.shots, self.zero_shot_alignment if self.alignment == "euclidean" else 0,
                                where=f"{target} subject {subject}: ")
        scorer = get_scorer(self.paradigm.scoring)
        chance = chance_level(self.paradigm.scoring, len(self.classes))
        rows = []
        for name, pipeline in pipelines.items():
            t0 = perf_counter()
            pretrained = self.pretrained(sources, name, pipeline)
            n_source = len(self.source_data(sources)[1])
            pretrain_time = perf_counter() - t0
            for k in self.shots:
                fit_idx, align_idx = plan.calibration[k], plan.alignment[k]
                reference = align_reference(X[align_idx]) if self.alignment == "euclidean" else None
                Xa = aligned(reference, X)
                self.log_.append({"dataset": target, "subject": subject, "pipeline": name, "shots": k,
                                  "alignment": align_idx if reference is not None else np.array([], int),
                                  "calibration": fit_idx, "test": plan.test})
                for training in ("transfer", "scratch") if k else ("transfer",):
                    t1 = perf_counter()
                    if training == "scratch":
                        model = _scratch(clone(pipeline)).fit(Xa[fit_idx], y[fit_idx])
                    else:
                        model = self._adapt(pretrained, pipeline, sources, Xa[fit_idx], y[fit_idx]) if k \
                            else pretrained
                    Xt, yt = Xa[plan.test], y[plan.test]
                    rows.append({
                        "dataset": target, "subject": int(subject), "session": "all", "pipeline": name,
                        "shots": k, "training": training, "score": float(scorer(model, Xt, yt)),
                        "nmcc": nmcc(yt, model.predict(Xt)), "chance": chance,
                        "source": "+".join(sources), "n_source": n_source if training == "transfer" else 0,
                        "n_calibration": len(fit_idx), "n_test": len(plan.test), "samples": len(plan.test),
                        "channels": X.shape[1], "time": perf_counter() - t1 + (pretrain_time if k == 0 else 0.0)})
        return rows

    def _adapt(self, pretrained, pipeline, sources, X_cal, y_cal):
        """A network fine-tuned on the k-shot trials, or a classical pipeline re-fitted on the source
        and the k-shot trials, the target weighted by pyRiemann's ``TLClassifier``."""
        if callable(getattr(pretrained, "fine_tune", None)):  # the capability, not the class
            return pretrained.fine_tune(X_cal, y_cal, **self.finetune)
        from pyriemann.transfer import TLClassifier, encode_domains
        from sklearn.base import clone

        X_src, y_src = self.source_data(sources)
        n_s, n_t = len(y_src), len(y_cal)
        share = n_t / (n_s + n_t) if self.target_weight is None else self.target_weight
        total = n_s + n_t  # weights average 1, so regularisation strengths keep their meaning
        weights = {"source": (1 - share) * total / n_s, "target": share * total / n_t}
        X, y = encode_domains(np.concatenate([X_src, X_cal]), np.concatenate([y_src, y_cal]),
                              np.repeat(["source", "target"], [n_s, n_t]))
        tl = TLClassifier("target", clone(pipeline), domain_weight=weights).fit(X, y)
        return tl.estimator


def shared_classes(used: dict, where: str, members: str, member: str = "") -> list[str]:
    """The class names every member (dataset or client) of ``used`` (``{code: names}``) has, sorted; one line
    listing each member's classes when they share fewer than two.

    Examples
    --------
    >>> shared_classes({"A": {"left", "right"}, "B": {"left", "right", "feet"}}, "cross-dataset", "datasets")
    ['left', 'right']
    """
    common = sorted(set.intersection(*map(set, used.values())))
    if len(common) < 2:
        listing = "; ".join(f"{member}{code}: {sorted(names)}" for code, names in used.items())
        raise ConfigError(f"{where}: the {members} share {len(common)} class name(s) {common}, and decoding needs 2 "
                          f"({listing}); choose a paradigm whose events they all have")
    return common


def _scratch(estimator):
    """A fresh estimator for a few trials: no validation split to stop early on."""
    params = estimator.get_params()
    return estimator.set_params(valid_size=0) if "valid_size" in params else estimator
