"""The benchmark runner: MOABB equality, resumable store, kill -9, Dask, error rows, bad input."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from browser import CHROMIUM, inspect_page

from neurodecode.benchmark import ResultStore, load_config, run_benchmark
from neurodecode.cli import main
from neurodecode.errors import ConfigError, UnknownNameError

#: every test here trains a model, runs a benchmark or reads real recordings
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SYNTH = {"n_subjects": 3, "n_sessions": 1, "n_runs": 2, "n_trials": 12, "sfreq": 128, "snr": 1.5, "random_state": 0}
PARADIGM = {"name": "LeftRightImagery", "params": {"fmin": 8, "fmax": 30, "resample": 128}}


def _config(tmp_path, **changes) -> dict:
    cfg = {"name": "small", "datasets": [{"name": "SyntheticMI", "params": SYNTH}], "paradigm": PARADIGM,
           "pipelines": ["CSP+LDA", "TS+LR"], "evaluations": ["within-session"], "random_state": 7,
           "output": str(tmp_path / "out")}
    cfg.update(changes)
    return cfg


def _write(tmp_path, cfg, name="bench.yml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def test_offline_within_session_equals_moabb(tmp_path):
    from moabb.evaluations import WithinSessionEvaluation
    from moabb.paradigms import LeftRightImagery

    from neurodecode.datasets import SyntheticMI
    from neurodecode.models import get_pipeline

    hard = {**SYNTH, "n_subjects": 2, "snr": 0.5}  # scores below 1, so equality means something
    result = run_benchmark(_config(tmp_path, datasets=[{"name": "SyntheticMI", "params": hard}]), quiet=True,
                           report=False)
    ours = result.results.set_index(["pipeline", "subject"])["score"]
    assert len(ours) == 4 and (result.results["error"] == "").all()
    pipelines = {"CSP+LDA": get_pipeline("CSP+LDA"), "TS+LR": get_pipeline("TS+LR")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = WithinSessionEvaluation(paradigm=LeftRightImagery(fmin=8, fmax=30, resample=128),
                                     datasets=[SyntheticMI(**hard)], random_state=7,
                                     hdf5_path=str(tmp_path / "moabb"), overwrite=True)
        stored = ev.process(pipelines)  # MOABB on both subjects at once; ours ran one task per subject
    stored = stored.astype({"subject": int}).set_index(["pipeline", "subject"])["score"].reindex(ours.index)
    assert np.array_equal(ours.to_numpy(), stored.to_numpy())  # bit-equal: the scores MOABB prints
    assert (ours < 1).all() and ours.nunique() == 4 and ours.mean() > 0.5
    board = result.leaderboard
    assert board[["pipeline", "n_subjects", "chance"]].values.tolist() == [
        [board["pipeline"].iloc[0], 2, 0.5], [board["pipeline"].iloc[1], 2, 0.5]]
    assert board["rank"].tolist() == [1, 2] and board["score_mean"].is_monotonic_decreasing
    assert np.allclose(board["score_minus_chance"], board["score_mean"] - 0.5)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """Offline and pseudo-online on 3 synthetic subjects, with the report."""
    tmp = tmp_path_factory.mktemp("full")
    cfg = _config(tmp, evaluations=["within-session", {"type": "pseudo-online", "window": 1.0, "step": 0.25}])
    return cfg, run_benchmark(cfg, quiet=True)


def test_outputs_leaderboard_pairs_stats_and_report(full_run):
    cfg, result = full_run
    out = Path(cfg["output"])
    # no cross-dataset evaluation, so no transfer table
    assert sorted(p.name for p in out.glob("*.csv")) == ["leaderboard.csv", "offline_vs_pseudoonline.csv",
                                                          "results.csv", "stats.csv"]
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 3 * 2 + 3 * 2 * 2  # offline: one row per session; pseudo-online: per run
    assert {"score", "time", "samples", "channels", "n_sessions", "subject", "session", "dataset", "pipeline",
            "evaluation", "pipeline_digest", "recipe_digest", "itr", "itr_window", "fa_per_min",
            "detection_rate", "latency_mean", "idle_fpr", "nmcc", "task_period"} <= set(results)
    offline = results[results["evaluation"] == "offline/within-session"]
    assert offline["nmcc"].between(0.5, 1).all() and offline["task_period"].isna().all()
    assert set(results.loc[results["evaluation"] != "offline/within-session", "task_period"]) == {"annotations"}
    board = pd.read_csv(out / "leaderboard.csv")
    assert len(board) == 4 and set(board["n_subjects"]) == {3}
    online = board[board["evaluation"] == "pseudo-online/within-session"]
    assert (online["score_mean"] > 0.55).all() and np.allclose(online["nmcc"], online["score_mean"])
    assert online["itr"].gt(0).all() and online["latency_mean"].between(0, 3).all()
    assert online["detection_rate"].between(0.5, 1).all() and online["fa_per_min"].ge(0).all()
    assert board.loc[board["evaluation"] == "offline/within-session", "itr"].isna().all()
    paired = pd.read_csv(out / "offline_vs_pseudoonline.csv")
    assert len(paired) == 6 and set(paired["test"]) == {"permutation"}
    assert np.allclose(paired["difference"], paired["pseudo_online_nmcc"] - paired["offline_nmcc"])
    subject = results.groupby(["evaluation", "pipeline", "subject"])[["score", "nmcc"]].mean()
    first = paired.iloc[0]
    assert np.isclose(first["offline_nmcc"], subject.loc[("offline/within-session", first["pipeline"],
                                                          first["subject"]), "nmcc"])
    assert np.isclose(first["pseudo_online_nmcc"], subject.loc[("pseudo-online/within-session", first["pipeline"],
                                                                first["subject"]), "score"])
    assert paired["p_offline_higher"].between(0, 1).all()
    stats = pd.read_csv(out / "stats.csv")
    assert set(stats["dataset"]) == {"SyntheticMI", "meta-analysis"}
    assert len(stats) == 2 * 2 * 2  # 2 evaluations x 2 ordered pairs x (dataset + meta-analysis)
    report = (out / "report.md").read_text()
    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert "timeline.png" in figures and "scores_SyntheticMI.png" in figures
    assert sum(f.startswith("paired_") for f in figures) == 2 and sum(f.startswith("confusion_") for f in figures) == 1
    assert all(f"figures/{f}" in report for f in figures) and "## Leaderboard" in report
    assert "## Pseudo-online" in report and "## Cross-dataset transfer" not in report


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_html_report_renders_in_headless_chromium(full_run):
    """report.html, written with mne.Report, as a browser shows it: every figure decodes, no console
    error, one section per part (leaderboard, then the pseudo-online type's)."""
    cfg, _ = full_run
    out = Path(cfg["output"])
    page = inspect_page(out / "report.html")
    assert page["errors"] == []
    figures = list((out / "figures").glob("*.png"))
    assert len(page["images"]) >= len(figures) and all(done and width > 100 for done, width in page["images"])
    assert page["title"] == "Benchmark: small"
    text = page["text"]
    assert text.index("Leaderboard") < text.index("Pseudo-online") and "pseudo-online/within-session" in text
    assert "fa_per_min" in text and "Offline against pseudo-online" in text


def test_rerun_skips_done_tasks_and_overwrite_recomputes(full_run):
    cfg, first = full_run
    again = run_benchmark(cfg, quiet=True, report=False)
    assert (again.n_run, again.n_skipped) == (0, 12)
    pd.testing.assert_frame_equal(again.results, first.results)
    redo = run_benchmark({**cfg, "pipelines": ["CSP+LDA"]}, quiet=True, report=False, overwrite=True)
    assert (redo.n_run, redo.n_skipped) == (6, 0) and set(redo.results["pipeline"]) == {"CSP+LDA"}
    store = [json.loads(line) for line in (Path(cfg["output"]) / "store.jsonl").read_text().splitlines()]
    assert sum(r["type"] == "end" for r in store) == 18  # appended, never rewritten
    keys = ["evaluation", "pipeline", "subject", "session", "run"]
    assert not redo.results.duplicated(keys).any()
    pd.testing.assert_series_equal(redo.results["score"], first.results.query("pipeline == 'CSP+LDA'")["score"]
                                   .reset_index(drop=True))


def test_store_ignores_unfinished_attempts_and_cut_lines(tmp_path):
    store = ResultStore(tmp_path)
    store.add("a", [{"subject": 1, "score": 0.7}], "ok", 1.0)
    with open(store.path, "a") as f:  # a task killed after its rows, before its end record ...
        f.write(json.dumps({"type": "row", "task": "b", "attempt": "x", "row": {"subject": 2, "score": 0.1}}) + "\n")
        f.write('{"type": "row", "task": "b", "attem')  # ... and a line cut by the kill
    assert store.done_tasks() == {"a"} and store.rows()["score"].tolist() == [0.7]
    store.add("b", [{"subject": 2, "score": 0.8}], "ok", 1.0)
    lines = store.path.read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # the cut line was removed before appending
    assert sorted(store.rows()["score"]) == [0.7, 0.8] and store.done_tasks() == {"a", "b"}
    store.add("b", [{"subject": 2, "score": float("nan"), "error": "ValueError: x"}], "error", 1.0)
    assert store.done_tasks() == {"a"}  # a failed attempt is retried by the next run


def test_kill_9_mid_run_then_rerun_completes_without_loss_or_duplicates(tmp_path):
    cfg = _config(tmp_path, pipelines=["CSP+LDA", "TS+LR", "MDM"],
                  datasets=[{"name": "SyntheticMI", "params": {**SYNTH, "n_subjects": 4}}])
    path = _write(tmp_path, cfg)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "neurodecode.cli", "benchmark", str(path), "--quiet"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = Path(cfg["output"]) / "store.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline:
        if store.exists() and store.read_text().count('"type": "end"') >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ended = store.read_text().count('"type": "end"')
    assert 3 <= ended < 12, "the kill must land mid-run"
    assert not (Path(cfg["output"]) / "leaderboard.csv").exists()
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    results = pd.read_csv(Path(cfg["output"]) / "results.csv")
    assert len(results) == 12 and not results.duplicated(["pipeline", "subject", "session"]).any()
    clean = run_benchmark({**cfg, "output": str(tmp_path / "clean")}, quiet=True, report=False).results
    merged = results.merge(clean, on=["pipeline", "subject"], suffixes=("", "_clean"))
    assert len(merged) == 12 and np.array_equal(merged["score"], merged["score_clean"])


@pytest.mark.dask
def test_dask_two_workers_give_the_local_rows(tmp_path):
    cfg = _config(tmp_path, evaluations=["within-session", {"type": "pseudo-online", "window": 1.0,
                                                            "step": 0.5}])
    local = run_benchmark({**cfg, "output": str(tmp_path / "local")}, quiet=True, report=False).results
    dask = run_benchmark({**cfg, "output": str(tmp_path / "dask")}, engine="dask", n_jobs=2, quiet=True,
                         report=False).results
    keys = ["evaluation", "pipeline", "subject", "session", "run"]
    assert len(local) == 6 + 12
    assert local[keys].equals(dask[keys])
    np.testing.assert_allclose(dask["score"], local["score"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(dask["itr"], local["itr"], rtol=0, atol=1e-9)


def test_crashing_pipeline_is_an_error_row_and_the_run_goes_on(tmp_path, capsys):
    cfg = _config(tmp_path, pipelines=["CSP+LDA", {"name": "TS+LR", "params": {"estimator": "bogus"}}])
    code = main(["benchmark", str(_write(tmp_path, cfg)), "--quiet"])
    assert code == 1
    results = pd.read_csv(Path(cfg["output"]) / "results.csv", keep_default_na=False)
    failed = results[results["error"] != ""]
    assert sorted(failed["subject"]) == [1, 2, 3] and set(failed["pipeline"]) == {"TS+LR"}
    assert failed["error"].str.contains("bogus").all()
    ok = results[results["error"] == ""]
    assert set(ok["pipeline"]) == {"CSP+LDA"} and len(ok) == 3
    out = capsys.readouterr()
    assert "3 failed" in out.out
    # --quiet hides progress, never failures: the summary names each failed task
    assert "3 task(s) failed:" in out.err and out.err.count("TS+LR offline/within-session: ") == 3
    assert "Empty DataFrame" not in out.out
    board = pd.read_csv(Path(cfg["output"]) / "leaderboard.csv")
    assert board["pipeline"].tolist() == ["CSP+LDA"]


def test_bad_yaml_names_file_and_line(tmp_path, capsys):
    path = tmp_path / "broken.yml"
    path.write_text("name: x\ndatasets:\n  - SyntheticMI\npipelines: [CSP+LDA\n")
    with pytest.raises(ConfigError, match=r"broken\.yml line 5: invalid YAML"):
        load_config(path)
    assert main(["benchmark", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "broken.yml line 5" in err and "Traceback" not in err


@pytest.mark.parametrize("change, message", [
    ({"datasets": ["Kalunga2061"]}, "unknown dataset 'Kalunga2061': did you mean Kalunga2016"),
    ({"pipelines": ["TS+LRR"]}, "unknown pipeline 'TS+LRR': did you mean TS+LR"),
    ({"pipelines": ["ShallowConvNett"]}, "did you mean ShallowConvNet"),
    ({"evaluations": ["within-sesion"]}, "unknown evaluation 'within-sesion': did you mean within-session"),
    ({"paradigm": "LeftRightImagry"}, "unknown paradigm 'LeftRightImagry': did you mean LeftRightImagery"),
    ({"pipelnes": ["CSP+LDA"]}, "did you mean pipelines"),
    ({"evaluations": [{"type": "pseudo-online", "windw": 1}]}, "did you mean window"),
    ({"evaluations": [{"type": "pseudo-online", "step": 0}]}, "step must be a positive number of seconds"),
    ({"seed": 1}, "unknown key in benchmark: 'seed': did you mean random_state\\? \\(seed was renamed"),
    ({"datasets": [{"name": "SyntheticMI", "params": {"seed": 1}}]}, "'seed': did you mean random_state"),
])
def test_unknown_names_list_close_matches(tmp_path, change, message):
    with pytest.raises((UnknownNameError, ConfigError), match=message.replace("+", r"\+")):
        run_benchmark(_config(tmp_path, **change), quiet=True)


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cfg = _config(tmp_path, output=str(blocker / "out"))
    assert main(["benchmark", str(_write(tmp_path, cfg))]) == 2
    err = capsys.readouterr().err
    assert "output folder is not writable" in err and str(blocker / "out") in err
    assert main(["benchmark", str(tmp_path / "missing.yml")]) == 2
    assert "no such benchmark file" in capsys.readouterr().err


def test_cross_subject_one_held_out_subject_equals_moabb_process():
    """MOABB's public cv_class=PredefinedSplit route scores one held-out subject exactly as
    MOABB's own leave-one-subject-out does for that subject."""
    from neurodecode.datasets import get_dataset
    from neurodecode.moabb_api import make_paradigm, offline_rows
    from neurodecode.models import get_pipeline

    kw = {"n_subjects": 3, "n_sessions": 1, "snr": 0.3, "sfreq": 128, "random_state": 1}
    paradigm = make_paradigm("LeftRightImagery")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = offline_rows("cross-subject", paradigm, get_dataset("SyntheticMI", **kw),
                            {"CSP+LDA": get_pipeline("CSP+LDA")}, random_state=3)
        one = offline_rows("cross-subject", paradigm, get_dataset("SyntheticMI", **kw),
                           {"CSP+LDA": get_pipeline("CSP+LDA")}, random_state=3, subject=2)
    assert [r["subject"] for r in one] == ["2"]
    [same] = [r for r in full if r["subject"] == "2"]
    assert one[0]["score"] == same["score"] and len({r["score"] for r in full}) == 3


def test_offline_nmcc_is_the_mean_fold_nmcc_on_moabbs_own_folds():
    """Offline rows carry nMCC over the task classes from the very folds of MOABB's score."""
    from moabb.evaluations.splitters import WithinSessionSplitter
    from sklearn.base import clone
    from sklearn.metrics import make_scorer, matthews_corrcoef, roc_auc_score

    from neurodecode.datasets import get_dataset
    from neurodecode.evaluation.metrics import nmcc
    from neurodecode.moabb_api import make_paradigm, offline_rows
    from neurodecode.models import get_pipeline

    kw = {"n_subjects": 1, "n_sessions": 1, "snr": 0.4, "sfreq": 128, "random_state": 2}
    paradigm = make_paradigm("LeftRightImagery")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        [row] = offline_rows("within-session", paradigm, get_dataset("SyntheticMI", **kw),
                             {"CSP+LDA": get_pipeline("CSP+LDA")}, random_state=5,
                             extra_scores={"nmcc": make_scorer(nmcc)})
        X, y, meta = paradigm.get_data(get_dataset("SyntheticMI", **kw), [1])
    folds = WithinSessionSplitter(n_folds=5, shuffle=True, random_state=5).split(y, meta)
    nmccs, aucs = [], []
    for train, test in folds:
        clf = clone(get_pipeline("CSP+LDA")).fit(X[train], y[train])
        nmccs.append((matthews_corrcoef(y[test], clf.predict(X[test])) + 1) / 2)
        aucs.append(roc_auc_score(y[test] == clf.classes_[1], clf.decision_function(X[test])))
    assert row["score"] == pytest.approx(np.mean(aucs), abs=1e-7)  # the same folds as MOABB's score
    assert row["nmcc"] == pytest.approx(np.mean(nmccs), abs=1e-7)
    assert 0.5 < row["nmcc"] < 1


def test_workers_write_nothing_the_driver_writes_their_decisions(tmp_path):
    """A worker returns rows and decisions; only the driver writes into the output folder."""
    from neurodecode.benchmark.tasks import Unit, build_tasks, run_unit

    cfg = load_config(_config(tmp_path, pipelines=["TS+LR"],
                              evaluations=[{"type": "pseudo-online", "window": 1.0, "step": 0.25}]))
    task = build_tasks(cfg)[0]
    [(_, (rows, status, message, files), _)] = run_unit(Unit("one", (task,)))
    assert status == "ok" and len(rows) == 2 and not (tmp_path / "out").exists()
    assert sorted(files) == [f"predictions/pseudo-online_within-session/SyntheticMI/sub-1_ses-0_run-{r}_TS+LR.parquet"
                             for r in (0, 1)]
    assert all({"truth", "prediction", "p_idle"} <= set(t.columns) for t in files.values())
    run_benchmark(cfg, quiet=True, report=False)
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.parquet"))
    assert [w for w in written if "sub-1_" in w] == sorted(files)


def test_each_subject_is_loaded_once_for_all_pipelines(tmp_path, monkeypatch):
    """A unit is (dataset, subject, evaluation): one load of the subject serves every pipeline,
    and the store still keeps each pipeline's rows under its own task."""
    from neurodecode.datasets.generated import GeneratedDataset
    from neurodecode.preprocessing import PreprocessedDataset

    source_loads, replay_loads = [], []
    read_source, read_runs = GeneratedDataset._get_single_subject_data, PreprocessedDataset.runs
    monkeypatch.setattr(GeneratedDataset, "_get_single_subject_data",
                        lambda self, s: source_loads.append(s) or read_source(self, s))
    monkeypatch.setattr(PreprocessedDataset, "runs",
                        lambda self, s, verbose=None: replay_loads.append(s) or read_runs(self, s))
    cfg = _config(tmp_path, pipelines=["CSP+LDA", "TS+LR", "MDM"],
                  evaluations=["within-session", {"type": "pseudo-online", "window": 1.0, "step": 0.5}])
    result = run_benchmark(cfg, quiet=True, report=False)
    assert result.n_run == 2 * 3 * 3 and len(result.failures) == 0
    # offline: MOABB's process() per pipeline, on one load; pseudo-online: one read of the runs
    assert sorted(source_loads) == [1, 2, 3] and sorted(replay_loads) == [1, 2, 3]
    store = ResultStore(cfg["output"])
    assert len(store.done_tasks()) == 18  # stored pipeline by pipeline
    source_loads.clear()
    cross = run_benchmark({**cfg, "evaluations": ["cross-subject"], "output": str(tmp_path / "cross")},
                          quiet=True, report=False)
    assert cross.n_run == 9 and len(cross.failures) == 0
    assert sorted(source_loads) == [1, 1, 1, 2, 2, 2, 3, 3, 3]  # once per held-out subject, not per pipeline
    # the same scores as one task at a time (MOABB's process() on each pipeline alone)
    alone = run_benchmark({**cfg, "pipelines": ["MDM"], "evaluations": ["within-session"],
                           "output": str(tmp_path / "alone")}, quiet=True, report=False).results
    together = result.results[(result.results["pipeline"] == "MDM")
                              & (result.results["evaluation"] == "offline/within-session")]
    assert np.array_equal(alone["score"].to_numpy(), together["score"].to_numpy())


def _dying_pipeline(tmp_path) -> str:
    """TS+LR with a step that kills its worker the first time it is fitted."""
    path = tmp_path / "dying.yml"
    path.write_text(yaml.safe_dump({
        "name": "TS+DieOnce+LR", "paradigms": ["LeftRightImagery"],
        "pipeline": [{"name": "Covariances", "from": "pyriemann.estimation", "parameters": {"estimator": "oas"}},
                     {"name": "TangentSpace", "from": "pyriemann.tangentspace"},
                     {"name": "DieOnce", "from": "dying_step", "parameters": {"marker": str(tmp_path / "died")}},
                     {"name": "LogisticRegression", "from": "sklearn.linear_model"}]}))
    return str(path)


def _assert_one_clean_attempt_each(output: Path, n_tasks: int) -> None:
    ends = [json.loads(line) for line in (output / "store.jsonl").read_text().splitlines()]
    ends = [e for e in ends if e["type"] == "end"]
    assert len(ends) == n_tasks and {e["status"] for e in ends} == {"ok"}  # 0 lost, 0 duplicated


@pytest.mark.parametrize("engine", ["local", pytest.param("dask", marks=pytest.mark.dask)])
def test_a_killed_worker_costs_only_a_rerun_of_its_unit(tmp_path, engine):
    cfg = _config(tmp_path, pipelines=["CSP+LDA", _dying_pipeline(tmp_path)])
    result = run_benchmark(cfg, engine=engine, n_jobs=2, quiet=True, report=False)
    assert (tmp_path / "died").exists(), "a worker must have been killed"
    assert int((tmp_path / "died").read_text()) != os.getpid()
    assert len(result.failures) == 0 and len(result.results) == 6
    _assert_one_clean_attempt_each(Path(cfg["output"]), 6)
    local = run_benchmark({**cfg, "output": str(tmp_path / "in-process")}, quiet=True, report=False).results
    assert np.array_equal(result.results.sort_values(["pipeline", "subject"])["score"].to_numpy(),
                          local.sort_values(["pipeline", "subject"])["score"].to_numpy())


@pytest.mark.dask
def test_workers_in_another_folder_write_nothing_there(tmp_path, monkeypatch):
    """LocalCluster workers started in another working directory: the outputs, relative to the
    driver's folder, are all written by the driver."""
    from distributed import LocalCluster

    workers_dir, driver_dir = tmp_path / "workers", tmp_path / "driver"
    workers_dir.mkdir()
    driver_dir.mkdir()
    cfg = _config(tmp_path, pipelines=["TS+LR"], output="out",
                  evaluations=[{"type": "pseudo-online", "window": 1.0, "step": 0.5}])
    monkeypatch.chdir(workers_dir)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        monkeypatch.chdir(driver_dir)
        assert set(cluster.scheduler.workers) and all(
            cwd == str(workers_dir) for cwd in cluster.get_client().run(os.getcwd).values())
        result = run_benchmark(cfg, engine="dask", scheduler=cluster.scheduler_address, quiet=True, report=False)
        assert len(cluster.scheduler.tasks) == 0  # the client released its futures
    assert len(result.results) == 6 and len(result.failures) == 0
    assert len(list((driver_dir / "out" / "predictions").rglob("*.parquet"))) == 6
    assert [p.name for p in workers_dir.iterdir() if p.name != "dask-scratch-space"] == []


@pytest.mark.dask
def test_external_dask_scheduler_and_workers_with_a_kill(tmp_path):
    """`dask scheduler` and `dask worker` processes on loopback; one worker is killed mid-unit."""
    cfg = _config(tmp_path, pipelines=["CSP+LDA", _dying_pipeline(tmp_path)])
    workers_dir = tmp_path / "workers"
    workers_dir.mkdir()
    info = tmp_path / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
           "PYTHONWARNINGS": "ignore"}
    dask_cli = [str(Path(sys.executable).parent / "dask")]
    procs = [subprocess.Popen([*dask_cli, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(info)], cwd=workers_dir, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.time() + 60
        while not info.exists() and time.time() < deadline:
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        procs.append(subprocess.Popen([*dask_cli, "worker", "--scheduler-file", str(info), "--nworkers", "2",
                                       "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
                                      cwd=workers_dir, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        result = run_benchmark(cfg, engine="dask", scheduler=address, quiet=True, report=False)
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert (tmp_path / "died").exists()
    assert len(result.failures) == 0 and len(result.results) == 6
    _assert_one_clean_attempt_each(Path(cfg["output"]), 6)


def test_repeated_kills_leave_the_store_of_a_clean_run():
    """benchmarks/kill_at_scale.py, small: 3 SIGKILLs of driver and workers at random moments."""
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "kill_at_scale.py"), "--subjects", "5",
                           "--kills", "3", "--random-state", "1"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("kill ") == 3
    assert "lost tasks 0, duplicated rows 0, tasks stored complete twice 0, scores bit-identical: True" \
        in proc.stdout
