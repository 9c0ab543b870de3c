"""A Markdown report of a live decoding log: the benchmark's timeline and confusion figures, and latency."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..utils import atomic_write

__all__ = ["report_online", "latency_summary"]


def latency_summary(log: pd.DataFrame, step: float | None = None) -> dict:
    """Latency of a decision log, end to end (window's last sample to decision push) and the
    decoder's own (newest sample received to push): p50, p99 and max in ms; decisions, decisions
    later than one ``step`` (s) end to end, stalls and skipped (NaN) windows."""
    decided = log[log["event"] == "decision"] if "event" in log else log.iloc[:0]
    out = {"decisions": int(len(decided))}
    for column, name in (("latency", "latency"), ("decoder_latency", "decoder_latency")):
        ms = decided[column].to_numpy(float) * 1000 if len(decided) else np.array([np.nan])
        out.update({f"{name}_p50_ms": float(np.nanpercentile(ms, 50)),
                    f"{name}_p99_ms": float(np.nanpercentile(ms, 99)), f"{name}_max_ms": float(np.nanmax(ms))})
    ms = decided["latency"].to_numpy(float) * 1000 if len(decided) else np.array([np.nan])
    if step is not None:
        out["late"] = int((ms > step * 1000).sum())
    for kind in ("stall", "nan_window", "lost"):
        out[kind] = int((log["event"] == kind).sum()) if "event" in log else 0
    return out


def report_online(path, output=None, step: float | None = None) -> Path:
    """Write ``report.md`` and its figures for a decision log of ``neurodecode online``.

    Parameters
    ----------
    path : str | Path
        The log (``.parquet``, or the ``.jsonl`` of a decoder that was killed).
    output : str | Path | None
        Folder of the report; default: beside the log, ``<log name>_report``.
    step : float | None
        Decision step (s), to count late decisions.

    Returns
    -------
    report : Path
    """
    import matplotlib.pyplot as plt

    from ..benchmark.figures import confusion_figure, save, timeline_figure
    from .decision_log import read_decisions

    path = Path(path)
    log = read_decisions(path)
    output = Path(output) if output else path.with_name(f"{path.stem}_report")
    figures = output / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    decided = log[log["event"] == "decision"] if len(log) else log
    summary = latency_summary(log, step)
    lines = [f"# Live decoding: {path.name}", "", "| measure | value |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in summary.items()]
    if len(decided):
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.hist(decided["latency"] * 1000, bins=50)
        ax.set_xlabel("latency: window's last sample to decision push (ms)")
        ax.set_ylabel("decisions")
        lines += ["", "## Latency", "", f"![latency]({save(fig, figures / 'latency.png')})"]
        truth = decided.dropna(subset=["truth"]) if "truth" in decided else decided.iloc[:0]
        if len(truth):
            timeline = timeline_figure(truth, "decisions against the markers", figures / "timeline.png")
            confusion = confusion_figure([("live", truth)], "live decisions, normalised per true class",
                                         figures / "confusion.png")
            lines += ["", "## Decisions against the truth (markers)", "", f"![timeline]({timeline})", "",
                      f"![confusion]({confusion})"]
        else:
            lines += ["", "No marker stream was read, so decisions have no truth to compare with."]
    events = log[log["event"] != "decision"] if len(log) else log
    if len(events):
        lines += ["", "## Stream events", "", events.to_markdown(index=False)]
    report = output / "report.md"
    with atomic_write(report) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    return report
