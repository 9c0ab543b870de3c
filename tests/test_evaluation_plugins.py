"""Evaluation types as plugins: a type from a module outside neurodecode, a MOABB BaseEvaluation
subclass, register_evaluation and entry points, the type stored as data, and their bad input."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from neurodecode.benchmark import (
    evaluation_type,
    evaluation_types,
    load_config,
    register_evaluation,
    registry,
    run_benchmark,
)
from neurodecode.cli import main
from neurodecode.errors import ConfigError, UnknownNameError

#: every test here trains a model, runs a benchmark or reads real recordings
pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parent
SYNTH = {"n_subjects": 3, "n_sessions": 1, "n_runs": 2, "n_trials": 12, "sfreq": 128, "snr": 1.5, "random_state": 0}
PARADIGM = {"name": "LeftRightImagery", "params": {"fmin": 8, "fmax": 30, "resample": 128}}


@pytest.fixture(autouse=True)
def clean_registry():
    """Each test starts from the built-in types only, and leaves the registry as it found it."""
    saved, loaded = dict(registry._REGISTRY), dict(registry._LOADED)
    registry._REGISTRY.clear()
    registry._LOADED.update(builtins=False, entry_points=False)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)
    registry._LOADED.update(loaded)


def _config(tmp_path, **changes) -> dict:
    cfg = {"name": "plugins", "datasets": [{"name": "SyntheticMI", "params": SYNTH}], "paradigm": PARADIGM,
           "pipelines": ["CSP+LDA", "TS+LR"], "evaluations": ["within-session"], "random_state": 7,
           "output": str(tmp_path / "out")}
    cfg.update(changes)
    return cfg


def _write(tmp_path, cfg) -> Path:
    path = tmp_path / "bench.yml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _env() -> dict:
    return {**os.environ, "PYTHONWARNINGS": "ignore",
            "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}


def test_the_seven_builtin_types_are_registered_like_any_other():
    types = evaluation_types()
    assert list(types)[:7] == ["within-session", "cross-session", "cross-subject", "pseudo-online", "cross-dataset",
                               "leave-block-out", "federated"]
    assert {t.origin for t in list(types.values())[:7]} == {"built in"}
    assert evaluation_type("pseudo-online").columns == ("itr", "itr_window", "fa_per_min", "detection_rate",
                                                       "latency_mean", "idle_fpr")


def test_a_plugin_type_runs_through_the_cli_killed_and_resumed(tmp_path):
    """A type from a module outside the package, with its own column: checked up front, killed
    mid-run, resumed, then in the leaderboard, report.md and report.html."""
    cfg = _config(tmp_path, datasets=[{"name": "SyntheticMI", "params": {**SYNTH, "n_subjects": 2}}],
                  evaluations=[{"type": "evaluation_plugins:HalfSplit", "train_fraction": 0.5, "pause": 1.5}])
    path = _write(tmp_path, cfg)
    cmd = [sys.executable, "-m", "neurodecode.cli", "benchmark", str(path), "--quiet"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = Path(cfg["output"]) / "store.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (store.exists() and store.read_text().count('"type": "end"') >= 1):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ended = store.read_text().count('"type": "end"')
    assert 1 <= ended < 4, "the kill must land mid-run"
    rerun = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    out = Path(cfg["output"])
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 4 and not results.duplicated(["pipeline", "subject"]).any()
    assert set(results["evaluation_type"]) == {"evaluation_plugins:HalfSplit"}
    assert set(results["evaluation"]) == {"half-split/0.5"}
    assert (results["n_train"] == 24).all()  # 2 runs x 2 classes x 12 trials: the first half
    board = pd.read_csv(out / "leaderboard.csv")
    assert sorted(board["pipeline"]) == ["CSP+LDA", "TS+LR"] and (board["n_train"] == 24).all()
    assert (board["score_mean"] > 0.6).all()  # snr 1.5: well above the chance of ROC-AUC
    assert sorted(p.name for p in out.glob("*.csv")) == ["leaderboard.csv", "results.csv", "stats.csv"]
    report = (out / "report.md").read_text()
    assert "## Half split" in report and "evaluation_plugins:HalfSplit" in report
    html = (out / "report.html").read_text()
    assert "Half split" in html and "half-split/0.5" in html
    clean = run_benchmark({**cfg, "output": str(tmp_path / "clean"),
                           "evaluations": [{"type": "evaluation_plugins:HalfSplit", "train_fraction": 0.5}]},
                          quiet=True, report=False).results
    merged = results.merge(clean, on=["pipeline", "subject"], suffixes=("", "_clean"))
    assert len(merged) == 4 and np.array_equal(merged["score"], merged["score_clean"])


def test_a_moabb_evaluation_subclass_runs_unchanged_and_equals_moabb(tmp_path):
    """A WithinSessionEvaluation with another cv_class, as written for MOABB: the rows are MOABB's
    process() scores, bit-equal, it resumes from the store, and the report has MOABB's score figure."""
    from evaluation_plugins import ShuffleWithinSession
    from moabb.paradigms import LeftRightImagery

    from neurodecode.datasets import get_dataset
    from neurodecode.models import get_pipeline

    kind = "evaluation_plugins:ShuffleWithinSession"
    cfg = _config(tmp_path, pipelines=["TS+LR"], evaluations=[{"type": kind}])
    first = run_benchmark(cfg, quiet=True)
    assert first.n_run == 3 and len(first.failures) == 0
    both = run_benchmark({**cfg, "pipelines": ["TS+LR", "MDM"]}, quiet=True)
    assert both.n_skipped == 3 and both.n_run == 3  # TS+LR resumed from the store
    rows = both.results.sort_values(["pipeline", "subject"])
    assert set(rows["evaluation_type"]) == {kind} and set(rows["evaluation"]) == {kind}
    with tempfile.TemporaryDirectory() as scratch:
        moabb = ShuffleWithinSession(paradigm=LeftRightImagery(**PARADIGM["params"]),
                                     datasets=[get_dataset("SyntheticMI", **SYNTH)], random_state=7,
                                     hdf5_path=scratch, overwrite=True)
        anchor = moabb.process({"MDM": get_pipeline("MDM"), "TS+LR": get_pipeline("TS+LR")})
    anchor = anchor.sort_values(["pipeline", "subject"])
    assert np.array_equal(rows["score"].to_numpy(), anchor["score"].to_numpy())
    assert (Path(cfg["output"]) / "figures" / "scores_SyntheticMI.png").stat().st_size > 10_000
    assert set(both.leaderboard["nmcc"].round(6)) != {np.nan} and both.leaderboard["nmcc"].between(0.5, 1).all()


