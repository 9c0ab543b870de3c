"""Leave-one-block-out with subject-only, global and two-stage training; data-length sweeps and ITR;
the SSVEP DNN; the synthetic 40-target speller."""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.base import BaseEstimator, ClassifierMixin

from neurodecode.errors import ConfigError, UnknownNameError
from neurodecode.evaluation.leave_block_out import LeaveBlockOut, block_labels, check_settings

SFREQ = 100.0


class Spy(ClassifierMixin, BaseEstimator):
    """Predicts from a marker: sample 0 of channel 0 holds the trial's index, channel 1 its class
    code; records which trials every fit and fine-tune saw, and the windows it was given.

    ``oracle=True`` predicts the true class, else always the first class.
    """

    fits: list = []

    def __init__(self, oracle=True):
        self.oracle = oracle

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.seen_ = X[:, 0, 0].astype(int)
        Spy.fits.append({"kind": "fit", "trials": self.seen_, "n_times": X.shape[-1], "first": X[:, 2, 0].copy()})
        return self

    def fine_tune(self, X, y, **kw):
        tuned = Spy(self.oracle).fit(X, y)
        Spy.fits[-1]["kind"] = "fine_tune"
        tuned.seen_ = np.union1d(self.seen_, tuned.seen_)
        return tuned

    def predict(self, X):
        if not self.oracle:
            return np.repeat(self.classes_[0], len(X))
        return self.classes_[X[:, 1, 0].astype(int)]


def _trials(n_subjects=3, n_runs=3, per_class=4, classes=("a", "b", "c", "d"), n_times=120):
    rows, X, y = [], [], []
    rng = np.random.default_rng(0)
    for s in range(1, n_subjects + 1):
        for r in range(n_runs):
            for k in rng.permutation(np.repeat(np.arange(len(classes)), per_class)):
                x = rng.normal(size=(3, n_times))
                x[0, 0], x[1, 0] = len(X), k
                x[2] = np.arange(n_times)  # channel 2: the sample index, to see where windows start
                X.append(x)
                y.append(classes[k])
                rows.append({"subject": s, "session": "0", "run": str(r)})
    return np.array(X), np.array(y), pd.DataFrame(rows)


def _settings(**kw):
    return check_settings({"training": ["subject", "global", "two-stage"], **kw})


def test_no_test_trial_reaches_either_stage_and_the_global_model_is_fitted_once_per_fold():
    X, y, meta = _trials()
    Spy.fits = []
    lbo = LeaveBlockOut(X, y, meta, SFREQ, settings=_settings(data_lengths=[0.5, 1.0]))
    rows = lbo.evaluate("spy", Spy())
    blocks = block_labels(meta, "run")
    n_folds, n_lengths, n_subjects = 3, 2, 3
    kinds = pd.Series([f["kind"] for f in Spy.fits]).value_counts().to_dict()
    # global: once per fold and length, not once per subject; subject fits and fine-tunes: per subject
    assert kinds == {"fit": n_folds * n_lengths * (1 + n_subjects), "fine_tune": n_folds * n_lengths * n_subjects}
    assert sum(e["training"] == "global" for e in lbo.log_) == n_folds * n_lengths
    for entry in lbo.log_:
        held_out = set(np.flatnonzero(blocks == entry["block"]))
        assert not held_out & set(entry["fit"].tolist()), entry["training"]
        assert set(entry["test"].tolist()) <= held_out
    for fit in Spy.fits:  # what the estimators really saw, from the markers in the data
        assert len(set(blocks[fit["trials"]])) == n_folds - 1
    two_stage = [e for e in lbo.log_ if e["training"] == "two-stage"]
    assert len(two_stage) == n_folds * n_lengths * n_subjects
    for e in two_stage:  # both stages: every subject's other blocks, then the subject's own
        assert set(meta["subject"].to_numpy()[e["fit"]]) == {1, 2, 3}
    table = pd.DataFrame(rows)
    assert len(table) == n_subjects * 3 * n_lengths
    assert set(table["training"]) == {"subject", "global", "two-stage"}
    assert (table["accuracy"] == 1.0).all() and (table["n_test"] == 48).all()


