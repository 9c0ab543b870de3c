"""The benchmark report: ``report.md`` with PNG figures, and the same sections in ``report.html``
written with MNE's ``mne.Report``. The generic part (leaderboard, MOABB's score figure per dataset,
failures) is written here; each evaluation type adds its own sections."""
from __future__ import annotations

import html
import os
import warnings
from pathlib import Path

import pandas as pd

from ..utils import write_atomic_bytes
from .figures import file_name, save
from .protocol import ReportContext, Section
from .tables import by_type, comparable

__all__ = ["write_report", "HTML_NAME"]

#: The browser report, beside ``report.md``.
HTML_NAME = "report.html"
_LEADERBOARD_TEXT = ("Offline scores use MOABB's metric for the paradigm (ROC-AUC for two classes, else accuracy); "
                     "pseudo-online scores are nMCC = (MCC + 1) / 2 over the task classes and idle (chance 0.5). "
                     "`nmcc` is nMCC for both: offline over the N task classes on MOABB's folds.")


def _score_plots(results: pd.DataFrame, figures: Path) -> list[tuple]:
    """MOABB's score plot per dataset, one entry per pipeline and evaluation."""
    from ..moabb_api import plotting

    out = []
    for dataset, g in results.groupby("dataset", sort=False):
        data = g.assign(pipeline=g["pipeline"] + " | " + g["evaluation"])
        chance = float(g["chance"].min())
        fig, _ = plotting.score_plot(data[["dataset", "subject", "session", "pipeline", "score"]],
                                     chance_level=chance)
        fig.suptitle(f"{dataset}: scores per subject (offline: MOABB's metric; pseudo-online: nMCC)")
        out.append((f"Scores on {dataset}", save(fig, figures / f"scores_{file_name(dataset)}.png")))
    return out


def _table(df: pd.DataFrame) -> str:
    return df.to_markdown(index=False, floatfmt=".3f") if len(df) else "_none_"


def _environment_lines(results: pd.DataFrame, environments: dict[str, dict]) -> list[str]:
    """One line of the environment the rows ran in; a warning when they ran in several."""
    from ..environment import describe_difference

    used = list(dict.fromkeys(results["environment"].dropna())) if "environment" in results else []
    envs = [environments[d] for d in used if d in environments] or list(environments.values())[-1:]
    if not envs:
        return []
    env = envs[-1]
    packages = ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v)
    commit = env["neurodecode"]["commit"]
    lines = [f"Environment (`environment.json`): Python {env['python']}, neurodecode {env['neurodecode']['version']}"
             + (f" (git {commit[:12]}{'+dirty' if commit.endswith('+dirty') else ''})" if commit else "")
             + f", {packages}; CPU {env['cpu']} ({env['n_cpus']} cores), GPU {env['gpu'] or 'none'}.", ""]
    if len(used) > 1:
        counts = results["environment"].value_counts()
        lines += [f"**These results come from {len(used)} environments**, so they may not be comparable: "
                  + "; ".join(f"`{d}` ({counts[d]} rows)" for d in used) + ". They differ in: "
                  + ("; ".join(describe_difference([environments[d] for d in used if d in environments]))
                     or "(not recorded)") + ". Rerun with `--overwrite` for results from one environment.", ""]
    return lines


def _interpolated_lines(cfg) -> list[str]:
    """Which channels each ``harmonise`` step of the recipe interpolates on each dataset (what a
    pretrained model's channel contract, or a cross-cap template, costs the data)."""
    steps = [s for s in cfg.recipe.steps if s.name == "harmonise"]
    if not steps:
        return []
    from ..datasets import get_dataset
    from ..evaluation.channel_template import dataset_channels

    lines = []
    for step in steps:
        for spec in cfg.datasets:
            names, _ = dataset_channels(get_dataset(spec["name"], **spec["params"]))
            missing = step.interpolated(names)
            lines.append(f"- {spec['code']}: {len(missing)} of {len(step.target)} template channels interpolated"
                         + (f" ({', '.join(missing)})" if missing else ""))
    return lines


