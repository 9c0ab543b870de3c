"""Data-quality audit of a dataset's raw runs: one row per run, and duplicate detection."""
from __future__ import annotations

import mne
import numpy as np
import pandas as pd
from scipy.signal import fftconvolve, welch

from ..moabb_api import subject_data
from .base import data_channels

__all__ = ["audit_dataset", "audit_run", "clean_stretches", "fingerprint", "find_duplicates"]

CLEAN_MADS = 5.0      # a clean stretch has no sample beyond this many robust SDs of its channel

FLAT_V = 1e-9          # a channel moving less than 1 nV (std) carries no signal
NOISY_Z = 5.0          # robust z-score of log channel std
OUTLIER_MADS = 8.0     # sample counted as an amplitude outlier beyond this many robust SDs
CLIP_FRACTION = 0.005  # share of samples sitting exactly at a channel's extreme
FINGERPRINT_HZ = 10.0
DUPLICATE_R = 0.98


def robust_sd(x, axis=-1):
    """1.4826 times the median absolute deviation along ``axis`` (the SD of a normal sample)."""
    med = np.median(x, axis=axis, keepdims=True)
    return 1.4826 * np.median(np.abs(x - med), axis=axis)


def audit_run(raw, event_id: dict | None = None, interval=None) -> dict:
    """Quality figures of one continuous recording (EEG/MEG data channels).

    Returns a mapping with: ``n_channels``, ``sfreq``, ``duration_s``,
    ``nan_channels``, ``flat_channels``, ``clipped_channels``,
    ``noisy_channels`` (``;``-joined names) and their counts,
    ``line_freq``, ``line_noise_db`` (median over channels of the power at
    the line frequency over its neighbourhood), ``amp_outlier_pct``,
    ``max_abs_uv``, ``n_events`` and ``events_out_of_range``.
    """
    picks = data_channels(raw.info)
    names = [raw.ch_names[p] for p in picks]
    data = raw.get_data(picks=picks)
    sfreq = raw.info["sfreq"]
    nan = ~np.isfinite(data).all(axis=1)
    clean = np.where(np.isfinite(data), data, 0.0)
    sd = clean.std(axis=1)
    flat = (sd < FLAT_V) & ~nan
    live = ~flat & ~nan
    lo, hi = clean.min(axis=1, keepdims=True), clean.max(axis=1, keepdims=True)
    at_edge = ((clean == lo) | (clean == hi)).mean(axis=1)
    clipped = live & (at_edge >= CLIP_FRACTION)
    noisy = np.zeros(len(names), dtype=bool)
    if live.sum() >= 3:
        logsd = np.log(sd[live])
        z = (logsd - np.median(logsd)) / max(robust_sd(logsd), 1e-12)
        noisy[np.flatnonzero(live)] = np.abs(z) > NOISY_Z
    line_freq, line_db = _line_noise(clean[live], sfreq, raw.info.get("line_freq"))
    if live.any():
        x = clean[live]
        dev = np.abs(x - np.median(x, axis=1, keepdims=True))
        thr = OUTLIER_MADS * np.maximum(robust_sd(x, axis=1), 1e-15)[:, None]
        outlier_pct = float(100 * (dev > thr).mean())
        max_abs = float(np.abs(x).max() * 1e6)
    else:
        outlier_pct, max_abs = float("nan"), float("nan")
    n_events, out_of_range = _events(raw, event_id, interval)

    def listed(mask):
        return ";".join(n for n, m in zip(names, mask) if m)

    return {"n_channels": len(names), "sfreq": sfreq, "duration_s": raw.n_times / sfreq,
            "n_nan": int(nan.sum()), "nan_channels": listed(nan),
            "n_flat": int(flat.sum()), "flat_channels": listed(flat),
            "n_clipped": int(clipped.sum()), "clipped_channels": listed(clipped),
            "n_noisy": int(noisy.sum()), "noisy_channels": listed(noisy),
            "line_freq": line_freq, "line_noise_db": line_db,
            "amp_outlier_pct": outlier_pct, "max_abs_uv": max_abs,
            "n_events": n_events, "events_out_of_range": out_of_range}


def clean_stretches(data: np.ndarray, n_times: int, *, max_mads: float = CLEAN_MADS) -> np.ndarray:
    """Non-overlapping ``n_times``-sample stretches of each channel that pass the audit's amplitude rules.

    A stretch is kept when it is finite, not flat, and no sample lies beyond
    ``max_mads`` robust SDs (1.4826 MAD) of its channel's median, the same
    robust scale as the outlier rule of :func:`audit_run`, only stricter; its
    SD must also lie within a factor 2 of the channel's median stretch SD, so
    blinks, pops and muscle bursts are left out.

    Parameters
    ----------
    data : array, shape (n_channels, n_samples)
        One recording's channels.
    n_times : int
        Samples per stretch.

    Returns
    -------
    stretches : array, shape (n_stretches, n_times)

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(2, 1000))
    >>> x[0, 150] = 50.0  # a pop in the second stretch of channel 0
    >>> clean_stretches(x, 100).shape
    (19, 100)
    """
    n_seg = data.shape[1] // n_times
    segs = data[:, :n_seg * n_times].reshape(data.shape[0], n_seg, n_times)
    finite = np.isfinite(segs).all(axis=-1)
    x = np.where(np.isfinite(data), data, 0.0)
    med = np.median(x, axis=1)[:, None, None]
    scale = np.maximum(robust_sd(x, axis=1), 1e-15)[:, None, None]
    within = (np.abs(segs - med) <= max_mads * scale).all(axis=-1)
    sd = np.where(finite[..., None], segs, 0.0).std(axis=-1)
    typical = np.median(sd, axis=1, keepdims=True)
    keep = finite & within & (sd > FLAT_V) & (sd <= 2 * typical) & (sd >= typical / 2)
    return segs[keep]