def test_windows_start_at_the_latency_and_last_the_data_length():
    X, y, meta = _trials(n_subjects=1)
    Spy.fits = []
    LeaveBlockOut(X, y, meta, SFREQ, settings=check_settings({"data_lengths": [0.2, 0.5], "latency": 0.14})
                  ).evaluate("spy", Spy())
    assert sorted({f["n_times"] for f in Spy.fits}) == [20, 50]
    assert {float(v) for f in Spy.fits for v in f["first"]} == {14.0}  # sample 14 = 0.14 s at 100 Hz
    with pytest.raises(ConfigError, match="a data length of 1.1 s from a latency of 0.14 s ends at 1.24 s, after "
                                          "the 1.2 s of each trial"):
        LeaveBlockOut(X, y, meta, SFREQ, settings=check_settings({"data_lengths": [1.1], "latency": 0.14}))


def test_itr_is_wolpaw_from_the_rows_and_an_oracle_gets_log2_n():
    X, y, meta = _trials(n_subjects=2)
    lengths, gaze = [0.2, 0.6, 1.0], 0.5
    settings = check_settings({"data_lengths": lengths, "gaze_shift": gaze, "training": ["subject", "global"]})
    oracle = pd.DataFrame(LeaveBlockOut(X, y, meta, SFREQ, settings=settings).evaluate("oracle", Spy(True)))
    n = 4
    for row in oracle.itertuples():
        assert row.itr == pytest.approx(math.log2(n) * 60.0 / (row.data_length + gaze), rel=1e-12)
    assert sorted(oracle["selection_time"].unique()) == pytest.approx([0.7, 1.1, 1.5])
    # a constant decoder: accuracy 1/4 exactly, so no information
    const = pd.DataFrame(LeaveBlockOut(X, y, meta, SFREQ, settings=settings).evaluate("const", Spy(False)))
    assert (const["accuracy"] == 0.25).all() and (const["itr"] == 0.0).all()
    rng = np.random.default_rng(1)
    for p in rng.uniform(0.3, 0.99, 20):  # the formula, written out, at accuracies between chance and 1
        bits = math.log2(n) + p * math.log2(p) + (1 - p) * math.log2((1 - p) / (n - 1))
        from neurodecode.evaluation import wolpaw_itr

        assert wolpaw_itr(p, n, 0.9) == pytest.approx(bits * 60 / 0.9, rel=1e-12)


def test_a_two_class_paradigm_scores_with_its_own_metric():
    """Motor imagery's ROC-AUC (MOABB's scoring for two classes) is the score; accuracy stays beside it."""
    from sklearn.metrics import roc_auc_score

    X, y, meta = _trials(n_subjects=2, classes=("left_hand", "right_hand"), per_class=6)

    class Noisy(Spy):  # the true class code plus noise, as a decision value
        def decision_function(self, X):
            return X[:, 1, 0] + np.random.default_rng(0).normal(0, 0.6, len(X))

        def predict(self, X):
            return self.classes_[(self.decision_function(X) > 0.5).astype(int)]

    lbo = LeaveBlockOut(X, y, meta, SFREQ, scoring="roc_auc", settings=check_settings({"training": ["subject"]}))
    rows = pd.DataFrame(lbo.evaluate("noisy", Noisy()))
    blocks = block_labels(meta, "run")
    for row in rows.itertuples():
        folds = [np.flatnonzero((meta["subject"] == row.subject).to_numpy() & (blocks == b)) for b in range(3)]
        auc = [roc_auc_score(y[f] == "right_hand", Noisy().decision_function(X[f])) for f in folds]
        acc = [np.mean(Noisy().fit(X, y).predict(X[f]) == y[f]) for f in folds]
        assert row.score == pytest.approx(np.mean(auc), rel=1e-12) and row.accuracy == pytest.approx(np.mean(acc))
        assert row.chance == 0.5 and row.n_classes == 2 and 0.6 < row.score < 1.0


