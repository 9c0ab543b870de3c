"""The anomaly audit's files: ``anomalies.csv``, its per-run and per-subject tables, and an HTML page."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..utils import atomic_write

__all__ = ["save_audit", "score_figure", "trial_figure"]


def score_figure(audit):
    """Each detector's score distribution per subject (a box per subject), as a matplotlib figure."""
    import matplotlib.pyplot as plt

    table = audit.table
    subjects = sorted(table["subject"].unique())
    fig, axes = plt.subplots(1, len(audit.detectors), figsize=(3.2 * len(audit.detectors), 3.2), squeeze=False)
    for ax, det in zip(axes[0], audit.detectors):
        ax.boxplot([table.loc[table.subject == s, f"{det}_score"] for s in subjects], tick_labels=subjects)
        flagged = table[f"{det}_flag"].mean() * 100
        ax.set(title=f"{det} ({flagged:.1f} % flagged)", xlabel="subject", ylabel="score")
        if det == "vae":
            ax.set_yscale("log")
    fig.tight_layout()
    return fig


def trial_figure(audit, row: int):
    """One trial's channels (black) with the VAE's reconstruction (red), channel by channel."""
    import matplotlib.pyplot as plt

    w = audit.windows
    x = np.asarray(w.X[row], dtype=np.float64)
    rec = audit.reconstructions[row]
    t = np.arange(x.shape[1]) / w.sfreq
    spacing = 4 * np.median(x.std(axis=1)) or 1.0
    r = audit.table.loc[row]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(x) + 1.5))
    for i in range(len(x)):
        off = -i * spacing
        ax.plot(t, x[i] + off, color="k", lw=0.6)
        ax.plot(t, rec[i] + off, color="tab:red", lw=0.6, alpha=0.8)
    ax.set_yticks([-i * spacing for i in range(len(x))], w.ch_names)
    ax.set(xlabel="time in trial (s)", title=f"rank {r['rank']}: subject {r.subject} session {r.session} "
           f"run {r.run} at {r.onset:.2f} s (label {r.label}), score {r.anomaly_score:.3g}, "
           f"top channel {r.get('top_channel', '')}")
    fig.tight_layout()
    return fig


def save_audit(audit, folder: str | Path) -> dict:
    """Write the audit to ``folder``; returns ``{kind: path}``.

    ``anomalies.csv`` (one row per trial), ``anomalies_per_run.csv``,
    ``anomalies_per_subject.csv`` and ``anomalies.html`` (an
    :class:`mne.Report`: score distributions per subject, then the
    top-ranked trials with their reconstructions). Each file is written
    atomically, so a crash leaves the previous one whole.
    """
    import matplotlib.pyplot as plt
    import mne

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    tables = {"anomalies": audit.table.sort_values("rank"), "anomalies_per_run": audit.per_run(),
              "anomalies_per_subject": audit.per_subject()}
    for name, table in tables.items():
        paths[name] = folder / f"{name}.csv"
        with atomic_write(paths[name]) as tmp:
            table.to_csv(tmp, index=False)
    code = audit.table["dataset"].iloc[0] if len(audit.table) else ""
    report = mne.Report(title=f"Anomaly audit {code}", verbose=False)
    fig = score_figure(audit)
    report.add_figure(fig, title="Score distribution per subject", section="Scores",
                      caption="Cross-fitted scores of every trial; the share each detector flags at its "
                              "conformal threshold is in the titles.")
    plt.close(fig)
    for row in sorted(audit.reconstructions, key=lambda i: audit.table.loc[i, "rank"]):
        fig = trial_figure(audit, row)
        report.add_figure(fig, title=f"Rank {audit.table.loc[row, 'rank']}", section="Top-ranked trials")
        plt.close(fig)
    paths["report"] = folder / "anomalies.html"
    partial = folder / f".anomalies.{os.getpid()}.html"  # mne.Report names its format by the suffix
    try:
        report.save(partial, open_browser=False, overwrite=True, verbose=False)
        os.replace(partial, paths["report"])
    finally:
        partial.unlink(missing_ok=True)
    return paths