def _line_noise(x, sfreq, declared):
    """Line frequency (declared, or the louder of 50/60 Hz) and its prominence in dB."""
    if x.size == 0:
        return float("nan"), float("nan")
    freqs, psd = welch(x, fs=sfreq, nperseg=min(x.shape[1], int(4 * sfreq)))
    psd = np.median(psd, axis=0)

    def prominence(f0):
        if f0 + 6 >= sfreq / 2:
            return float("nan")
        peak = psd[np.abs(freqs - f0) <= 1].max()
        ring = psd[(np.abs(freqs - f0) > 2) & (np.abs(freqs - f0) <= 6)]
        return float(10 * np.log10(peak / max(np.median(ring), 1e-30)))

    candidates = [declared] if declared else [50.0, 60.0]
    scores = {f: prominence(f) for f in candidates}
    best = max(scores, key=lambda f: -np.inf if np.isnan(scores[f]) else scores[f])
    return float(best), scores[best]


def _events(raw, event_id, interval):
    if not event_id:
        return 0, 0
    stim = mne.pick_types(raw.info, stim=True, exclude=[])
    if len(stim):
        events = mne.find_events(raw, shortest_event=0, verbose=False)
    else:
        wanted = {k: v for k, v in event_id.items() if k in set(raw.annotations.description)}
        if not wanted:
            return 0, 0
        events = mne.events_from_annotations(raw, event_id=wanted, verbose=False)[0]
    codes = [int(c) for v in event_id.values() for c in np.atleast_1d(v)]
    events = events[np.isin(events[:, 2], codes)]
    a, b = interval or (0, 0)
    onset = (events[:, 0] - raw.first_samp) / raw.info["sfreq"]
    out = (onset + a < 0) | (onset + b > raw.n_times / raw.info["sfreq"])
    return int(len(events)), int(out.sum())


def fingerprint(raw) -> np.ndarray:
    """A z-scored 10 Hz trace of the spatial standard deviation (global field power).

    It survives re-referencing, channel order and small noise, and two
    recordings of the same data give the same trace up to a time shift.
    """
    picks = data_channels(raw.info)
    data = np.nan_to_num(raw.get_data(picks=picks))
    gfp = data.std(axis=0)
    block = max(1, int(round(raw.info["sfreq"] / FINGERPRINT_HZ)))
    n = len(gfp) // block
    trace = np.log(gfp[: n * block].reshape(n, block).mean(axis=1) + 1e-15)
    return (trace - trace.mean()) / max(trace.std(), 1e-12)


def _best_correlation(a: np.ndarray, b: np.ndarray, min_overlap: float = 0.5):
    """Highest Pearson correlation of ``a`` and ``b`` over time shifts, and its lag (samples)."""
    n = min(len(a), len(b))
    if n < 20:
        return float("nan"), 0
    xc = fftconvolve(a, b[::-1], mode="full")
    lags = np.arange(-(len(b) - 1), len(a))
    overlap = np.minimum(len(a), lags + len(b)) - np.maximum(0, lags)
    ok = overlap >= min_overlap * n
    lag = int(lags[ok][np.argmax(xc[ok] / overlap[ok])])
    sa = a[max(0, lag): max(0, lag) + overlap[lags == lag][0]]
    sb = b[max(0, -lag): max(0, -lag) + len(sa)]
    return float(np.corrcoef(sa, sb)[0, 1]), lag


def find_duplicates(fingerprints: dict, threshold: float = DUPLICATE_R) -> dict:
    """``{run: (other run, r, lag_s)}`` for runs whose fingerprint matches an earlier one."""
    keys = list(fingerprints)
    found = {}
    for i, ki in enumerate(keys):
        for kj in keys[:i]:
            r, lag = _best_correlation(fingerprints[kj], fingerprints[ki])
            if r >= threshold and (ki not in found or r > found[ki][1]):
                found[ki] = (kj, r, lag / FINGERPRINT_HZ)
    return found


@mne.utils.verbose
def audit_dataset(dataset, subjects=None, *, verbose=None) -> pd.DataFrame:
    """Audit every raw run of ``dataset`` (a MOABB dataset); one row per run.

    Columns: dataset, subject, session, run, the figures of :func:`audit_run`,
    and ``duplicate_of`` / ``duplicate_r`` / ``duplicate_lag_s`` naming an
    earlier run (of any subject) with a near-identical fingerprint.
    """
    subjects = dataset.subject_list if subjects is None else list(subjects)
    rows, prints = [], {}
    for subject in subjects:
        for session, runs in subject_data(dataset, subject).items():
            for run, raw in runs.items():
                name = f"subject {subject} session {session} run {run}"
                row = {"dataset": dataset.code, "subject": subject, "session": session,
                       "run": run}
                row.update(audit_run(raw, dataset.event_id, dataset.interval))
                rows.append(row)
                prints[name] = fingerprint(raw)
    table = pd.DataFrame(rows)
    dup = find_duplicates(prints)
    names = list(prints)
    table["duplicate_of"] = [dup[n][0] if n in dup else "" for n in names]
    table["duplicate_r"] = [dup[n][1] if n in dup else np.nan for n in names]
    table["duplicate_lag_s"] = [dup[n][2] if n in dup else np.nan for n in names]
    return table
