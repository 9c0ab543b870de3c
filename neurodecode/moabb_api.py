"""The one boundary with MOABB: every name neurodecode takes from MOABB comes through here.

MOABB is imported only when one of these names is first used, so importing
this module is free. Everything here is MOABB's public API (classes,
``process()``, ``get_data()``, ``METADATA``, ``cv_class``/``cv_kwargs``), with
one documented exception listed in :data:`SUBCLASS_HOOKS`: the abstract method
that MOABB requires every dataset subclass to implement. ``tests/test_layout.py``
checks that no other module imports MOABB and that MOABB still has every name
used here, so a MOABB release that removes one fails with the name.
"""
from __future__ import annotations

import contextlib
import logging
import tempfile

#: Public name here -> "module:attribute" in MOABB.
EXPORTS = {
    "BaseDataset": "moabb.datasets.base:BaseDataset",
    "BaseEvaluation": "moabb.evaluations.base:BaseEvaluation",
    "BaseParadigm": "moabb.paradigms.base:BaseParadigm",
    "FixedTransformer": "moabb.datasets.preprocessing:FixedTransformer",
    "FixedPipeline": "moabb.datasets.preprocessing:FixedPipeline",
    "StepType": "moabb.datasets.bids_interface:StepType",
    "EuclideanAlignment": "moabb.datasets.preprocessing:EuclideanAlignment",
    "PerBandFilterBank": "moabb.pipelines.utils:FilterBank",
    "create_pipeline_from_config": "moabb.pipelines.utils:create_pipeline_from_config",
    "WithinSessionEvaluation": "moabb.evaluations:WithinSessionEvaluation",
    "CrossSessionEvaluation": "moabb.evaluations:CrossSessionEvaluation",
    "CrossSubjectEvaluation": "moabb.evaluations:CrossSubjectEvaluation",
    "CrossDatasetSplitter": "moabb.evaluations.splitters:CrossDatasetSplitter",
    "dataset_list": "moabb.datasets.utils:dataset_list",
    "meta_analysis": "moabb.analysis.meta_analysis",
    "plotting": "moabb.analysis.plotting",
    "paradigms": "moabb.paradigms",
}

__all__ = [*EXPORTS, "SPLITS", "EXPORTS", "SUBCLASS_HOOKS", "any_class_name", "evaluation_class",
           "paradigm_classes", "make_paradigm", "moabb_datasets", "subject_data", "declared_sfreq",
           "declared_channels", "declared_channel_types", "declared_trial_duration", "declared_trials_per_class",
           "offline_rows", "is_moabb_evaluation"]

#: Private MOABB names neurodecode relies on, and why each is unavoidable.
SUBCLASS_HOOKS = {
    "moabb.datasets.base:BaseDataset._get_single_subject_data":
        "the abstract method MOABB requires every dataset subclass to implement (local, synthetic and "
        "preprocessed datasets) and the one the download guard wraps; subject_data() also calls it to read "
        "a source dataset's runs as stored, because the public get_data() rewrites their annotations "
        "(SetRawAnnotations sets every event's duration to the epoch interval)",
}

#: MOABB's offline evaluation for each split name; the names are used everywhere (pseudo-online too).
_EVALUATION_CLASS = {"within-session": "WithinSessionEvaluation", "cross-session": "CrossSessionEvaluation",
                     "cross-subject": "CrossSubjectEvaluation"}
#: The split names, written once.
SPLITS = tuple(_EVALUATION_CLASS)


def _resolve(target: str):
    import importlib

    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