def test_block_labels_and_bad_settings():
    meta = pd.DataFrame({"subject": [1] * 6 + [2] * 6, "session": ["0"] * 12,
                         "run": ["0", "0", "1", "1", "2", "2"] * 2})
    assert block_labels(meta, "run").tolist() == [0, 0, 1, 1, 2, 2] * 2
    assert block_labels(meta, 3).tolist() == [0, 0, 1, 1, 2, 2] * 2
    with pytest.raises(ConfigError, match="subject 1 session 0 has one run, so no run can be left out; set blocks"):
        block_labels(meta.assign(run="0"), "run")
    with pytest.raises(UnknownNameError, match="unknown training 'two_stage': did you mean two-stage"):
        check_settings({"training": ["two_stage"]})
    with pytest.raises(ConfigError, match="latency must be >= 0 s"):
        check_settings({"latency": -0.1})
    with pytest.raises(ConfigError, match="data_lengths must be positive seconds"):
        check_settings({"data_lengths": [0.2, 0]})
    with pytest.raises(ConfigError, match="blocks must be 'run'"):
        check_settings({"blocks": 1})


def test_fine_tuned_pipeline_keeps_its_fitted_head_and_leaves_the_original_alone():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from neurodecode.models.transfer import fine_tuned

    X, y, _ = _trials(n_subjects=1, n_runs=1)
    pipe = make_pipeline(FunctionTransformer(), Spy()).fit(X[:8], y[:8])
    tuned = fine_tuned(pipe, X[8:], y[8:])
    assert tuned.steps[0][1] is pipe.steps[0][1]
    assert set(tuned[-1].seen_) == set(range(len(X))) and set(pipe[-1].seen_) == set(range(8))
    from sklearn.linear_model import LogisticRegression

    assert fine_tuned(LogisticRegression().fit(X[:, 1, :2], y), X[:, 1, :2], y) is None


# -- the network -------------------------------------------------------------------------------------

def test_ssvep_dnn_follows_the_published_layers_and_reads_channel_major_sub_bands():
    import torch

    from neurodecode.models import WindowFilterBank
    from neurodecode.models.filterbank import bandpass
    from neurodecode.models.ssvep_dnn import SSVEPDNN, band_count

    net = SSVEPDNN(n_outputs=40, n_chans=27, n_times=100, sfreq=250.0)
    shapes = {n: tuple(p.shape) for n, p in net.named_parameters()}
    assert shapes == {"subband_combination.weight": (1, 3, 1, 1), "spatial.weight": (120, 1, 9, 1),
                      "spatial.bias": (120,), "temporal_1.weight": (120, 120, 1, 2), "temporal_1.bias": (120,),
                      "temporal_2.weight": (120, 120, 1, 10), "temporal_2.bias": (120,),
                      "final_layer.weight": (40, 6000), "final_layer.bias": (40,)}
    assert torch.all(net.subband_combination.weight == 1) and [m.p for m in (net.drop_1, net.drop_2, net.drop_3)] \
        == [0.1, 0.1, 0.95]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 4, 250))
    fb = WindowFilterBank(bands=[[8, 90], [16, 90], [24, 90]], ftype="cheby1", order=1, layout="channels",
                          sfreq=250.0).fit(X)
    rows = fb.transform(X)
    assert rows.shape == (2, 12, 250)
    # row c * 3 + b is channel c in band b, which the network reshapes to (bands, channels)
    assert np.array_equal(rows[:, 1 * 3 + 2], bandpass(X[:, 1], 250.0, (24, 90), 1, "cheby1", 1.0))
    x = torch.as_tensor(rows, dtype=torch.float32)
    seen = {}
    net4 = SSVEPDNN(n_outputs=2, n_chans=12, n_times=250, n_bands=3).eval()
    net4.subband_combination.register_forward_hook(lambda m, i, o: seen.update(x=i[0]))
    net4(x)
    assert torch.equal(seen["x"][:, 2, 1], x[:, 1 * 3 + 2])
    assert band_count(["Oz|8-90", "Oz|16-90", "O1|8-90", "O1|16-90"]) == 2
    with pytest.raises(ConfigError, match="27 input rows cannot be 2 sub-bands"):
        SSVEPDNN(n_outputs=2, n_chans=27, n_times=100, n_bands=2)
    chs = [{"ch_name": f"{c}|{lo}-90"} for c in ("Oz", "O1") for lo in (8, 16, 24)]
    with pytest.raises(ConfigError, match="the input holds 3 sub-bands per channel but n_bands=2"):
        SSVEPDNN(n_outputs=2, n_chans=6, n_times=100, n_bands=2, chs_info=chs)


