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
from dataclasses import dataclass
from time import perf_counter

import numpy as np

from ..errors import ConfigError, UnknownNameError

__all__ = ["CrossDatasetEvaluation", "check_settings", "calibration_plan", "align_reference", "ALIGNMENTS",
           "CROSS_DATASET"]

ALIGNMENTS = ("euclidean", "none")
#: The evaluation's ``type`` in benchmark definitions.
CROSS_DATASET = "cross-dataset"


def check_settings(settings: dict, codes: list[str]) -> dict:
    """Check cross-dataset settings against the dataset codes; return them completed.

    Examples
    --------
    >>> check_settings({"shots": [10, 0, 5]}, ["A", "B"])["shots"]
    [0, 5, 10]
    """
    out = dict(settings)
    shots = out.get("shots", [0])
    shots = [shots] if isinstance(shots, int) else shots
    if not isinstance(shots, (list, tuple)) or not shots or not all(
            isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in shots):
        raise ConfigError(f"cross-dataset: shots must be a list of trials per class (integers >= 0), got {shots!r}")
    out["shots"] = sorted(set(shots))
    if out.get("alignment", "euclidean") not in ALIGNMENTS:
        raise UnknownNameError("alignment", str(out["alignment"]), ALIGNMENTS)
    zero = out.get("zero_shot_alignment", 10)
    if not isinstance(zero, int) or zero < 0:
        raise ConfigError(f"cross-dataset: zero_shot_alignment is a number of trials (>= 0), got {zero!r}")
    weight = out.get("target_weight", 0.5)
    if weight is not None and not 0 < weight < 1:
        raise ConfigError(f"cross-dataset: target_weight is the target's share of the training weight, "
                          f"in (0, 1), got {weight!r}")
    template = out.get("template", "intersection")
    if isinstance(template, str) and template != "intersection":
        from ..preprocessing.channels import TEMPLATES

        if template not in TEMPLATES:
            raise UnknownNameError("channel template", template, ["intersection", *TEMPLATES])
    elif not isinstance(template, str) and (not isinstance(template, (list, tuple)) or not template):
        raise ConfigError(f"cross-dataset: template is a name or a list of channel names, got {template!r}")
    for key in ("source", "target"):
        names = out.get(key)
        if names is None:
            continue
        names = [names] if isinstance(names, str) else list(names)
        for name in names:
            if name not in codes:
                raise UnknownNameError(f"{key} dataset", name, codes)
        out[key] = names
    if len(codes) < 2:
        raise ConfigError(f"cross-dataset needs at least two datasets, got {codes}")
    source, target = out.get("source"), out.get("target")
    if source and target and set(source) & set(target):
        raise ConfigError(f"cross-dataset: {sorted(set(source) & set(target))} are both source and target")
    return out


@dataclass(frozen=True)
class Plan:
    """Which trials of a target subject serve what, by index in recording order."""

    calibration: dict  # shots -> indices of the labelled k-shot trials
    alignment: dict  # shots -> indices the subject's alignment is fitted on
    test: np.ndarray
    block: int  # trials in the calibration block


def calibration_plan(y, shots, zero_shot_alignment: int = 10, *, where: str = "") -> Plan:
    """Split one target subject's trials (in recording order) into calibration and test.

    Examples
    --------
    >>> plan = calibration_plan(list("ababbaab"), [0, 1, 2], zero_shot_alignment=2)
    >>> plan.calibration[1].tolist(), plan.alignment[0].tolist(), plan.test.tolist()
    ([0, 1], [0, 1], [4, 5, 6, 7])
    """
    y = np.asarray(y)
    classes = [str(c) for c in np.unique(y)]  # plain names in messages
    top = max(shots)
    need = zero_shot_alignment if 0 in shots else 0
    for cls in classes:
        have = int(np.sum(y == cls))
        if have < top + 2:
            raise ConfigError(f"{where}shots={top} needs {top} calibration trials of class {cls!r} and at least "
                              f"2 more to test, but it has {have}; lower shots")
    block = need
    for cls in classes:
        idx = np.flatnonzero(y == cls)
        block = max(block, int(idx[top - 1]) + 1 if top else 0)
    test = np.arange(block, len(y))
    for cls in classes:
        if np.sum(y[test] == cls) < 2:
            raise ConfigError(f"{where}after a calibration block of {block} trials, fewer than 2 trials of class "
                              f"{cls!r} are left to test; lower shots or zero_shot_alignment")
    calibration = {k: np.sort(np.concatenate([np.flatnonzero(y == c)[:k] for c in classes])) for k in shots}
    alignment = dict(calibration)
    if 0 in shots:
        alignment[0] = np.arange(zero_shot_alignment)
    return Plan(calibration, alignment, test, block)


def align_reference(X) -> np.ndarray | None:
    """The Euclidean-alignment whitening matrix fitted on trials ``X`` (None when there are none)."""
    from ..moabb_api import EuclideanAlignment

    if len(X) == 0:
        return None
    # Ledoit-Wolf: channels interpolated by the template leave the sample covariance singular
    return EuclideanAlignment(estimator="lwf").fit(X).inv_sqrt_ref_