def test_a_moabb_class_settings_are_checked_against_its_signature(tmp_path):
    cfg = _config(tmp_path, evaluations=[{"type": "evaluation_plugins:ShuffleWithinSession", "n_splitz": 3}])
    with pytest.raises(UnknownNameError, match="'n_splitz': did you mean n_splits"):
        load_config(cfg)


def test_register_evaluation_and_an_entry_point_add_types(tmp_path, monkeypatch):
    from evaluation_plugins import HalfSplit, ShuffleWithinSession

    register_evaluation(HalfSplit, name="halves")
    register_evaluation(HalfSplit, name="halves")  # the same class again: no error
    cfg = load_config(_config(tmp_path, evaluations=[{"type": "halves"}]))
    assert cfg.evaluations == [{"type": "halves", "label": "half-split/0.5", "settings": {"train_fraction": 0.5},
                                "class": "evaluation_plugins:HalfSplit"}]
    with pytest.raises(ConfigError, match="'halves' is registered twice: by evaluation_plugins.HalfSplit and by "
                                          "evaluation_plugins.ShuffleWithinSession"):
        register_evaluation(ShuffleWithinSession, name="halves")
    # an installed package declaring the entry-point group
    dist = tmp_path / "site" / "my_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[neurodecode.evaluations]\nhalf-ep = evaluation_plugins:HalfSplit\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert evaluation_type("half-ep").name == "half-ep"
    import logging

    import mne

    before = mne.utils.logger.level, logging.getLogger("moabb").level
    mne.set_log_level("WARNING")  # the caller's own levels, which a run in this process must keep
    logging.getLogger("moabb").setLevel(logging.INFO)
    try:
        result = run_benchmark(_config(tmp_path, evaluations=[{"type": "half-ep", "train_fraction": 0.75}]),
                               quiet=True, report=False)
        assert (mne.utils.logger.level, logging.getLogger("moabb").level) == (logging.WARNING, logging.INFO)
    finally:
        mne.utils.logger.setLevel(before[0])
        logging.getLogger("moabb").setLevel(before[1])
    assert set(result.results["evaluation_type"]) == {"half-ep"} and (result.results["n_train"] == 36).all()
    # an entry point that takes a built-in name
    (dist / "entry_points.txt").write_text("[neurodecode.evaluations]\nwithin-session = evaluation_plugins:HalfSplit\n")
    registry._LOADED["entry_points"] = False
    with pytest.raises(ConfigError, match="'within-session' is registered twice: by moabb.evaluations.evaluations."
                                          "WithinSessionEvaluation and by evaluation_plugins.HalfSplit"):
        evaluation_types()


