"""Pseudo-online evaluation: recordings replayed in time order, with an idle state.

After Carrara & Papadopoulo (J. Neural Eng. 2024), "Pseudo-online framework
for BCI evaluation: a MOABB perspective", without its train/test leak: whole
runs (or a later stretch of a single run) are held out, never shuffled windows.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from time import perf_counter

import mne
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from ..config import exported
from ..datasets.channel_types import expand_types
from ..errors import ConfigError, UnknownNameError
from ..moabb_api import BaseEvaluation, declared_trial_duration
from ..models.decision import with_online_layers
from ..preprocessing import PreprocessedDataset, Recipe, RunCache
from ..utils import natural_key
from ..windows.labels import TaskPeriod
from .decision_files import decision_file, write_decisions
from .metrics import METRIC_COLUMNS, decision_metrics
from .online_recipe import online_recipe
from .pseudo_online_settings import PseudoOnlineSettings, check_settings, check_task_interval
from .splits import Fold, cross_session_folds, cross_subject_folds, within_session_folds
from .stream import check_length, check_same_layout, make_stream, replay
from .training_set import training_set

__all__ = ["PseudoOnlineEvaluation"]


class PseudoOnlineEvaluation(BaseEvaluation):
    """Replay held-out runs as if they were arriving live, and score every decision.

    1. **Truth.** In every run, each event of the paradigm is active over its
       trial's task period (:class:`~neurodecode.windows.labels.TaskPeriod`):
       ``task_interval`` if given, else the events' own durations where the
       annotations carry them, else the trial duration MOABB declares
       (clipped at the next cue), else the epoch ``interval``; rows name the
       source in ``task_period``. Every other sample is ``idle``. Classes
       named in ``rest`` count as idle; the dataset's other events are
       neither and are not scored. Offline evaluations keep MOABB's interval.
    2. **Training**, on the training runs only, with the causal recipe:
       windows of ``window`` seconds every ``train_step`` seconds that lie
       wholly inside a trial (its class) or wholly in idle time.
       ``idle="class"`` trains N+1 classes on them, with idle windows drawn at
       random (``random_state``) to ``idle_ratio`` times the mean class size;
       ``idle="threshold"`` trains the N task classes and tunes a confidence
       threshold (:class:`~neurodecode.models.decision.IdleThreshold`) by
       grouped cross-validation on the same training windows.
       ``training="global"`` fits one model per replayed run name on those
       windows from every subject's runs but that one (within-session only),
       shared by every subject; ``"two-stage"`` fine-tunes a copy of it on
       the subject's own training runs (Guney et al. 2022; networks only).
       No window of the replayed run reaches either stage.
    3. **Replay.** The held-out run, through the causal variant of the recipe,
       is cut into windows of ``window`` seconds every ``step`` seconds; each
       window is scored alone and is a decision at its end time. Optional
       smoothing (:class:`~neurodecode.models.decision.DecisionSmoother`, or
       ``smoothing=``) uses past windows only.
    4. **Splits** (``split``): ``"within-session"``: leave one run out, or for
       a single-run session train on its first ``train_fraction`` and replay
       the rest after a gap of ``gap`` seconds (at least one window);
       ``"cross-session"``: train on the earlier sessions, replay each run of
       a later one; ``"cross-subject"``: train on the other subjects.
    5. **Scores**, one row per (subject, session, replayed run, pipeline):
       ``score`` is nMCC = (MCC + 1) / 2 over the N+1 classes; ``itr`` is the
       practical ITR in bits/min, one selection per trial: Wolpaw's
       ``B = log2 N + P log2 P + (1-P) log2((1-P)/(N-1))`` bits with N task
       classes and P the trial accuracy, times 60 / the median cue-to-cue
       period; ``itr_window`` is the same formula per window decision (N =
       task classes + 1, P = window accuracy) times ``60 / step``, which grows
       with 1/step because overlapping windows are not independent
       selections; ``fa_per_min``, false activations (runs of non-idle
       decisions that start outside every task period) per minute of idle
       time; ``detection_rate``, the share of trials with a correct decision
       inside their task period; plus accuracy, balanced accuracy, idle
       false-positive rate, task true-positive rate, mean and median latency
       (s, from trial onset to its first correct decision), trial accuracy
       (majority of a trial's non-idle decisions), and inference time per
       window (mean, p99, ms) with the real-time factor.
       ``run`` is the replayed run's name as a number (NaN when not numeric).

    Parameters
    ----------
    paradigm : moabb.paradigms.base.BaseParadigm
        Gives the classes (``used_events``), the band-pass (one band), the
        resampling rate and the channels; its filter runs causally.
    datasets : list of BaseDataset | None
    window, step : float
        Window length and decision interval in seconds.
    idle : "class" | "threshold"
    rest : list of str
        Dataset classes that mean "no task" (Kalunga2016 ``"rest"``,
        PhysionetMI ``"rest"`` = T0); they become idle.
    guard : float
        Seconds either side of each change of truth left out of the scores.
    ch_types : str | list | None
        Sensor types to decode (``"eeg"``, ``"meg"``, ``["mag", "grad"]``...);
        None: EEG.
    task_interval : [start, end] | dict | None
        Task period in seconds after the cue, for every dataset or as
        ``{dataset code: [start, end]}``; None: from the data (see Truth).
    split : "within-session" | "cross-session" | "cross-subject"
    recipe : Recipe | dict | list | str | None
        Raw preprocessing; its causal variant is used for training and replay.
    train_step : float | None
        Step of training windows in seconds (default: ``step``).
    idle_ratio : float
        Idle training windows per task class window (``idle="class"``).
    train_fraction, gap : float
        Chronological split of single-run sessions; ``gap`` in seconds
        (default and minimum: one window).
    smoothing : dict | None
        ``{"method": "mean" | "vote", "k": int}``: wraps every pipeline not
        already a :class:`~neurodecode.models.decision.DecisionSmoother`.
    threshold_cv : int
        Folds to tune the idle threshold.
    training : "subject" | "global" | "two-stage"
        Who the model is trained on (see Training); rows carry it.
    finetune : dict | None
        Settings of the second stage (``max_epochs``, ``lr``, ``freeze`` of
        :meth:`~neurodecode.models.DeepClassifier.fine_tune`).
    timed_windows : int | None
        Windows per replay scored alone and timed (``None``: all); see
        :func:`~neurodecode.evaluation.replay`.
    predictions_dir : str | Path | None
        Save each replay's decisions there as parquet (one file per run and pipeline).
    keep_decisions : bool
        Also keep them in :attr:`decisions`, by file name, for a caller that
        writes them elsewhere (benchmark workers return them to the driver).
    cache : bool | RunCache
        Cache of preprocessed runs.
    random_state, overwrite, error_score, suffix, hdf5_path
        As in MOABB evaluations.
    %(verbose)s

    Examples
    --------
    >>> import tempfile
    >>> from moabb.paradigms import LeftRightImagery
    >>> from neurodecode.datasets import SyntheticMI
    >>> ev = PseudoOnlineEvaluation(LeftRightImagery(), [SyntheticMI(n_subjects=1)],
    ...                             window=1.0, step=0.1, hdf5_path=tempfile.mkdtemp())
    >>> ev.split, ev.idle
    ('within-session', 'class')
    """

    _eval_type = "PseudoOnline"

    @mne.utils.verbose
    def __init__(self, paradigm, datasets=None, *, window: float = 1.0, step: float = 0.1,
                 idle: str = "class", rest=(), guard: float = 0.0, split: str = "within-session",
                 recipe=None, ch_types=None, task_interval=None, train_step: float | None = None,
                 idle_ratio: float = 1.0,
                 train_fraction: float = 0.5, gap: float | None = None, smoothing: dict | None = None,
                 threshold_cv: int = 3, training: str = "subject", finetune: dict | None = None,
                 timed_windows: int | None = 200, predictions_dir=None,
                 keep_decisions: bool = False, cache: bool | RunCache = True,
                 random_state: int | None = None, overwrite: bool = False,
                 error_score="raise", suffix: str = "", hdf5_path: str | None = None, verbose=None):
        check_settings(window=window, step=step, idle=idle, split=split, guard=guard, train_step=train_step,
                       idle_ratio=idle_ratio, train_fraction=train_fraction, gap=gap, smoothing=smoothing,
                       training=training, finetune=finetune)
        self.training, self.finetune = training, dict(finetune or {})
        self._global: dict = {}  # (pipeline, session, run) -> the global model of that replayed run
        self.window, self.step, self.idle, self.rest = float(window), float(step), idle, tuple(rest)
        self.guard, self.split, self.recipe = float(guard), split, Recipe.coerce(recipe)
        self.task_interval = check_task_interval(task_interval)
        self.ch_types = None if ch_types is None else expand_types(ch_types)
        if self.recipe.window_steps:
            raise ConfigError(f"window steps ({', '.join(s.name for s in self.recipe.window_steps)}) "
                              "look at many windows at once, which a live stream cannot; remove "
                              "them from the pseudo-online recipe")
        self.train_step = float(train_step) if train_step is not None else self.step
        self.idle_ratio, self.train_fraction = float(idle_ratio), float(train_fraction)
        self.gap = self.window if gap is None else max(float(gap), self.window)
        self.smoothing, self.threshold_cv, self.timed_windows = smoothing, threshold_cv, timed_windows
        self.predictions_dir = None if predictions_dir is None else Path(predictions_dir)
        self.keep_decisions = keep_decisions
        #: ``{"<dataset>/sub-…_ses-…_run-…_<pipeline>.parquet": decisions}`` when ``keep_decisions``
        self.decisions: dict = {}
        self.cache = cache
        # loaded runs, kept so several pipelines read a subject once; one subject at a time,
        # except cross-subject, whose folds all need every subject
        self._streams: dict = {}
        self._everyone: dict = {}  # every subject's runs, for global models
        with exported():  # without hdf5_path, MOABB's results store goes to our results folder
            super().__init__(paradigm=paradigm, datasets=datasets, random_state=random_state,
                             overwrite=overwrite, error_score=error_score, suffix=suffix,
                             hdf5_path=hdf5_path, additional_columns=["run", *METRIC_COLUMNS])
        if isinstance(self.task_interval, dict):
            codes = {d.code for d in self.datasets}
            for code in self.task_interval:
                if code not in codes:
                    raise UnknownNameError("dataset in task_interval (not evaluated here)", code, codes)

    # -- MOABB interface -------------------------------------------------------
    def is_valid(self, dataset) -> bool:
        if self.split == "cross-session":
            return dataset.n_sessions >= 2
        if self.split == "cross-subject":
            return len(dataset.subject_list) >= 2
        return True

    def _get_incompatibility_reason(self, dataset) -> str:
        if self.split == "cross-session":
            return f"cross-session needs 2 or more sessions, {dataset.code} has {dataset.n_sessions}"
        return f"cross-subject needs 2 or more subjects, {dataset.code} has {len(dataset.subject_list)}"

    def process(self, pipelines: dict, param_grid=None, postprocess_pipeline=None) -> pd.DataFrame:
        """Evaluate every pipeline on every dataset; results go to MOABB's results store.

        Subjects already in the store for a pipeline are skipped unless
        ``overwrite=True``. Returns the stored rows of these pipelines.
        """
        if not isinstance(pipelines, dict) or not all(isinstance(p, BaseEstimator)
                                                      for p in pipelines.values()):
            raise ConfigError("pipelines must be a dict of {name: scikit-learn estimator}")
        if param_grid or postprocess_pipeline is not None:
            raise ConfigError("pseudo-online evaluation takes no param_grid or postprocess_pipeline")
        frames = []
        with exported():  # a plain MOABB dataset finds its files under the data root too
            for dataset in self.datasets:
                stamp = self.settings_stamp(dataset)
                for res in self.evaluate(dataset, pipelines, None, stamp):
                    self.push_result(res, pipelines, stamp)
                frames.append(self.results.to_dataframe(pipelines=pipelines, process_pipeline=stamp))
        return pd.concat(frames, ignore_index=True)

    def evaluate(self, dataset, pipelines, param_grid, process_pipeline, postprocess_pipeline=None):
        """Yield result rows (MOABB's dict format) of the subjects not yet computed."""
        for subject in dataset.subject_list:
            todo = self.results.not_yet_computed(pipelines, dataset, subject, process_pipeline)
            if todo:
                yield from self.evaluate_subject(dataset, subject, todo)

    # -- the work --------------------------------------------------------------
    def settings_stamp(self, dataset) -> PseudoOnlineSettings:
        """The process-pipeline stand-in whose repr keys the results store."""
        keys = ("window", "step", "idle", "rest", "guard", "split", "ch_types", "task_interval", "train_step",
                "idle_ratio", "train_fraction", "gap", "smoothing", "threshold_cv", "random_state")
        text = ", ".join(f"{k}={getattr(self, k)!r}" for k in keys)
        if self.training != "subject":  # absent for subject training: earlier stores keep their keys
            text += f", training={self.training!r}, finetune={self.finetune!r}"
        return PseudoOnlineSettings(f"{text}, recipe={self.online_recipe.digest}")

    @functools.cached_property
    def online_recipe(self) -> Recipe:
        """The causal recipe: this evaluation's raw steps, then the paradigm's channels, band and rate
        (:func:`~neurodecode.evaluation.online_recipe.online_recipe`)."""
        return online_recipe(self.recipe, self.paradigm, self.ch_types)

    def check_dataset(self, dataset) -> tuple[list, dict, dict]:
        """Task classes, the events that build the truth (with rest) and the other events."""
        unknown = [r for r in self.rest if r not in dataset.event_id]
        if unknown:
            raise ConfigError(f"rest class(es) {unknown} not in {dataset.code}'s events "
                              f"{sorted(dataset.event_id)}")
        used = self.paradigm.used_events(dataset)
        classes = [c for c in used if c not in self.rest]
        if len(classes) < 2:
            raise ConfigError(f"{dataset.code}: pseudo-online needs two or more task classes, "
                              f"got {classes}")
        events = {k: dataset.event_id[k] for k in [*classes, *self.rest]}
        other = {k: v for k, v in dataset.event_id.items() if k not in events}
        period = self.task_period(dataset)
        if self.window > period.length + 1e-9:
            raise ConfigError(f"window of {self.window:g} s is longer than a trial of {dataset.code} "
                              f"({period.length:g} s of task per trial); use window <= {period.length:g}")
        return classes, events, other

    def task_period(self, dataset) -> TaskPeriod:
        """The dataset's task period: ``task_interval`` if set for it, else the events' durations,
        else MOABB's declared trial duration (clipped at the next cue), else the epoch interval."""
        declared = self.task_interval.get(dataset.code) if isinstance(self.task_interval, dict) \
            else self.task_interval
        return TaskPeriod(tuple(dataset.interval), None if declared is None else tuple(declared),
                          declared_trial_duration(dataset))

    def streams(self, dataset, subject) -> dict:
        """``{session: [RunStream]}`` of the runs of a subject that contain task events."""
        classes, events, other = self.check_dataset(dataset)
        period = self.task_period(dataset)
        pre = PreprocessedDataset(dataset, self.online_recipe, cache=self.cache)
        out = {}
        for session, runs in sorted(pre.runs(subject).items(), key=lambda kv: natural_key(kv[0])):
            made = [make_stream(entry, subject, session, run, events, self.rest, other, period, self.guard)
                    for run, entry in sorted(runs.items(), key=lambda kv: natural_key(kv[0]))]
            for stream in made:
                check_length(stream, int(round(self.window * stream.sfreq)))
                gap = stream.track.cue_to_cue / stream.sfreq
                if period.declared is not None and period.length > gap + 1e-9:
                    raise ConfigError(f"task_interval {list(period.declared)} of {dataset.code} lasts "
                                      f"{period.length:g} s, longer than its cue-to-cue period ({gap:g} s "
                                      f"in {stream.tag}); end it before the next cue")
            made = [s for s in made if s.has_task]
            if made:
                out[str(session)] = made
        if not out:
            raise ConfigError(f"{dataset.code} subject {subject}: no run has events of {classes}")
        return out

    def folds(self, dataset, subject) -> list[Fold]:
        """The train/replay folds of one subject under this evaluation's split."""
        if self.split == "cross-subject":
            for s in dataset.subject_list:  # each subject's streams serve every other's folds
                if (dataset.code, s) not in self._streams:
                    self._streams[dataset.code, s] = self.streams(dataset, s)
            return list(cross_subject_folds(
                subject, {s: self._streams[dataset.code, s] for s in dataset.subject_list}))
        if (dataset.code, subject) not in self._streams:
            self._streams = {(dataset.code, subject): self.streams(dataset, subject)}
        sessions = self._streams[dataset.code, subject]
        if self.split == "cross-session":
            return list(cross_session_folds(sessions))
        sfreq = next(iter(sessions.values()))[0].sfreq
        return list(within_session_folds(sessions, int(round(self.window * sfreq)), self.train_fraction,
                                         int(round(self.gap * sfreq))))

    def training_set(self, fold: Fold, classes) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
        """``X, y, groups`` and window metadata (stream, start, stop) to train a fold on
        (:func:`~neurodecode.evaluation.training_set.training_set` with this evaluation's settings)."""
        return training_set(fold, window=self.window, train_step=self.train_step, n_classes=len(classes),
                            idle_ratio=self.idle_ratio, random_state=self.random_state, idle=self.idle)

    def prepare(self, pipeline, sfreq: float):
        """A fresh copy of ``pipeline`` with ``sfreq`` filled in and this evaluation's online layers
        (:func:`~neurodecode.models.decision.with_online_layers`)."""
        return with_online_layers(pipeline, sfreq, idle=self.idle, smoothing=self.smoothing,
                                  threshold_cv=self.threshold_cv)

    def evaluate_subject(self, dataset, subject, pipelines: dict) -> list[dict]:
        """Rows of one subject for every pipeline (MOABB's dict format, plus our metrics)."""
        classes, _, _ = self.check_dataset(dataset)
        rows = []
        for fold in self.folds(dataset, subject):
            check_same_layout([*fold.train, fold.test], f"{dataset.code} subject {subject}")
            X, y, groups, _ = self.training_set(fold, classes)
            test = fold.test
            n_len = int(round(self.window * test.sfreq))
            n_step = int(round(self.step * test.sfreq))
            if n_step < 1:
                raise ConfigError(f"step {self.step:g} s is shorter than one sample at "
                                  f"{test.sfreq:g} Hz")
            for name, pipeline in pipelines.items():
                trained = None if self.training == "subject" else \
                    functools.partial(self._trained, dataset, fold, name, pipeline, classes, X, y)
                rows.append(self._run(dataset, subject, name, pipeline, X, y, groups, test,
                                      n_len, n_step, len(classes) + 1, trained))
        return rows

    def _trained(self, dataset, fold: Fold, name: str, pipeline, classes, X, y):
        """``(model, seconds, n_windows)`` of a global or two-stage fold: the global model of the
        replayed run name, fitted once on every subject's other runs, fine-tuned on ``X, y`` for two-stage."""
        from ..models.transfer import fine_tuned

        key = (name, fold.test.session, fold.test.run)
        if key not in self._global:
            self._global = {k: v for k, v in self._global.items() if k[0] == name}  # one pipeline at a time
            Xg, yg, groups = self.global_training_set(dataset, fold, classes)
            est = self.prepare(pipeline, fold.test.sfreq)
            t0 = perf_counter()
            est.fit(Xg, yg, **({"groups": groups} if self.idle == "threshold" else {}))
            self._global[key] = (est, perf_counter() - t0, len(yg))
        model, seconds, n = self._global[key]
        if self.training == "global":
            return model, seconds, n
        t0 = perf_counter()
        tuned = fine_tuned(model, X, y, **self.finetune)
        if tuned is None:
            raise ConfigError(f"{name} cannot be fine-tuned (it has no fine_tune method): training 'two-stage' "
                              "needs a network")
        return tuned, seconds + perf_counter() - t0, n + len(y)

    def global_training_set(self, dataset, fold: Fold, classes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``X, y, groups`` of a global model: the training windows of every subject's runs except
        the one named like ``fold``'s replayed run (the same session and run)."""
        held_out = (fold.test.session, fold.test.run)
        parts, offset = [], 0
        for subject in dataset.subject_list:
            if (dataset.code, subject) not in self._everyone:
                self._everyone[dataset.code, subject] = self.streams(dataset, subject)
            train = [s for runs in self._everyone[dataset.code, subject].values() for s in runs
                     if (s.session, s.run) != held_out]
            if train:
                X, y, groups, _ = self.training_set(Fold(train=train, test=fold.test), classes)
                parts.append((X, y, groups + offset))
                offset += int(groups.max()) + 1
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))

    def _run(self, dataset, subject, name, pipeline, X, y, groups, test, n_len, n_step, n_classes, trained=None):
        row = {"dataset": dataset, "subject": subject, "session": test.session, "pipeline": name,
               "n_samples": len(y), "n_channels": X.shape[1], "n_classes": n_classes,
               "run": _run_number(test), "training": self.training}
        try:
            if trained is None:
                est = self.prepare(pipeline, test.sfreq)
                t0 = perf_counter()
                est.fit(X, y, **({"groups": groups} if self.idle == "threshold" else {}))
                row["time"] = perf_counter() - t0
            else:  # global or two-stage: n_samples counts both stages' windows
                est, row["time"], row["n_samples"] = trained()
            decisions = replay(est, test, n_len, n_step, self.timed_windows)
        except Exception as exc:  # noqa: BLE001  (MOABB's error_score contract)
            if self.error_score == "raise":
                raise
            mne.utils.logger.warning(f"{name} failed on {dataset.code} subject {subject} "
                                     f"{test.tag}: {type(exc).__name__}: {exc}")
            return {**row, "time": np.nan, "score": self.error_score, "n_samples_test": 0,
                    **{c: np.nan for c in METRIC_COLUMNS}}
        metrics = decision_metrics(decisions, test.trials(n_len), n_classes, self.step, test.duration,
                                   cue_to_cue=test.track.cue_to_cue / test.sfreq)
        row.update(metrics, n_samples_test=len(decisions), task_period=test.track.source)
        table = decisions.assign(dataset=dataset.code, subject=subject, session=test.session,
                                 run=test.run, pipeline=name)
        name_in_folder = decision_file(dataset.code, subject, test.session, test.run, name)
        if self.keep_decisions:
            self.decisions[name_in_folder] = table
        if self.predictions_dir is not None:
            write_decisions(table, self.predictions_dir / name_in_folder)
        return row


_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _run_number(stream) -> float:
    return float(stream.run) if _NUMBER.fullmatch(stream.run) else float("nan")