def test_chebyshev_bands_equal_mne_and_scipy():
    import mne
    import scipy.signal

    from neurodecode.models.filterbank import bandpass

    X = np.random.default_rng(0).normal(size=(3, 2, 250))
    ours = bandpass(X, 250.0, (16, 90), 1, "cheby1", 1.0)
    mne_out = mne.filter.filter_data(X, 250.0, 16, 90, method="iir", verbose=False,
                                     iir_params=dict(order=1, ftype="cheby1", rp=1.0, output="sos"))
    assert np.array_equal(ours, mne_out)
    sos = scipy.signal.cheby1(1, 1.0, [16, 90], btype="bandpass", fs=250.0, output="sos")
    assert np.allclose(mne.filter.create_filter(None, 250.0, 16, 90, method="iir", verbose=False, iir_params=dict(
        order=1, ftype="cheby1", rp=1.0, output="sos"))["sos"], sos)


# -- the synthetic speller ---------------------------------------------------------------------------

def test_synthetic_speller_is_shaped_like_the_benchmark():
    from neurodecode.datasets import SyntheticSpeller

    d = SyntheticSpeller(n_subjects=2)
    freqs = [float(k) for k in d.event_id]
    assert len(freqs) == 40 and freqs[0] == 8.0 and freqs[-1] == 15.8 and np.allclose(np.diff(freqs), 0.2)
    assert d.channels == ["Pz", "PO5", "PO3", "POz", "PO4", "PO6", "O1", "Oz", "O2"] and d.n_runs == 6
    raw, truth = d.generate_run(1, 0, 0, clean=True)
    assert sorted(truth.events["label"]) == sorted(d.event_id)  # one trial of every target per block
    gaps = np.diff(truth.events["onset"]) - 1.5
    assert gaps.min() >= 0.5 and gaps.max() <= 0.7
    # JFPM: the response starts at the subject's visual latency, with the target's phase 0.5 pi k
    sf, oz = raw.info["sfreq"], d.channels.index("Oz")
    times = np.arange(int(4 * sf)) / sf

    def response(subject, label):
        out = np.zeros((len(d.channels), len(times)), np.float32)
        events = pd.DataFrame({"onset": [1.0], "label": [label], "duration": [1.5]})
        d._task(np.random.default_rng(0), events, times, {"subject": subject}, out)
        return out[oz]

    for subject in (1, 2):
        latency = np.random.default_rng([42, subject, 40]).uniform(0.12, 0.16)  # the subject's own draw
        first = np.flatnonzero(response(subject, "8"))[0] / sf - 1.0
        assert abs(first - latency) <= 1 / sf
    phases = []
    for label in ["8", "8.2", "8.4"]:
        r = response(1, label)
        start = np.flatnonzero(r)[0]
        t = np.arange(int(1.5 * sf)) / sf
        phases.append(np.angle(np.sum(r[start:start + len(t)] * np.exp(-2j * np.pi * float(label) * t))))
    steps = np.angle(np.exp(1j * np.diff(phases)))  # phase of target k+1 minus target k, wrapped
    assert np.allclose(steps, 0.5 * np.pi, atol=0.3), steps


