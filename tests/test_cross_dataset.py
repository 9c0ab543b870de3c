"""Cross-dataset evaluation: channel template, rates, few-shot calibration, transfer effect; FASTER."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from neurodecode.datasets import SyntheticMI
from neurodecode.errors import ConfigError, UnknownNameError
from neurodecode.evaluation import CrossDatasetEvaluation
from neurodecode.evaluation import cross_dataset as xd
from neurodecode.moabb_api import make_paradigm
from neurodecode.models import get_pipeline

#: every test here trains a model, runs a benchmark or reads real recordings
pytestmark = pytest.mark.slow

#: two caps and two rates, as BNCI2014-001 (22 ch, 250 Hz) and PhysionetMI (64 ch, 160 Hz) record;
#: the imagery sources move by 1.5 cm between people, so calibration has something to fix
COMMON = {"n_sessions": 1, "n_runs": 2, "snr": 0.8, "spatial_jitter": 0.015}
CAP_A = {"montage": "bnci2014_001", "sfreq": 250, "n_subjects": 4, "n_trials": 20, "random_state": 11,
         "code": "SyntheticMI-22ch", **COMMON}
CAP_B = {"montage": "physionetmi", "sfreq": 160, "n_subjects": 4, "n_trials": 25, "random_state": 12,
         "code": "SyntheticMI-64ch", **COMMON}
SHOTS = [0, 5, 10, 20]


def _paradigm():
    return make_paradigm("LeftRightImagery", {"fmin": 8, "fmax": 30})


def _evaluation(**kwargs):
    settings = {"source": ["SyntheticMI-22ch"], "target": ["SyntheticMI-64ch"], "sfreq": 128, "shots": SHOTS,
                **kwargs}
    return CrossDatasetEvaluation(_paradigm(), [SyntheticMI(**CAP_A), SyntheticMI(**CAP_B)], **settings)


class ShuffledLabels(ClassifierMixin, BaseEstimator):
    """A control: the estimator fitted on permuted labels."""

    def __init__(self, estimator=None, random_state=0):
        self.estimator = estimator
        self.random_state = random_state

    def fit(self, X, y):
        self.estimator_ = clone(self.estimator).fit(X, np.random.default_rng(self.random_state).permutation(y))
        self.classes_ = self.estimator_.classes_
        return self

    def predict(self, X):
        return self.estimator_.predict(X)

    def predict_proba(self, X):
        return self.estimator_.predict_proba(X)


@pytest.fixture(scope="module")
def curve():
    ev = _evaluation()
    return ev, ev.evaluate({"TS+LR": get_pipeline("TS+LR")})


def test_two_caps_and_rates_map_onto_one_template():
    a, b = SyntheticMI(**CAP_A), SyntheticMI(**CAP_B)
    assert (len(a.channels), a.sfreq, len(b.channels), b.sfreq) == (22, 250.0, 64, 160.0)
    ev = _evaluation()
    assert ev.template_channels() == a.channels  # the 22 BNCI channels are all in the 64-channel cap
    X_a, y_a, _ = ev.load("SyntheticMI-22ch", [1])
    X_b, y_b, _ = ev.load("SyntheticMI-64ch", [1])
    assert X_a.shape == (80, 22, 384) and X_b.shape == (100, 22, 384)  # 3 s at 128 Hz
    assert sorted(set(y_a)) == sorted(set(y_b)) == ["left_hand", "right_hand"]
    assert ev.folds() == [(["SyntheticMI-22ch"], "SyntheticMI-64ch")]
    # leave one dataset out, through MOABB's CrossDatasetSplitter
    both = CrossDatasetEvaluation(_paradigm(), [SyntheticMI(**CAP_A), SyntheticMI(**CAP_B)], sfreq=128)
    assert both.folds() == [(["SyntheticMI-64ch"], "SyntheticMI-22ch"), (["SyntheticMI-22ch"], "SyntheticMI-64ch")]


def test_synthetic_a_to_b_is_above_chance_at_zero_shots_and_rises_with_shots(curve):
    _, rows = curve
    assert len(rows) == 4 * (1 + 2 * 3)  # per subject: 0-shot transfer, then transfer and scratch at 5, 10, 20
    transfer = rows[rows["training"] == "transfer"].groupby("shots")["score"].mean()
    scratch = rows[rows["training"] == "scratch"].groupby("shots")["score"].mean()
    assert transfer[0] > 0.65  # ROC-AUC; chance 0.5 (measured 0.711, 4 subjects x 58 test trials)
    assert transfer[20] > transfer[0] + 0.08  # measured 0.711 -> 0.836
    assert transfer[5] > transfer[0] and transfer[10] > transfer[0]
    assert scratch[20] > scratch[5]  # the from-scratch baseline learns from the shots too
    assert (rows["n_test"] == rows.groupby("subject")["n_test"].transform("first")).all()  # one test set
    assert rows.loc[rows["training"] == "transfer", "n_source"].eq(4 * 80).all()


def test_shuffled_source_labels_give_chance_at_zero_shots(curve):
    _, rows = curve
    ev = _evaluation(shots=[0])
    shuffled = pd.concat([ev.evaluate({"shuffled": ShuffledLabels(get_pipeline("TS+LR"), random_state)})
                          for random_state in range(3)])
    real = rows.loc[rows["shots"] == 0, "score"].mean()
    assert abs(shuffled["score"].mean() - 0.5) < 0.06, shuffled["score"].mean()
    assert real - shuffled["score"].mean() > 0.12


def test_no_target_test_trial_is_used_for_alignment_or_calibration(monkeypatch):
    seen = []
    reference = xd.align_reference

    def spy(X):
        seen.append(np.array(X, copy=True))
        return reference(X)

    class Recorder(ClassifierMixin, BaseEstimator):
        fits: list = []

        def fit(self, X, y):
            Recorder.fits.append(len(X))
            self.classes_ = np.unique(y)
            return self

        def predict(self, X):
            return np.full(len(X), self.classes_[0])

        def predict_proba(self, X):
            return np.tile([0.5, 0.5], (len(X), 1))

    monkeypatch.setattr(xd, "align_reference", spy)
    ev = _evaluation(zero_shot_alignment=6)
    X_src, _ = ev.source_data(["SyntheticMI-22ch"])
    n_src = len(X_src)
    for subject in (1, 2):
        X, y, _ = ev.load("SyntheticMI-64ch", [subject])
        seen.clear()
        Recorder.fits.clear()
        ev.evaluate_subject("SyntheticMI-64ch", subject, {"recorder": Recorder()})
        log = [e for e in ev.log_ if e["subject"] == subject]
        assert [e["shots"] for e in log] == SHOTS
        test = log[0]["test"]
        assert test[0] > max(e["calibration"].max(initial=-1) for e in log)  # the test trials come after
        assert test[-1] == len(y) - 1 and np.array_equal(test, np.arange(test[0], len(y)))
        for entry in log:
            assert not set(entry["alignment"]) & set(test) and not set(entry["calibration"]) & set(test)
            k = entry["shots"]
            assert len(entry["calibration"]) == 2 * k
            assert all((y[entry["calibration"]] == c).sum() == k for c in ("left_hand", "right_hand"))
            assert np.array_equal(entry["calibration"], np.sort(np.concatenate(
                [np.flatnonzero(y == c)[:k] for c in ("left_hand", "right_hand")])))  # first trials in time
        assert np.array_equal(log[0]["alignment"], np.arange(6))
        # the alignment saw exactly those trials, bit for bit, and never a test trial
        assert len(seen) == len(SHOTS)
        for entry, trials in zip(log, seen):
            assert np.array_equal(trials, X[entry["alignment"]])
            assert not any(np.array_equal(t, X[i]) for t in trials for i in test)
        # pretrained once for the fold (first subject); k shots: source + 2k trials (transfer), 2k (scratch)
        pretraining = [n_src] if subject == 1 else []
        assert Recorder.fits == pretraining + [n for k in SHOTS[1:] for n in (n_src + 2 * k, 2 * k)]


def test_transfer_effect_in_the_leaderboard_is_recomputed_from_the_rows(tmp_path):
    from moabb.analysis.meta_analysis import compute_pvals_perm

    from neurodecode.benchmark import run_benchmark

    cfg = {"name": "xd",
           "datasets": [{"name": "SyntheticMI", "params": CAP_A}, {"name": "SyntheticMI", "params": CAP_B}],
           "paradigm": {"name": "LeftRightImagery", "params": {"fmin": 8, "fmax": 30}},
           "pipelines": ["MDM", {"name": "ShallowConvNet", "params": {"max_epochs": 8, "lr": 0.003}}],
           "evaluations": [{"type": "cross-dataset", "source": "SyntheticMI-22ch", "target": "SyntheticMI-64ch",
                            "template": "motor", "sfreq": 128, "shots": [0, 5, 10],
                            "finetune": {"max_epochs": 8}}],
           "output": str(tmp_path / "out")}
    result = run_benchmark(cfg, quiet=True)
    out = tmp_path / "out"
    rows = pd.read_csv(out / "results.csv")
    assert result.failures.empty and len(rows) == 2 * 4 * 5
    assert (rows["channels"] == 13).all()  # the motor template: 13 channels, 4 of them interpolated for cap A
    board = pd.read_csv(out / "leaderboard.csv")
    adapted = board[board["shots"] > 0]
    assert len(adapted) == 4 and board["transfer_effect"].notna().sum() == 4
    for row in adapted.itertuples():
        g = rows[(rows["pipeline"] == row.pipeline) & (rows["shots"] == row.shots)]
        per = g.pivot_table(index="subject", columns="training", values="score")
        assert row.transfer_effect == pytest.approx((per["transfer"] - per["scratch"]).mean(), rel=1e-12, abs=1e-12)
        assert row.scratch_mean == pytest.approx(per["scratch"].mean(), rel=1e-12)
        assert row.score_mean == pytest.approx(per["transfer"].mean(), rel=1e-12)
        p = compute_pvals_perm(per[["transfer", "scratch"]].reset_index(drop=True))[0, 1]
        assert row.p_transfer == pytest.approx(p)
    report = (out / "report.md").read_text()
    assert "## Cross-dataset transfer" in report
    assert (out / "figures" / "shots_cross-dataset_SyntheticMI-64ch.png").stat().st_size > 10_000


def test_synthetic_to_physionet_subject_1_end_to_end(shared_data):
    from neurodecode.datasets import get_dataset

    physionet = get_dataset("PhysionetMI", subjects=[1])
    ev = CrossDatasetEvaluation(_paradigm(), [SyntheticMI(**CAP_A), SyntheticMI(**CAP_B), physionet],
                                source=["SyntheticMI-22ch", "SyntheticMI-64ch"], target=["PhysionetMotorImagery"],
                                sfreq=128, shots=[0, 5, 10])
    assert len(ev.template_channels()) == 22  # PhysionetMI's "Fc3." and friends match by canonical name
    rows = ev.evaluate({"MDM": get_pipeline("MDM")})
    assert list(rows["shots"]) == [0, 5, 5, 10, 10] and (rows["channels"] == 22).all()
    assert (rows["n_test"] == 24).all() and (rows["n_source"].max() == 4 * 80 + 4 * 100)
    assert rows["score"].between(0, 1).all() and rows["score"].notna().all()


def test_shipped_cross_dataset_definition_checks_and_plans(shared_data):
    from neurodecode.benchmark import load_config
    from neurodecode.benchmark.tasks import build_tasks, build_units

    cfg = load_config("cross_dataset")
    assert [e["label"] for e in cfg.evaluations] == ["cross-dataset/synthetic", "cross-dataset/to-physionet"]
    tasks = build_tasks(cfg)
    assert sorted({(t.evaluation["label"], t.dataset["code"]) for t in tasks}) == [
        ("cross-dataset/synthetic", "SyntheticMI-64ch"), ("cross-dataset/to-physionet", "PhysionetMotorImagery")]
    assert len(tasks) == 3 * 4 + 3 * 1
    # one unit per target dataset and evaluation: the source model is trained once for all its subjects
    assert sorted(len(u.tasks) for u in build_units(tasks)) == [3, 12]


def test_errors_name_what_is_wrong():
    a, b = SyntheticMI(**CAP_A), SyntheticMI(**CAP_B)
    b.event_id = {"feet": 3, "tongue": 4}
    with pytest.raises(ConfigError, match=r"events \['left_hand', 'right_hand'\] are missing from "
                                          r"\{'SyntheticMI-64ch': \['left_hand', 'right_hand'\]\}"):
        CrossDatasetEvaluation(_paradigm(), [a, b])
    with pytest.raises(ConfigError, match=r"share 0 class name\(s\) \[\].*SyntheticMI-22ch: \['left_hand', "
                                          r"'right_hand'\]; SyntheticMI-64ch: \['feet', 'tongue'\]"):
        CrossDatasetEvaluation(make_paradigm("MotorImagery", {"n_classes": None}), [a, b])
    ev = _evaluation(template=["C3", "Cz", "C4", "XYZ9"])
    with pytest.raises(ConfigError, match="template channel 'XYZ9' is in no dataset and has no standard position"):
        ev.template_channels()
    with pytest.raises(ConfigError, match=r"shots=49 needs 49 calibration trials of each class and 2 more to test, "
                                          r"but SyntheticMI-64ch records 50 per class and subject; lower shots"):
        _evaluation(shots=[0, 49])  # declared by the generator: refused before anything loads
    # counted as a subject loads when the dataset declares nothing (MOABB's metadata often does not)
    with pytest.raises(ConfigError, match=r"SyntheticMI-64ch subject 1: shots=20 needs 20 calibration trials of "
                                          r"class 'left_hand' and at least 2 more to test, but it has 10"):
        xd.calibration_plan(np.repeat(["left_hand", "right_hand"], 10), [0, 20], where="SyntheticMI-64ch subject 1: ")
    with pytest.raises(ConfigError, match="shots must be a list of trials per class"):
        _evaluation(shots=[0, -5])
    with pytest.raises(UnknownNameError, match="unknown target dataset 'SyntheticMI-46ch'.*SyntheticMI-64ch"):
        _evaluation(target=["SyntheticMI-46ch"])
    with pytest.raises(ConfigError, match="remove the harmonise step"):
        _evaluation(recipe=[{"harmonise": {"channels": "motor"}}])


def test_benchmark_definition_errors(tmp_path):
    from neurodecode.benchmark import load_config

    base = {"name": "x", "paradigm": {"name": "LeftRightImagery"}, "pipelines": ["MDM"],
            "datasets": [{"name": "SyntheticMI", "params": CAP_A}, {"name": "SyntheticMI", "params": CAP_B}]}
    with pytest.raises(UnknownNameError, match="unknown cross-dataset setting.*'shot'.*did you mean shots"):
        load_config({**base, "evaluations": [{"type": "cross-dataset", "shot": [5]}]})
    same = {**base, "datasets": [{"name": "SyntheticMI", "params": {"random_state": 1}},
                                 {"name": "SyntheticMI", "params": {"random_state": 2}}]}
    with pytest.raises(ConfigError, match=r"distinct dataset codes, and \['SyntheticMI'\] appear twice"):
        load_config({**same, "evaluations": ["cross-dataset"]})
    with pytest.raises(ConfigError, match=r"fmax=30 Hz is at or above the Nyquist frequency of the common rate "
                                          r"\(25 Hz\); raise sfreq or lower fmax"):
        load_config({**base, "paradigm": {"name": "LeftRightImagery", "params": {"fmax": 30}},
                     "evaluations": [{"type": "cross-dataset", "sfreq": 50}]})
    cfg = load_config({**base, "evaluations": [{"type": "cross-dataset", "shots": [10, 0]}]})
    assert cfg.evaluations[0]["settings"]["shots"] == [0, 10]


def test_faster_flags_planted_bad_channels():
    from neurodecode.preprocessing import Recipe

    dataset = SyntheticMI(n_subjects=1, n_sessions=1, n_runs=1, n_trials=20, random_state=3,
                          artifact_rates={"blink": 0, "emg": 0, "pop": 0})
    raw, _ = dataset.generate_run(1)
    raw.filter(1.0, None, verbose=False)
    clean = raw.copy()
    rng = np.random.default_rng(0)
    planted = ["CP5", "F4", "O2"]
    i = [raw.ch_names.index(c) for c in planted]
    raw._data[i[1]] += rng.normal(0, 30e-6, raw.n_times)  # noisy electrode
    raw._data[i[0]] = rng.normal(0, 3 * raw._data[i[0]].std(), raw.n_times)  # disconnected: unrelated noise
    raw._data[i[2]] += 20e-6 * np.sin(2 * np.pi * 50 * raw.times)  # line noise
    marked = Recipe.coerce([{"faster": {"interpolate": False, "ica": False}}]).apply_raw(raw.copy())
    assert marked.info["bads"] == planted
    assert Recipe.coerce([{"faster": {"interpolate": False, "ica": False}}]).apply_raw(clean.copy()).info["bads"] == []
    repaired = Recipe.coerce([{"faster": {"ica": False, "bad_epochs": False}}]).apply_raw(raw.copy())
    assert repaired.info["bads"] == []
    for ch in planted:  # interpolated from the neighbours (31-channel cap): nearer the clean signal
        k = raw.ch_names.index(ch)
        before = np.corrcoef(raw._data[k], clean._data[k])[0, 1]
        after = np.corrcoef(repaired._data[k], clean._data[k])[0, 1]
        # measured 0.01, 0.32, 0.59 -> 0.68, 0.63, 0.81
        assert after > 0.6 and after > before + 0.2, (ch, before, after)
    with pytest.raises(ConfigError, match="faster: threshold and epoch_length must be positive"):
        Recipe.coerce([{"faster": {"threshold": 0}}])


def test_synthetic_caps_and_jitter():
    from neurodecode.datasets.caps import CAPS

    assert SyntheticMI(montage="bnci2014_001").channels == CAPS["bnci2014_001"]
    assert SyntheticMI(montage="biosemi64").channels[:3] == ["Fp1", "AF7", "AF3"]
    with pytest.raises(ConfigError, match="either channels or montage"):
        SyntheticMI(montage="physionetmi", channels=["C3", "C4"])
    with pytest.raises(ConfigError, match="unknown cap 'physionet'.*did you mean physionetmi"):
        SyntheticMI(montage="physionet")
    kw = {"n_subjects": 1, "n_sessions": 1, "n_runs": 1, "n_trials": 2}
    base, _ = SyntheticMI(**kw).generate_run(1)
    still, _ = SyntheticMI(**kw, spatial_jitter=0.0).generate_run(1)
    moved, _ = SyntheticMI(**kw, spatial_jitter=0.02).generate_run(1)
    assert np.array_equal(base.get_data(), still.get_data())
    assert not np.array_equal(base.get_data(), moved.get_data())
    assert SyntheticMI(**kw, spatial_jitter=0.02).cache_name != SyntheticMI(**kw).cache_name
