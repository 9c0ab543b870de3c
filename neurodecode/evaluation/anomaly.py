"""Cross-fitted anomaly scores of every trial of a dataset: the VAE's and the classical detectors'.

Each fold's detectors are trained on the other folds' trials, less a random
calibration share whose scores set the fold's threshold (split conformal),
so no trial is scored by a model that saw it, and a threshold at level
``alpha`` flags about ``alpha`` of the clean trials.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import mne
import numpy as np
import pandas as pd

from ..errors import ConfigError, UnknownNameError
from ..models.anomaly import DETECTORS, MIN_TRIALS, make_detector

__all__ = ["anomaly_audit", "score_windows", "AnomalyAudit", "cross_fit_folds", "GROUPINGS", "REFERENCES"]

GROUPINGS = ("auto", "run", "subject", "block")
#: What a detector learns as normal: every subject's training trials together, or each subject's own
REFERENCES = ("pooled", "subject")
RUN_KEYS = ["subject", "session", "run"]
AUDIT_FLAGS = ["n_nan", "nan_channels", "n_flat", "flat_channels", "n_clipped", "clipped_channels",
               "n_noisy", "noisy_channels", "amp_outlier_pct", "duplicate_of"]


@dataclass
class AnomalyAudit:
    """What :func:`anomaly_audit` found.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per trial (see :func:`anomaly_audit`).
    windows : Windows
        The trials scored, in the table's order.
    reconstructions : dict
        ``{row: (n_chans, n_times) array}``: the VAE's reconstruction of the
        top-ranked trials, from the model of their fold.
    detectors : list of str
    """

    table: pd.DataFrame
    windows: object
    reconstructions: dict = field(default_factory=dict)
    detectors: list = field(default_factory=list)

    def per_run(self) -> pd.DataFrame:
        """Scores aggregated per run: trials, median and max score, flagged share per detector."""
        return self._aggregate(["dataset", *RUN_KEYS])

    def per_subject(self) -> pd.DataFrame:
        """Scores aggregated per subject."""
        return self._aggregate(["dataset", "subject"])

    def _aggregate(self, keys) -> pd.DataFrame:
        g = self.table.groupby(keys, sort=True)
        out = g.size().rename("n_trials").to_frame()
        for det in self.detectors:
            out[f"{det}_score_median"] = g[f"{det}_score"].median()
            out[f"{det}_score_max"] = g[f"{det}_score"].max()
            out[f"{det}_flagged_pct"] = 100 * g[f"{det}_flag"].mean()
        return out.reset_index()


def cross_fit_folds(metadata: pd.DataFrame, folds: int, group_by: str = "auto") -> tuple[np.ndarray, str]:
    """The fold of each trial, and the grouping used.

    ``"run"`` and ``"subject"`` put whole runs or subjects in one fold;
    ``"block"`` splits each run into ``folds`` contiguous blocks of trials in
    recording order, so every fold's model has seen every run and subject
    (what finding a stretch of another subject's data in a run needs).
    ``"auto"`` is ``"run"`` when every subject has at least two runs and
    there are at least ``folds`` runs, else ``"block"``.

    Examples
    --------
    >>> meta = pd.DataFrame({"subject": [1] * 6, "session": "0", "run": ["0"] * 3 + ["1"] * 3,
    ...                      "start_sample": [0, 9, 18] * 2})
    >>> cross_fit_folds(meta, 3)
    (array([0, 1, 2, 0, 1, 2]), 'block')
    >>> cross_fit_folds(meta, 2, "run")[0].tolist()
    [0, 0, 0, 1, 1, 1]
    """
    if group_by not in GROUPINGS:
        raise UnknownNameError("cross-fitting grouping", group_by, list(GROUPINGS))
    runs = metadata[RUN_KEYS].astype(str).agg("/".join, axis=1)
    if group_by == "auto":
        per_subject = metadata.assign(_run=runs).groupby("subject")["_run"].nunique()
        group_by = "run" if runs.nunique() >= folds and (per_subject >= 2).all() else "block"
    if group_by in ("run", "subject"):
        keys = runs if group_by == "run" else metadata["subject"].astype(str)
        levels = pd.unique(keys)
        if len(levels) < folds:
            raise ConfigError(f"anomaly audit: {len(levels)} {group_by}s cannot make {folds} cross-fitting "
                              f"folds; lower --folds or use group_by='block'")
        fold_of = {k: i % folds for i, k in enumerate(levels)}
        return keys.map(fold_of).to_numpy(), group_by
    fold = np.empty(len(metadata), dtype=int)
    for _, idx in metadata.groupby(runs, sort=False).groups.items():
        order = np.asarray(idx)[np.argsort(metadata.loc[idx, "start_sample"].to_numpy(), kind="stable")]
        fold[order] = np.arange(len(order)) * folds // len(order)
    return fold, "block"


def _check_trials(windows, folds: int, calibration: float) -> None:
    bad = np.flatnonzero(~np.isfinite(windows.X).all(axis=(1, 2)))
    if len(bad):
        meta = windows.metadata.iloc[bad[:5]]
        named = "; ".join(f"subject {r.subject} session {r.session} run {r.run} at {r.start_time:.2f} s"
                          for r in meta.itertuples())
        raise ConfigError(f"anomaly audit: {len(bad)} trials hold NaN samples ({named}); interpolate or drop "
                          "the channels the classical audit names (neurodecode audit) first")
    need = int(np.ceil(MIN_TRIALS / ((1 - 1 / folds) * (1 - calibration))))
    if len(windows) < need:
        raise ConfigError(f"anomaly audit: {len(windows)} trials; training the VAE on {folds} cross-fitted "
                          f"folds needs at least {need} (at least {MIN_TRIALS} per training fold)")


def _windows(dataset, subjects, recipe, sliding, tmin, tmax, cache):
    from ..windows import sliding_windows, trial_windows

    if sliding is not None:
        length, step = sliding
        return sliding_windows(dataset, subjects, recipe=recipe, length=length, step=step, cache=cache)
    if not getattr(dataset, "event_id", None):
        raise ConfigError(f"anomaly audit: {getattr(dataset, 'code', dataset)} has no events to cut trials "
                          "around; score sliding windows instead (--sliding LENGTH)")
    windows = trial_windows(dataset, subjects, recipe=recipe, tmin=tmin, tmax=tmax, cache=cache)
    if not len(windows):
        raise ConfigError(f"anomaly audit: no trial found in {dataset.code}; score sliding windows instead "
                          "(--sliding LENGTH)")
    return windows


@mne.utils.verbose
def anomaly_audit(dataset, subjects=None, *, recipe=None, sliding: tuple[float, float] | None = None,
                  tmin: float = 0.0, tmax: float | None = None, folds: int = 5, group_by: str = "auto",
                  detectors=("vae", "potato", "ptp", "rules"), vae_params: dict | None = None,
                  alpha: float = 0.05, calibration: float = 0.2, top: int = 10, reference: str = "pooled",
                  audit_runs: bool = True, random_state: int = 0, cache=True, verbose=None) -> AnomalyAudit:
    """Score every trial of ``dataset`` for anomalies, cross-fitted, with the VAE and classical detectors.

    Parameters
    ----------
    dataset : str | moabb.datasets.base.BaseDataset
    subjects : list of int | None
    recipe : Recipe | dict | list | str | None
        Preprocessing before the trials are cut.
    sliding : (float, float) | None
        ``(length, step)`` in s: score sliding windows over whole runs
        (for continuous data with no events) instead of trials.
    tmin, tmax : float
        The trial span, as :func:`~neurodecode.windows.trial_windows`.
    folds : int
        Cross-fitting folds.
    group_by : str
        What a fold holds: see :func:`cross_fit_folds`.
    detectors : sequence of str
        Names in :data:`~neurodecode.models.anomaly.DETECTORS`.
    vae_params : dict | None
        Parameters of :class:`~neurodecode.models.anomaly.VAEAnomalyScorer`.
    alpha : float
        Level of each detector's flag: a trial is flagged when its score
        exceeds the ``1 - alpha`` quantile of its fold's calibration scores.
    calibration : float
        Share of each fold's training trials held out to set that threshold.
    top : int
        Reconstructions of this many top-ranked trials are kept for the report.
    reference : str
        ``"pooled"``: each fold's detectors learn from every subject's
        training trials together. ``"subject"``: one detector per subject,
        trained on that subject's training trials only, so a trial is judged
        against its own subject's normal (what finds a stretch of another
        subject's data); the fold's threshold comes from every subject's
        calibration scores together.
    audit_runs : bool
        Join the classical run audit's flags (:func:`~neurodecode.preprocessing.audit.audit_dataset`).
    random_state : int
    cache : bool | RunCache
    %(verbose)s

    Returns
    -------
    audit : AnomalyAudit
        Its ``table`` has one row per trial: ``dataset``, ``subject``,
        ``session``, ``run``, ``onset`` (s from the run's start to the
        trial's first sample), ``label``, ``fold``, ``grouping``,
        ``reference``, ``anomaly_score`` (the VAE's), ``rank`` (1 = most
        anomalous), ``contrib_<channel>`` (each channel's share of the VAE
        error), ``top_channel``, for each detector
        ``<name>_score``, ``<name>_p`` (conformal p-value) and
        ``<name>_flag``, and the run audit's flags.
    """
    from ..datasets import get_dataset

    if isinstance(dataset, str):
        dataset = get_dataset(dataset, subjects=subjects)
    _check_settings(detectors, vae_params, alpha, calibration, reference)
    windows = _windows(dataset, subjects, recipe, sliding, tmin, tmax, cache)
    audit = score_windows(windows, folds=folds, group_by=group_by, detectors=detectors, vae_params=vae_params,
                          alpha=alpha, calibration=calibration, top=top, reference=reference,
                          random_state=random_state, dataset_code=dataset.code)
    if audit_runs:
        audit.table = _join_run_audit(audit.table, dataset, sorted(audit.table["subject"].unique()))
    return audit


def _check_settings(detectors, vae_params, alpha, calibration, reference) -> None:
    if reference not in REFERENCES:
        raise UnknownNameError("anomaly reference", reference, list(REFERENCES))
    unknown = [d for d in detectors if d not in DETECTORS]
    if unknown:
        raise UnknownNameError("anomaly detector", unknown[0], sorted(DETECTORS))
    if not 0 < alpha < 1 or not 0 < calibration < 1:
        raise ConfigError(f"anomaly audit: alpha and calibration must lie in (0, 1), got {alpha!r}, "
                          f"{calibration!r}")
    if "vae" in detectors:  # a bad parameter fails here, before any data are read
        make_detector("vae", vae_params)


def score_windows(windows, *, folds: int = 5, group_by: str = "auto", detectors=("vae", "potato", "ptp", "rules"),
                  vae_params: dict | None = None, alpha: float = 0.05, calibration: float = 0.2, top: int = 10,
                  reference: str = "pooled", random_state: int = 0, dataset_code: str = "") -> AnomalyAudit:
    """The cross-fitted scoring of :func:`anomaly_audit` on windows already cut (same parameters).

    Examples
    --------
    >>> from neurodecode.windows import trial_windows
    >>> w = trial_windows("SyntheticMI", cache=False)
    >>> audit = score_windows(w, folds=2, detectors=("potato", "ptp"))
    >>> audit.table[["potato_score", "potato_flag"]].shape == (len(w), 2)
    True
    """
    _check_settings(detectors, vae_params, alpha, calibration, reference)
    if "vae" in detectors:
        make_detector("vae", {"sfreq": windows.sfreq, **(vae_params or {})})._check_length(windows.X.shape[-1])
    _check_trials(windows, folds, calibration)
    meta = windows.metadata.reset_index(drop=True)
    fold, grouping = cross_fit_folds(meta, folds, group_by)
    X = windows.X
    rng = np.random.default_rng(random_state)
    splits = _splits(fold, folds, calibration, rng, meta["subject"].to_numpy() if reference == "subject" else None)
    scores = {d: np.empty(len(X)) for d in detectors}
    pvals = {d: np.empty(len(X)) for d in detectors}
    flags = {d: np.zeros(len(X), dtype=bool) for d in detectors}
    errors = np.full((len(X), X.shape[1]), np.nan)
    model_of = np.empty(len(X), dtype=object)  # the VAE that scored each trial, for its reconstruction
    for groups in splits:
        test = np.concatenate([t for _, _, t in groups])
        for det in detectors:
            params = {"sfreq": windows.sfreq, "random_state": random_state, **(vae_params or {})} \
                if det == "vae" else {}
            ref = []
            for fit_idx, cal_idx, test_idx in groups:
                model = make_detector(det, params).fit(X[fit_idx])
                ref.append(model.anomaly_score(X[cal_idx]))
                if det == "vae":
                    errors[test_idx] = model.channel_errors(X[test_idx])
                    scores[det][test_idx] = errors[test_idx].max(axis=1)
                    model_of[test_idx] = model
                else:
                    scores[det][test_idx] = model.anomaly_score(X[test_idx])
            ref = np.concatenate(ref)
            pvals[det][test] = (1 + (ref[None, :] >= scores[det][test][:, None]).sum(1)) / (len(ref) + 1)
            flags[det][test] = scores[det][test] > np.quantile(ref, 1 - alpha, method="higher")
    table = pd.DataFrame({"dataset": dataset_code, "subject": meta["subject"], "session": meta["session"],
                          "run": meta["run"], "onset": meta["start_time"], "label": meta["label"],
                          "fold": fold, "grouping": grouping})
    main = "vae" if "vae" in detectors else detectors[0]
    table["reference"] = reference
    table["anomaly_score"] = scores[main]
    table["rank"] = table["anomaly_score"].rank(ascending=False, method="first").astype(int)
    if "vae" in detectors:
        share = errors / np.maximum(errors.sum(axis=1, keepdims=True), 1e-30)
        for i, ch in enumerate(windows.ch_names):
            table[f"contrib_{ch}"] = share[:, i]
        table["top_channel"] = np.asarray(windows.ch_names)[share.argmax(axis=1)]
    for det in detectors:
        table[f"{det}_score"] = scores[det]
        table[f"{det}_p"] = pvals[det]
        table[f"{det}_flag"] = flags[det]
    recon = {}
    if "vae" in detectors:
        for row in table.nsmallest(top, "rank").index:
            recon[int(row)] = model_of[row].reconstruct(X[row:row + 1])[0]
    return AnomalyAudit(table=table, windows=windows, reconstructions=recon, detectors=list(detectors))


def _splits(fold, folds, calibration, rng, subjects=None) -> list:
    """Per fold, the ``(fit, calibration, test)`` indices of each detector to train: one triple, or one
    per test subject when ``subjects`` are given (a per-subject reference)."""
    splits = []
    for k in range(folds):
        test = np.flatnonzero(fold == k)
        train = np.flatnonzero(fold != k)
        cal = rng.random(len(train)) < calibration
        fit_idx, cal_idx = train[~cal], train[cal]
        if subjects is None:
            splits.append([(fit_idx, cal_idx, test)])
            continue
        groups = []
        for s in pd.unique(subjects[test]):
            own = fit_idx[subjects[fit_idx] == s]
            if len(own) < MIN_TRIALS:
                raise ConfigError(f"anomaly audit: with reference='subject', subject {s} has {len(own)} training "
                                  f"trials in cross-fitting fold {k + 1}; each needs at least {MIN_TRIALS}. Use "
                                  "reference='pooled', fewer folds, or a grouping that keeps part of every "
                                  "subject in training (not group_by='subject')")
            groups.append((own, cal_idx[subjects[cal_idx] == s], test[subjects[test] == s]))
        splits.append(groups)
    return splits


def _join_run_audit(table: pd.DataFrame, dataset, subjects) -> pd.DataFrame:
    from ..preprocessing.audit import audit_dataset

    runs = audit_dataset(dataset, subjects=subjects)
    runs = runs[RUN_KEYS + AUDIT_FLAGS].rename(columns={c: f"audit_{c}" for c in AUDIT_FLAGS})
    for key in RUN_KEYS:
        runs[key] = runs[key].astype(str)
    keyed = table.assign(**{k: table[k].astype(str) for k in RUN_KEYS})
    joined = keyed.merge(runs, on=RUN_KEYS, how="left")
    for key in RUN_KEYS:  # the trial table keeps its own key types
        joined[key] = table[key].to_numpy()
    return joined