@pytest.mark.slow
def test_speller_scores_follow_data_length_and_shuffled_labels_are_at_chance():
    """eTRCA on 2 subjects of the speller: accuracy grows with data length, and the same evaluation
    with labels shuffled within each session is at chance (1/40)."""
    import mne
    from moabb.paradigms import SSVEP

    from neurodecode.datasets import SyntheticSpeller
    from neurodecode.models import get_pipeline
    from neurodecode.models.signal import fill_sfreq

    epochs, y, meta = SSVEP(fmin=6, fmax=60, resample=125).get_data(SyntheticSpeller(n_subjects=2), [1, 2],
                                                                     return_epochs=True)
    assert isinstance(epochs, mne.BaseEpochs) and len(y) == 2 * 6 * 40
    settings = check_settings({"data_lengths": [0.2, 1.0], "latency": 0.14, "gaze_shift": 0.5})
    rows = pd.DataFrame(LeaveBlockOut(epochs.get_data(), y, meta, 125.0, settings=settings)
                        .evaluate("eTRCA", fill_sfreq(get_pipeline("eTRCA"), 125.0)))
    acc = rows.groupby("data_length")["accuracy"].mean()
    assert acc[1.0] > 0.8 and acc[0.2] > 0.2 and acc[1.0] > acc[0.2]
    rng = np.random.default_rng(0)
    shuffled = y.copy()
    for idx in meta.groupby(["subject", "session"]).indices.values():
        shuffled[idx] = rng.permutation(shuffled[idx])
    control = pd.DataFrame(LeaveBlockOut(epochs.get_data(), shuffled, meta, 125.0, settings=settings)
                           .evaluate("eTRCA", fill_sfreq(get_pipeline("eTRCA"), 125.0)))
    assert control["accuracy"].max() < 0.07  # chance 0.025 on 240 test trials per subject


# -- through the benchmark -----------------------------------------------------------------------------

def _bench(tmp_path, **changes) -> dict:
    cfg = {"name": "speller", "datasets": [{"name": "SyntheticSpeller", "params": {"n_subjects": 2, "n_runs": 3}}],
           "paradigm": {"name": "SSVEP", "params": {"fmin": 6, "fmax": 60, "resample": 125}},
           "pipelines": ["FBCCA", "eTRCA", {"name": "SSVEP-DNN", "params": {"max_epochs": 2}}],
           "evaluations": [{"type": "leave-block-out", "training": ["subject", "global", "two-stage"],
                            "data_lengths": [0.2, 0.4], "latency": 0.14, "gaze_shift": 0.5,
                            "finetune": {"max_epochs": 1}}],
           "random_state": 42, "output": str(tmp_path / "out")}
    cfg.update(changes)
    return cfg


def _one_line_exit_2(tmp_path, cfg) -> str:
    path = tmp_path / "bench.yml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    done = subprocess.run([sys.executable, "-m", "neurodecode.cli", "benchmark", str(path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == "" and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "out" / "store.jsonl").exists()
    return done.stderr.strip()


@pytest.mark.slow  # each starts the CLI in a new process
@pytest.mark.parametrize("change, message", [
    ({"data_lengths": [0.5, 1.5]}, "evaluation leave-block-out: a data length of 1.5 s from a latency of 0.14 s "
                                   "ends at 1.64 s, after the 1.5 s trials of SyntheticSpeller"),
    ({"latency": -0.05}, "evaluation leave-block-out: latency must be >= 0 s (windows start at the cue plus "
                         "latency), got -0.05"),
])
def test_bad_lengths_and_latencies_are_one_line_naming_the_evaluation(tmp_path, change, message):
    cfg = _bench(tmp_path)
    cfg["evaluations"][0].update(change)
    assert message in _one_line_exit_2(tmp_path, cfg)


@pytest.mark.slow
def test_two_stage_with_one_subject_and_a_dnn_with_fewer_sub_bands_are_refused(tmp_path):
    cfg = _bench(tmp_path, datasets=[{"name": "SyntheticSpeller", "params": {"n_subjects": 1}, "subjects": [1]}])
    line = _one_line_exit_2(tmp_path, cfg)
    assert "evaluation leave-block-out: training global and two-stage needs two or more subjects, but " \
           "SyntheticSpeller lists [1]" in line
    cfg = _bench(tmp_path, pipelines=[{"name": "SSVEP-DNN", "params": {"model_params": {"n_bands": 2}}}])
    line = _one_line_exit_2(tmp_path, cfg)
    assert "pipeline SSVEP-DNN: its filter bank gives 3 sub-bands but SSVEPDNN combines n_bands=2; set " \
           "model_params: {n_bands: 3}" in line