@pytest.mark.parametrize("evaluations, message", [
    ([{"type": "no_such_module:Thing"}],
     "evaluation type 'no_such_module:Thing': cannot import no_such_module: ModuleNotFoundError"),
    ([{"type": "evaluation_plugins:HalfSpilt"}], "'HalfSpilt': did you mean HalfSplit"),
    ([{"type": "evaluation_plugins:NotAnEvaluation"}], "is not an evaluation: <class 'evaluation_plugins."
                                                        "NotAnEvaluation'> is neither"),
    ([{"type": "evaluation_plugins:BrokenCheck", "label": "mine"}],
     "evaluation mine (evaluation_plugins:BrokenCheck): its check failed: ZeroDivisionError: division by zero"),
    ([{"type": "evaluation_plugins:HalfSplit", "train_fraction": 1.5}], "train_fraction must be in (0, 1)"),
    ([{"type": "within-session", "label": "a"}, {"type": "evaluation_plugins:HalfSplit", "label": "a"}],
     "evaluation(s) ['a'] given twice; add a distinct 'label' to each"),
    ([{"type": "within-sesion"}], "unknown evaluation 'within-sesion': did you mean within-session"),
])
def test_bad_plugin_input_is_one_line_naming_the_evaluation(tmp_path, capsys, evaluations, message):
    path = _write(tmp_path, _config(tmp_path, evaluations=evaluations))
    code = main(["benchmark", str(path), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "out" / "store.jsonl").exists()  # refused before any work


def test_a_custom_label_gets_every_pseudo_online_column_table_and_figure(tmp_path):
    """The label bug: a pseudo-online evaluation is known by its type, not by a label prefix."""
    cfg = _config(tmp_path, pipelines=["TS+LR"], datasets=[{"name": "SyntheticMI", "params": {**SYNTH,
                                                                                              "n_subjects": 2}}],
                  evaluations=[{"type": "within-session", "label": "calibrated"},
                               {"type": "pseudo-online", "label": "my-replay", "window": 1.0, "step": 0.25}])
    result = run_benchmark(cfg, quiet=True)
    out = Path(cfg["output"])
    online = result.leaderboard[result.leaderboard["evaluation"] == "my-replay"].iloc[0]
    for column in ("nmcc", "itr", "itr_window", "fa_per_min", "detection_rate", "latency_mean", "idle_fpr"):
        assert np.isfinite(online[column]), column
    assert online["nmcc"] == online["score_mean"]
    paired = pd.read_csv(out / "offline_vs_pseudoonline.csv")
    assert len(paired) == 2 and set(paired["evaluation"]) == {"my-replay"}
    assert set(paired["offline_evaluation"]) == {"calibrated"} and set(paired["split"]) == {"within-session"}
    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert figures == ["confusion_SyntheticMI_my-replay.png", "detector_SyntheticMI_my-replay.png",
                       "paired_within-session_TS+LR.png", "scores_SyntheticMI.png", "timeline.png"]
    assert not (out / "transfer.csv").exists()  # no cross-dataset evaluation, no transfer table
