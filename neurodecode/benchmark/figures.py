"""The report's figures that more than one place draws: saving, decisions against the truth,
confusion matrices, score against shots, and accuracy and ITR against data length."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..evaluation.decision_files import safe_name
from ..utils import atomic_write

__all__ = ["save", "file_name", "timeline_figure", "confusion_figure", "shots_figure", "data_length_figure",
           "federated_figure"]


def save(fig, path: Path) -> str:
    """Write ``fig`` as a PNG (atomically) and close it; return its path relative to the output folder."""
    import matplotlib.pyplot as plt

    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return f"figures/{path.name}"


def file_name(name: str) -> str:
    """``name`` as one file-name part."""
    return safe_name(name).replace("/", "_")


def timeline_figure(run: pd.DataFrame, title: str, path: Path, seconds: float = 90.0) -> str:
    """Decisions (dots) against the truth (steps) over the first ``seconds`` of one run's
    decisions (columns ``time`` in s, ``truth``, ``prediction``); returns the figure's relative path."""
    import matplotlib.pyplot as plt

    run = run[run["time"] <= run["time"].min() + seconds]
    classes = ["idle"] + sorted(set(run["truth"]) - {"idle"} | set(run["prediction"]) - {"idle"})
    code = {c: i for i, c in enumerate(classes)}
    fig, ax = plt.subplots(figsize=(11, 3))
    ax.step(run["time"], run["truth"].map(code), where="post", lw=2.5, alpha=0.5, label="truth")
    ax.plot(run["time"], run["prediction"].map(code), ".", ms=3, label="decision")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("time in the run (s)")
    ax.set_title(title)
    ax.legend(loc="upper right")
    return save(fig, path)


def confusion_figure(tables: list[tuple[str, pd.DataFrame]], title: str, path: Path) -> str:
    """One confusion matrix (rows: truth, normalised) per ``(name, decisions)``; returns the relative path."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, axes = plt.subplots(1, len(tables), figsize=(4.2 * len(tables), 4), squeeze=False)
    for ax, (name, d) in zip(axes[0], tables):
        labels = sorted(set(d["truth"]) | set(d["prediction"]))
        ConfusionMatrixDisplay.from_predictions(d["truth"], d["prediction"], labels=labels, normalize="true",
                                                ax=ax, colorbar=False, values_format=".2f")
        ax.set_title(name)
    fig.suptitle(title)
    return save(fig, path)


def shots_figure(rows: pd.DataFrame, title: str, path: Path) -> str:
    """Score against calibration trials per class, per pipeline: pretrained then adapted (solid)
    and trained from scratch on the same trials (dashed); mean and standard error over subjects."""
    import matplotlib.pyplot as plt

    subj = rows.groupby(["pipeline", "training", "shots", "subject"])["score"].mean().reset_index()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, (pipeline, g) in enumerate(subj.groupby("pipeline", sort=False)):
        for training, style in (("transfer", "-o"), ("scratch", "--s")):
            curve = g[g["training"] == training].groupby("shots")["score"].agg(["mean", "sem"]).reset_index()
            if curve.empty:
                continue
            kind = "pretrained + shots" if training == "transfer" else "scratch"
            ax.errorbar(curve["shots"], curve["mean"], yerr=curve["sem"].fillna(0), fmt=style, color=f"C{i}",
                        capsize=3, label=f"{pipeline} ({kind})")
    ax.axhline(float(rows["chance"].mean()), color="grey", lw=1, ls=":", label="chance")
    ax.set_xlabel("calibration trials per class (shots)")
    ax.set_ylabel("score on the target's test trials")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    return save(fig, path)


def data_length_figure(rows: pd.DataFrame, title: str, path: Path) -> str:
    """The SSVEP speller figure: accuracy (left) and ITR in bits/min (right) against data length (s),
    one colour per pipeline, one line style per training strategy; mean and standard error over
    subjects."""
    import matplotlib.pyplot as plt

    styles = {"subject": "-o", "global": ":^", "two-stage": "--s"}
    subj = rows.groupby(["pipeline", "training", "data_length", "subject"])[["accuracy", "itr"]].mean().reset_index()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, (pipeline, g) in enumerate(subj.groupby("pipeline", sort=False)):
        for training, style in styles.items():
            curve = g[g["training"] == training].groupby("data_length")[["accuracy", "itr"]].agg(["mean", "sem"])
            if curve.empty:
                continue
            for ax, column in zip(axes, ("accuracy", "itr")):
                ax.errorbar(curve.index, curve[(column, "mean")], yerr=curve[(column, "sem")].fillna(0), fmt=style,
                            color=f"C{i}", capsize=3, label=f"{pipeline} ({training})")
    axes[0].axhline(1.0 / float(rows["n_classes"].iloc[0]), color="grey", lw=1, ls=":", label="chance")
    axes[0].set_ylabel("accuracy")
    axes[1].set_ylabel("ITR (bits/min)")
    for ax in axes:
        ax.set_xlabel("data length (s)")
    axes[1].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return save(fig, path)


def federated_figure(rows: pd.DataFrame, curves: pd.DataFrame, title: str, path: Path) -> str:
    """Score by training mode per client (left: mean and standard error over its test subjects, chance
    dotted) and score against round (right: one colour per client, one line style per mode)."""
    import matplotlib.pyplot as plt

    modes = [m for m in ("local", "federated", "centralized") if m in set(rows["training"])]
    styles = {"local": ":", "federated": "-", "centralized": "--"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    clients = list(dict.fromkeys(rows["dataset"]))
    width = 0.8 / max(len(modes), 1)
    for j, mode in enumerate(modes):
        g = rows[rows["training"] == mode].groupby("dataset")["score"].agg(["mean", "sem"]).reindex(clients)
        axes[0].bar([i + j * width for i in range(len(clients))], g["mean"], width, yerr=g["sem"].fillna(0),
                    capsize=3, label=mode, color=f"C{j}")
    axes[0].axhline(float(rows["chance"].mean()), color="grey", lw=1, ls=":", label="chance")
    axes[0].set_xticks([i + width * (len(modes) - 1) / 2 for i in range(len(clients))], clients, fontsize=8)
    axes[0].set_ylabel("score")
    axes[0].legend(fontsize=7)
    for i, client in enumerate(clients):
        for mode in modes:
            c = curves[(curves["client"] == client) & (curves["training"] == mode)] if len(curves) else curves
            if len(c):
                axes[1].plot(c["round"], c["score"], styles[mode], color=f"C{i}", label=f"{client} ({mode})")
    axes[1].set_xlabel("round")
    axes[1].set_ylabel("score (every test trial of the client)")
    axes[1].legend(fontsize=6)
    fig.suptitle(title, fontsize=10)
    return save(fig, path)