def _sections(cfg, tables: dict, output: Path, environments: dict) -> list[Section]:
    """Every section of the report, in order: what was run, the leaderboard, each type's own, failures."""
    figures = output / "figures"
    ok = tables["results"][tables["results"]["error"] == ""]
    board = tables["leaderboard"]
    shown = board.drop(columns=[c for c in board if board[c].isna().all() and c not in ("dataset", "pipeline")])
    datasets = ", ".join(f"{d['code']} (subjects {', '.join(map(str, d['subjects']))})" for d in cfg.datasets)
    intro = [f"Datasets: {datasets}. "
             f"Paradigm: {cfg.paradigm['name']} {cfg.paradigm['params'] or ''}. "
             f"Recipe: {cfg.recipe!r} (digest {cfg.recipe.digest}). random_state: {cfg.random_state}. "
             f"Evaluations: {', '.join(e['label'] + ' (' + e['type'] + ')' for e in cfg.evaluations)}.",
             *[line for line in _environment_lines(tables["results"], environments) if line]]
    sections = [Section("Benchmark", intro),
                Section("Leaderboard", [_LEADERBOARD_TEXT], [("Leaderboard", shown)],
                        _score_plots(comparable(ok), figures) if len(ok) else [])]
    interpolated = _interpolated_lines(cfg)
    if interpolated:
        sections.append(Section("Channels interpolated by harmonise", interpolated))
    context = ReportContext(cfg, tables, output, figures)
    for kind, rows in by_type(ok):
        sections += kind.report(rows, context)
    if len(tables["failures"]):
        sections.append(Section("Failures", [], [("Failures", tables["failures"])]))
    return sections


def _markdown(title: str, sections: list[Section]) -> str:
    lines = [f"# {title}", ""]
    for section in sections:
        lines += [f"## {section.title}", ""]
        for text in section.lines:
            lines += [text, ""]
        for caption, table in section.tables:
            lines += [f"**{caption}**", "", _table(table), ""]
        for caption, path in section.figures:
            lines += [f"### {caption}", "", f"![{caption}]({path})", ""]
    return "\n".join(lines)


def _html(title: str, sections: list[Section], output: Path) -> Path:
    """The same sections as an ``mne.Report``, one section per part, figures embedded."""
    import mne

    report = mne.Report(title=title, verbose="error")
    for section in sections:
        body = "".join(f"<p>{html.escape(text)}</p>" for text in section.lines)
        for caption, table in section.tables:
            shown = table.to_html(index=False, float_format="%.3f", border=0, classes="table table-sm table-striped")
            body += f"<h5>{html.escape(caption)}</h5>" + (f'<div style="overflow-x:auto;font-size:0.85em">{shown}</div>'
                                                           if len(table) else "<p><em>none</em></p>")
        if body:
            report.add_html(body, title=section.title, section=section.title, tags=("text",))
        for caption, path in section.figures:
            report.add_image(output / path, title=caption, section=section.title, tags=("figure",))
    path = output / HTML_NAME
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.html")  # mne.Report.save wants the .html ending
    try:
        report.save(tmp, open_browser=False, overwrite=True, verbose="error")
        os.replace(tmp, path)  # a kill leaves the previous report, never half of one
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_report(cfg, tables: dict, output, environments: dict[str, dict] | None = None) -> Path:
    """Write ``report.md``, ``report.html`` and ``figures/*.png`` from the benchmark tables; return
    the Markdown report's path.

    ``environments`` (digest to :func:`~neurodecode.environment.environment`) describes
    the setups the rows name in their ``environment`` column."""
    output = Path(output)
    (output / "figures").mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sections = _sections(cfg, tables, output, environments or {})
    title = f"Benchmark: {cfg.name}"
    report = output / "report.md"
    write_atomic_bytes(report, _markdown(title, sections))
    _html(title, sections, output)
    return report