@pytest.mark.slow
def test_a_speller_benchmark_writes_rows_gains_and_the_data_length_figure(tmp_path):
    from neurodecode.benchmark import run_benchmark

    result = run_benchmark(_bench(tmp_path), quiet=True)
    assert result.failures.empty
    rows = result.results
    assert set(rows["evaluation_type"]) == {"leave-block-out"}
    assert set(zip(rows["pipeline"], rows["training"])) >= {("eTRCA", "subject"), ("eTRCA", "global"),
                                                          ("SSVEP-DNN", "two-stage")}
    assert ("FBCCA", "two-stage") not in set(zip(rows["pipeline"], rows["training"]))  # nothing to fine-tune
    assert len(rows) == 2 * 2 * (2 + 2 + 3)  # subjects x lengths x (trainings of each pipeline)
    for row in rows.itertuples():  # ITR recomputed from the row alone
        p, n, t = row.accuracy, row.n_classes, row.data_length + 0.5
        bits = 0.0 if p <= 1 / n else math.log2(n) + p * math.log2(p) + (
            (1 - p) * math.log2((1 - p) / (n - 1)) if p < 1 else 0.0)
        assert row.itr == pytest.approx(bits * 60 / t, rel=1e-12, abs=1e-12)
    board = result.leaderboard
    assert {"training", "data_length", "accuracy", "itr", "two_stage_gain", "p_two_stage"} <= set(board)
    dnn = board[(board["pipeline"] == "SSVEP-DNN") & (board["training"] == "two-stage")]
    assert len(dnn) == 2 and dnn["two_stage_gain"].notna().all()
    gains = pd.read_csv(result.files["leaderboard"].parent / "two_stage.csv")
    assert len(gains) == 2 * 2 and set(gains["pipeline"]) == {"SSVEP-DNN"}
    out = result.files["leaderboard"].parent
    assert (out / "figures" / "data_length_leave-block-out_SyntheticSpeller.png").stat().st_size > 10_000
    assert "Accuracy and ITR against data length" in (out / "report.md").read_text()


# -- two-stage training in the pseudo-online replay -------------------------------------------------

class WindowSpy(ClassifierMixin, BaseEstimator):
    """Records every fit and fine-tune with the (subject, session, run) of the streams behind it;
    decides the first class always."""

    log: list = []

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        WindowSpy.log.append(("fit", len(y)))
        return self

    def fine_tune(self, X, y, **kw):
        WindowSpy.log.append(("fine_tune", len(y), kw))
        return self

    def predict_proba(self, X):
        out = np.zeros((len(X), len(self.classes_)))
        out[:, 0] = 1.0
        return out


def test_pseudo_online_two_stage_never_trains_on_the_replayed_run_and_fits_one_global_per_run(tmp_path):
    from moabb.paradigms import LeftRightImagery

    from neurodecode.datasets import SyntheticMI
    from neurodecode.evaluation import PseudoOnlineEvaluation

    ds = SyntheticMI(n_subjects=3, n_sessions=1, n_runs=2, n_trials=4, sfreq=128.0, random_state=2)
    ev = PseudoOnlineEvaluation(LeftRightImagery(fmin=8, fmax=30), [ds], window=1.0, step=0.5, cache=False,
                                hdf5_path=str(tmp_path / "store"), random_state=0, training="two-stage",
                                finetune={"max_epochs": 3})
    seen, globals_ = [], []
    plain, plain_global = ev.training_set, ev.global_training_set

    def spying(fold, classes):  # every training set built, with the runs it reads
        seen.append(({(s.subject, s.session, s.run) for s in fold.train}, (fold.test.session, fold.test.run)))
        return plain(fold, classes)

    def spying_global(dataset, fold, classes):
        start = len(seen)
        out = plain_global(dataset, fold, classes)
        globals_.append((set().union(*[runs for runs, _ in seen[start:]]), (fold.test.session, fold.test.run)))
        return out

    ev.training_set, ev.global_training_set = spying, spying_global
    WindowSpy.log = []
    rows = []
    for subject in ds.subject_list:
        rows += ev.evaluate_subject(ds, subject, {"spy": WindowSpy()})
    for runs, held_out in seen:  # the replayed run is in no training set of its fold, whoever's it is
        assert held_out not in {(sess, run) for _, sess, run in runs}
    # one global model per replayed run name, shared by the 3 subjects: every subject's other run
    assert sorted(held_out for _, held_out in globals_) == [("0", "0"), ("0", "1")]
    for runs, (session, run) in globals_:
        assert runs == {(s, session, str(1 - int(run))) for s in (1, 2, 3)}
    kinds = [entry[0] for entry in WindowSpy.log]
    assert kinds.count("fit") == 2 and kinds.count("fine_tune") == 6
    assert all(entry[2] == {"max_epochs": 3} for entry in WindowSpy.log if entry[0] == "fine_tune")
    assert len(rows) == 6 and {r["training"] for r in rows} == {"two-stage"}