def __getattr__(name: str):
    if name in EXPORTS:
        return _resolve(EXPORTS[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def evaluation_class(split: str) -> type:
    """MOABB's evaluation class for ``"within-session"``, ``"cross-session"`` or ``"cross-subject"``."""
    return _resolve(EXPORTS[_EVALUATION_CLASS[split]])


def is_moabb_evaluation(obj) -> bool:
    """Whether ``obj`` is a concrete subclass of MOABB's ``BaseEvaluation`` (a user's own evaluation)."""
    import inspect

    return inspect.isclass(obj) and issubclass(obj, _resolve(EXPORTS["BaseEvaluation"])) and \
        not inspect.isabstract(obj)


@contextlib.contextmanager
def any_class_name():
    """Silence MOABB's warning that a dataset class name is not an abbreviation of its code.

    Wrapper datasets (local files, preprocessed views) keep the code of the
    data they hold, so that warning does not apply to them.
    """
    log = logging.getLogger("moabb.datasets.base")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def paradigm_classes() -> dict[str, type]:
    """MOABB's concrete paradigm classes by name (``LeftRightImagery``, ``SSVEP``, ``P300``...)."""
    import inspect

    mp = _resolve(EXPORTS["paradigms"])
    base = _resolve(EXPORTS["BaseParadigm"])
    return {n: c for n, c in vars(mp).items()
            if inspect.isclass(c) and issubclass(c, base) and not inspect.isabstract(c)}


def make_paradigm(name: str, params: dict | None = None):
    """A MOABB paradigm from its class name and settings."""
    return paradigm_classes()[name](**(params or {}))


def moabb_datasets() -> dict[str, type]:
    """MOABB's dataset classes by name, without its ``Fake*`` test fixtures."""
    return {cls.__name__: cls for cls in _resolve(EXPORTS["dataset_list"]) if not cls.__name__.startswith("Fake")}


def subject_data(dataset, subject) -> dict:
    """``{session: {run: mne.io.Raw}}`` of one subject, annotations as the files hold them.

    See :data:`SUBCLASS_HOOKS` for why this is not ``get_data()``.
    """
    return dataset._get_single_subject_data(subject)


def _metadata(dataset, section: str, field: str):
    meta = getattr(dataset, "METADATA", None)
    value = getattr(getattr(meta, section, None), field, None)
    return None if value is None else float(value)


def declared_sfreq(dataset) -> float | None:
    """The sampling rate (Hz) a dataset declares before any file is read, or None.

    MOABB datasets declare it in ``METADATA.acquisition.sampling_rate``;
    neurodecode's own datasets in their ``summary()``.
    """
    summary = getattr(dataset, "summary", None)
    if callable(summary):
        sfreq = summary().get("sfreq")
        if sfreq:
            return float(sfreq)
    return _metadata(dataset, "acquisition", "sampling_rate")


def declared_channels(dataset) -> int | None:
    """The number of EEG channels MOABB declares in ``METADATA.acquisition.n_channels``, or None."""
    value = _metadata(dataset, "acquisition", "n_channels")
    return None if value is None else int(value)


def declared_channel_types(dataset) -> list[str] | None:
    """The channel types a dataset declares (``summary()["ch_types"]``, else MOABB's
    ``METADATA.acquisition.channel_types``), or None when it declares none."""
    summary = getattr(dataset, "summary", None)
    if callable(summary) and summary().get("ch_types"):
        return sorted(summary()["ch_types"])
    meta = getattr(getattr(dataset, "METADATA", None), "acquisition", None)
    types = getattr(meta, "channel_types", None)
    return sorted(types) if types else None


def declared_trial_duration(dataset) -> float | None:
    """The trial duration (s) MOABB declares in ``METADATA.experiment.trial_duration``, or None."""
    return _metadata(dataset, "experiment", "trial_duration")


def declared_trials_per_class(dataset) -> int | None:
    """Trials per class and subject a dataset declares: a generated one's settings, else MOABB's
    ``METADATA.experiment.trials_per_class`` (None when neither says)."""
    if all(hasattr(dataset, k) for k in ("n_trials", "n_runs", "n_sessions")):
        return int(dataset.n_trials * dataset.n_runs * dataset.n_sessions)
    declared = getattr(getattr(getattr(dataset, "METADATA", None), "experiment", None), "trials_per_class", None)
    if isinstance(declared, dict) and declared:
        return int(min(declared.values()))
    return int(declared) if isinstance(declared, (int, float)) else None


def offline_rows(split, paradigm, dataset, pipelines: dict, *, random_state: int, subject=None,
                 extra_scores: dict | None = None, **settings) -> list[dict]:
    """MOABB's offline evaluation of ``pipelines`` through its public ``process()``.

    Parameters
    ----------
    split : "within-session" | "cross-session" | "cross-subject" | type
        A split name, or a MOABB ``BaseEvaluation`` subclass (a user's own).
    paradigm, dataset
        MOABB objects. For within- and cross-session, ``dataset`` should hold
        only the subjects to score.
    pipelines : dict
        ``{name: estimator}``.
    random_state : int
        ``random_state`` of the evaluation.
    subject : int | None
        Cross-subject only: score just this held-out subject, training on all
        others, with MOABB's documented ``cv_class=PredefinedSplit`` and a
        ``test_fold`` callable; the fold is the one ``LeaveOneGroupOut``
        gives for that subject.
    extra_scores : dict | None
        ``{column: scorer}`` computed on the same folds through MOABB's
        multi-metric scoring; the paradigm's own metric stays first, so
        ``score`` is unchanged.
    **settings
        More evaluation settings (``return_epochs``, ``mne_labels``).

    Returns
    -------
    rows : list of dict
        MOABB's result rows (``score``, ``time``, ``samples``, ``channels``,
        ``n_sessions``, ``subject``, ``session``, ``pipeline``...), as
        ``process()`` returns them from its results store.
    """
    cls = evaluation_class(split) if isinstance(split, str) else split
    if split == "cross-subject" and subject is not None:
        import numpy as np
        from sklearn.model_selection import PredefinedSplit

        settings = {**settings, "cv_class": PredefinedSplit,
                    "cv_kwargs": {"test_fold": lambda meta: np.where(meta["subject"] == subject, 0, -1)}}
    if extra_scores:
        import copy

        own = paradigm.scoring
        paradigm = copy.copy(paradigm)
        paradigm.scorer = {"score": own, **extra_scores}  # MOABB: the first metric is `score`
    with tempfile.TemporaryDirectory(prefix="neurodecode-moabb-") as scratch:
        ev = cls(paradigm=paradigm, datasets=[dataset], random_state=random_state, hdf5_path=scratch, n_jobs=1,
                 overwrite=True, error_score="raise", **settings)
        table = ev.process(pipelines)
    if subject is not None:
        table = table[table["subject"].astype(str) == str(subject)]
    if extra_scores:
        table = table.drop(columns=["score_score"], errors="ignore").rename(
            columns={f"score_{k}": k for k in extra_scores})
    return table.to_dict("records")