def _aligned(reference, X) -> np.ndarray:
    return np.asarray(X) if reference is None else np.matmul(reference, X)


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
        common = sorted(set.intersection(*used.values()))
        if len(common) < 2:
            listing = "; ".join(f"{code}: {sorted(names)}" for code, names in used.items())
            raise ConfigError(f"cross-dataset: the datasets share {len(common)} class name(s) {common}, and "
                              f"decoding needs 2 ({listing}); choose a paradigm whose events they all have")
        return common

    def _check_shots(self) -> None:
        """Shots against the trials a target declares per class and subject, before anything loads
        (datasets that declare none are checked subject by subject as they load)."""
        top = max(self.shots)
        for _, code in self.folds():
            have = _declared_trials_per_class(self._dataset(code))
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
            self._template = self._resolve_template()
        return list(self._template)

    def _resolve_template(self) -> list[str]:
        from ..datasets.montage import standard_positions
        from ..preprocessing.channels import TEMPLATES, canonical_name

        caps = {d.code: dataset_channels(d) for d in self.datasets}
        if isinstance(self.template, str) and self.template == "intersection":
            first = caps[self.datasets[0].code][0]
            shared = set.intersection(*({canonical_name(c) for c in names} for names, _ in caps.values()))
            channels = [c for c in first if canonical_name(c) in shared]
            if not channels:
                raise ConfigError("cross-dataset: the datasets share no channel name; give a template")
            return channels
        channels = list(TEMPLATES[self.template]) if isinstance(self.template, str) else list(self.template)
        positions = {canonical_name(n) for n in standard_positions()}
        for ch in channels:
            lacking = [code for code, (names, _) in caps.items()
                       if canonical_name(ch) not in {canonical_name(n) for n in names}]
            if not lacking:
                continue
            if len(lacking) == len(caps) and canonical_name(ch) not in positions:
                raise ConfigError(f"cross-dataset: template channel {ch!r} is in no dataset and has no standard "
                                  "position, so it cannot be interpolated; remove it from the template")
            if canonical_name(ch) not in positions:
                raise ConfigError(f"cross-dataset: template channel {ch!r} is missing from {lacking} and has no "
                                  "standard position to interpolate it from; remove it from the template")
            blind = [code for code in lacking if not caps[code][1]]
            if blind:
                raise ConfigError(f"cross-dataset: template channel {ch!r} is missing from {blind}, whose channels "
                                  "have no positions to interpolate it from; remove it from the template")
        return channels

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
                        X[idx] = _aligned(align_reference(X[idx]), X[idx])
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
        chance = 0.5 if self.paradigm.scoring == "roc_auc" else 1.0 / len(self.classes)
        rows = []
        for name, pipeline in pipelines.items():
            t0 = perf_counter()
            pretrained = self.pretrained(sources, name, pipeline)
            n_source = len(self.source_data(sources)[1])
            pretrain_time = perf_counter() - t0
            for k in self.shots:
                fit_idx, align_idx = plan.calibration[k], plan.alignment[k]
                reference = align_reference(X[align_idx]) if self.alignment == "euclidean" else None
                Xa = _aligned(reference, X)
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


def _scratch(estimator):
    """A fresh estimator for a few trials: no validation split to stop early on."""
    params = estimator.get_params()
    return estimator.set_params(valid_size=0) if "valid_size" in params else estimator


def _declared_trials_per_class(dataset) -> int | None:
    """Trials per class and subject a dataset declares: a generated one's settings, else MOABB's
    ``METADATA.experiment.trials_per_class`` (None when neither says)."""
    if all(hasattr(dataset, k) for k in ("n_trials", "n_runs", "n_sessions")):
        return int(dataset.n_trials * dataset.n_runs * dataset.n_sessions)
    declared = getattr(getattr(getattr(dataset, "METADATA", None), "experiment", None), "trials_per_class", None)
    if isinstance(declared, dict) and declared:
        return int(min(declared.values()))
    return int(declared) if isinstance(declared, (int, float)) else None


def dataset_channels(dataset) -> tuple[list[str], bool]:
    """Channel names of a dataset and whether they have (or standard names give them) positions,
    from its first subject's first run."""
    from ..moabb_api import subject_data

    declared = getattr(dataset, "channels", None)
    if isinstance(declared, list) and declared:  # generated datasets name their cap up front
        return list(declared), True
    sessions = subject_data(dataset, dataset.subject_list[0])
    raw = next(iter(next(iter(sessions.values())).values()))
    from ..datasets.montage import standard_positions
    from ..preprocessing.channels import canonical_name

    names = [c for c, t in zip(raw.ch_names, raw.get_channel_types()) if t in ("eeg", "mag", "grad")]
    located = any(np.isfinite(ch["loc"][:3]).all() and np.any(ch["loc"][:3]) for ch in raw.info["chs"]
                  if ch["ch_name"] in names)
    standard = {canonical_name(n) for n in standard_positions()}  # the recipe's montage step gives these
    return names, bool(located or any(canonical_name(c) in standard for c in names))