def test_pseudo_online_training_settings_that_cannot_work_are_refused(tmp_path):
    from moabb.paradigms import LeftRightImagery

    from neurodecode.datasets import SyntheticMI
    from neurodecode.evaluation import PseudoOnlineEvaluation

    ds = SyntheticMI(n_subjects=2, n_sessions=1, n_runs=2, n_trials=4, sfreq=128.0)
    for kw, message in [({"training": "global", "split": "cross-session"}, "training 'global' trains on every "
                         "subject's other runs, a within-session split"),
                        ({"training": "two-stage", "idle": "threshold"}, "needs idle 'class' and no smoothing"),
                        ({"training": "stage2"}, "unknown training 'stage2'")]:
        with pytest.raises((ConfigError, UnknownNameError), match=message):
            PseudoOnlineEvaluation(LeftRightImagery(), [ds], hdf5_path=str(tmp_path), **kw)


@pytest.mark.slow
def test_pseudo_online_two_stage_in_a_benchmark_pairs_with_subject_training(tmp_path):
    """Two replays that differ only in training, through the benchmark: rows carry training, one unit
    holds every subject, and the leaderboard pairs them with MOABB's test; a classical pipeline is
    refused for two-stage before any work."""
    from neurodecode.benchmark import load_config, run_benchmark
    from neurodecode.benchmark.tasks import build_tasks, build_units

    replay = {"type": "pseudo-online", "window": 1.0, "step": 0.5}
    cfg = {"name": "online-two-stage",
           "datasets": [{"name": "SyntheticMI", "params": {"n_subjects": 2, "n_sessions": 1, "n_runs": 2,
                                                           "n_trials": 6, "sfreq": 128, "snr": 2}}],
           "paradigm": {"name": "LeftRightImagery", "params": {"fmin": 8, "fmax": 30, "resample": 128}},
           "pipelines": [{"name": "ShallowConvNet", "params": {"max_epochs": 2, "valid_size": 0}}],
           "evaluations": [{**replay, "label": "own"}, {**replay, "label": "two-stage", "training": "two-stage",
                                                        "finetune": {"max_epochs": 1}}],
           "random_state": 42, "output": str(tmp_path / "out")}
    units = build_units(build_tasks(load_config(cfg)))
    assert sorted(len(u.tasks) for u in units) == [1, 1, 2]  # own: a unit per subject; two-stage: one
    result = run_benchmark(cfg, quiet=True)
    assert result.failures.empty
    assert set(zip(result.results["evaluation"], result.results["training"])) == {("own", "subject"),
                                                                                  ("two-stage", "two-stage")}
    board = result.leaderboard.set_index("evaluation")
    assert np.isnan(board.loc["own", "two_stage_gain"]) and np.isfinite(board.loc["two-stage", "two_stage_gain"])
    gains = pd.read_csv(result.files["leaderboard"].parent / "two_stage_online.csv")
    assert len(gains) == 2 and set(gains["evaluation"]) == {"two-stage"}
    assert "Two-stage against subject-only training" in (result.files["leaderboard"].parent / "report.md").read_text()
    paired = pd.read_csv(result.files["leaderboard"].parent / "offline_vs_pseudoonline.csv")
    assert paired.empty  # no offline evaluation here; and a two-stage replay never pairs with one
    cfg["pipelines"] = ["TS+LR"]
    with pytest.raises(ConfigError, match="evaluation two-stage: training two-stage fine-tunes networks, and "
                                          "pipeline TS\\+LR has none"):
        load_config(cfg)
