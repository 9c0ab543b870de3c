"""Pseudo-online evaluation: truth, splits without leaks, causality, metrics, real data."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from moabb.paradigms import LeftRightImagery
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier

from neurodecode.datasets import SyntheticMI, SyntheticSSVEP
from neurodecode.errors import ConfigError, InvalidDataError
from neurodecode.evaluation import PseudoOnlineEvaluation, nmcc, replay, wolpaw_itr
from neurodecode.models import get_pipeline
from neurodecode.models.decision import DecisionSmoother, IdleThreshold
from neurodecode.preprocessing import PreprocessedDataset
from neurodecode.preprocessing.cache import CachedRun
from neurodecode.windows import label_track
from neurodecode.windows.labels import TaskPeriod

#: every test here replays recordings window by window
pytestmark = pytest.mark.slow

MOTOR = ["FC3", "FCz", "FC4", "C3", "Cz", "C4", "CP3", "CPz", "CP4"]
SFREQ, N_LEN, N_STEP = 128.0, 128, 13  # 1 s windows every 0.1 s (12.8 samples, rounded)


class WithTruthChannel:
    """Adds an EEG channel ``TRUTH`` carrying the class code of every sample."""

    def _get_single_subject_data(self, subject):
        import mne

        out = super()._get_single_subject_data(subject)
        for runs in out.values():
            for name, raw in runs.items():
                track = label_track(CachedRun.from_raw(raw), self.event_id, self.interval)
                info = mne.create_info(["TRUTH"], raw.info["sfreq"], "eeg")
                extra = mne.io.RawArray(track.codes[None].astype(float) * 1e-5, info, verbose=False)
                runs[name] = raw.add_channels([extra], force_update_info=True)
        return out


class TruthMI(WithTruthChannel, SyntheticMI):
    pass


class TruthSSVEP(WithTruthChannel, SyntheticSSVEP):
    pass


class Oracle(ClassifierMixin, BaseEstimator):
    """Reads the TRUTH channel: the class covering at least half of the window, else idle."""

    def fit(self, X, y):
        codes = np.rint(X[:, -1] * 1e5).astype(int)
        self.classes_ = np.unique(y)
        self.names_ = {int(np.bincount(c).argmax()): label for c, label in zip(codes, y)}
        return self

    def predict_proba(self, X):
        codes = np.rint(X[:, -1] * 1e5).astype(int)
        out = np.zeros((len(X), len(self.classes_)))
        for i, c in enumerate(codes):
            counts = np.bincount(c, minlength=max(self.names_) + 1)
            task = counts[1:].argmax() + 1
            code = task if 2 * counts[task] >= X.shape[2] else 0
            out[i, list(self.classes_).index(self.names_[code])] = 1
        return out


class RandomGuess(ClassifierMixin, BaseEstimator):
    """A uniformly random class per window, drawn from a hash of the window (so reproducible)."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        picks = [np.random.default_rng(abs(hash(x.tobytes()))).integers(len(self.classes_)) for x in X]
        return np.eye(len(self.classes_))[picks]


def _evaluation(tmp_path, dataset, paradigm=None, **kw):
    kw.setdefault("window", 1.0)
    kw.setdefault("step", 0.1)
    return PseudoOnlineEvaluation(paradigm or LeftRightImagery(fmin=None, fmax=None), [dataset],
                                  hdf5_path=str(tmp_path / "store"), random_state=0, cache=False, **kw)


@pytest.mark.parametrize("cls,paradigm", [(TruthMI, "imagery"), (TruthSSVEP, "ssvep")])
def test_oracle_reaches_nmcc_1_with_half_window_latency(tmp_path, cls, paradigm):
    from moabb.paradigms import SSVEP

    ds = cls(n_subjects=1, n_sessions=1, n_runs=2, n_trials=4, sfreq=SFREQ, random_state=3)
    par = LeftRightImagery(fmin=None, fmax=None) if paradigm == "imagery" else \
        SSVEP(fmin=None, fmax=None, n_classes=3)
    ev = _evaluation(tmp_path, ds, par, guard=1.0, predictions_dir=tmp_path / "pred")
    res = ev.process({"oracle": Oracle()})
    assert len(res) == 2  # one row per replayed run
    assert np.allclose(res["score"], 1.0) and np.allclose(res["accuracy"], 1.0)
    assert np.allclose(res["trial_accuracy"], 1.0) and np.allclose(res["idle_fpr"], 0.0)
    n_classes = len(ds.event_id) + 1
    assert np.allclose(res["itr_window"], np.log2(n_classes) * 600)  # log2(N + 1) bits every 0.1 s
    # practical ITR: log2(N) bits per trial, one trial per median cue-to-cue period
    periods = [s.track.cue_to_cue / SFREQ for s in ev.streams(ds, 1)["0"]]
    expected = np.log2(n_classes - 1) * 60 / np.array(periods)[res["run"].astype(int).to_numpy()]
    assert np.allclose(res["itr"], expected, rtol=1e-6)
    assert np.allclose(res["fa_per_min"], 0.0) and np.allclose(res["detection_rate"], 1.0)
    # the first window at least half inside the trial ends on the first grid point at or after
    # onset + half a window: latency 0.5 s when the onset is on the grid, up to one step more
    for run, row in res.groupby("run"):
        files = list((tmp_path / "pred" / ds.code).glob(f"sub-1_ses-0_run-{int(run)}_oracle.parquet"))
        decisions = pd.read_parquet(files[0])
        stream = ev.streams(ds, 1)["0"][int(run)]
        onsets = stream.track.onsets[stream.track.onsets >= N_LEN - 1]
        first_stop = N_LEN + N_STEP * np.ceil((onsets + N_LEN / 2 - N_LEN) / N_STEP)
        expected = (first_stop - onsets) / SFREQ
        assert row["latency_mean"].iloc[0] == pytest.approx(expected.mean(), abs=1e-6)  # float32 store
        assert 0.5 <= expected.min() and expected.max() < 0.6
        assert set(decisions["prediction"]) == {"idle", *ds.event_id}


def test_random_predictions_give_chance_nmcc(tmp_path):
    ds = SyntheticMI(n_subjects=1, n_sessions=1, n_runs=2, n_trials=6, sfreq=SFREQ, random_state=4)
    res = _evaluation(tmp_path, ds).process(
        {"random": RandomGuess(),
         "always idle": DummyClassifier(strategy="constant", constant="idle")})
    by = res.set_index("pipeline")
    assert np.all(np.abs(by.loc["random", "score"] - 0.5) < 0.05)
    assert np.all(by.loc["random", "itr"] < 5)
    # a detector that never fires beats 1/N accuracy, so Wolpaw's ITR rewards it; nMCC does not
    assert np.all(by.loc["always idle", "score"] == 0.5) and np.all(by.loc["always idle", "accuracy"] > 0.4)
    # ... per window decision (itr_window); per selection (itr) it never selects anything: 0 bits
    assert np.all(by.loc["always idle", "itr_window"] > 10) and np.all(by.loc["always idle", "itr"] == 0)
    assert np.all(by.loc["always idle", "fa_per_min"] == 0) and np.all(by.loc["always idle", "detection_rate"] == 0)
    assert np.all(by.loc["always idle", "idle_fpr"] == 0) and np.all(by.loc["always idle", "task_tpr"] == 0)


def test_cross_subject_trains_on_the_other_subjects_only(tmp_path):
    ds = SyntheticMI(n_subjects=3, n_sessions=1, n_runs=2, n_trials=4, sfreq=SFREQ, random_state=9, snr=3,
                     channels=MOTOR)
    ev = _evaluation(tmp_path, ds, LeftRightImagery(fmin=8, fmax=30), split="cross-subject")
    folds = ev.folds(ds, 2)
    assert [(f.test.subject, f.test.run) for f in folds] == [(2, "0"), (2, "1")]
    assert all(sorted({s.subject for s in f.train}) == [1, 3] and len(f.train) == 4 for f in folds)
    assert ev.folds(ds, 1)[0].train[2] is folds[0].train[2]  # subject 3's streams, built once
    res = ev.process({"TS+LR": get_pipeline("TS+LR")})
    assert len(res) == 6 and res["score"].mean() > 0.6


def test_no_test_sample_in_any_training_window(tmp_path):
    # two runs per session (leave-one-run-out), then one run (chronological with a gap)
    for n_runs, expected_folds in ((2, 4), (1, 2)):
        ds = SyntheticMI(n_subjects=1, n_sessions=2, n_runs=n_runs, n_trials=6, sfreq=SFREQ, random_state=5)
        for split in ("within-session", "cross-session"):
            ev = _evaluation(tmp_path, ds, split=split)
            folds = ev.folds(ds, 1)
            assert len(folds) == (expected_folds if split == "within-session" else n_runs)
            for fold in folds:
                _, y, _, meta = ev.training_set(fold, ["left_hand", "right_hand"])
                test = fold.test
                same = [i for i, s in enumerate(fold.train) if (s.session, s.run) == (test.session, test.run)]
                for i in same:
                    rows = meta[meta["stream"] == i]
                    overlap = (rows["start"] < test.end) & (rows["stop"] > test.begin)
                    assert not overlap.any()
                    assert test.begin - rows["stop"].max() >= N_LEN  # the gap
                assert (split == "within-session" and n_runs == 1) == bool(same)
                assert set(y) == {"idle", "left_hand", "right_hand"}


class PerturbedMI(SyntheticMI):
    """Adds a large burst to one run after ``after`` seconds."""

    def __init__(self, after, **kw):
        self.after = after
        super().__init__(**kw)

    def _get_single_subject_data(self, subject):
        out = super()._get_single_subject_data(subject)
        raw = out["0"]["1"]
        data = raw.get_data()
        i = int(self.after * raw.info["sfreq"])
        data[:-1, i:] += 1e-4 * np.random.default_rng(0).standard_normal(data[:-1, i:].shape)
        raw._data[:] = data
        return out


def test_perturbing_the_future_leaves_past_decisions_unchanged(tmp_path):
    kw = dict(n_subjects=1, n_sessions=1, n_runs=2, n_trials=6, sfreq=SFREQ, random_state=6, snr=3)
    after = 40.0
    paradigm = LeftRightImagery(fmin=8, fmax=30)  # its band-pass runs causally
    clean = _evaluation(tmp_path, SyntheticMI(**kw), paradigm, recipe=[{"notch": {"freqs": 50}}])
    fold = clean.folds(clean.datasets[0], 1)[1]  # train on run 0, replay run 1
    X, y, _, _ = clean.training_set(fold, ["left_hand", "right_hand"])
    est = clean.prepare(get_pipeline("TS+LR"), SFREQ).fit(X, y)
    before = replay(est, fold.test, N_LEN, N_STEP)
    perturbed = _evaluation(tmp_path, PerturbedMI(after, **kw), paradigm, recipe=[{"notch": {"freqs": 50}}])
    after_df = replay(est, perturbed.folds(perturbed.datasets[0], 1)[1].test, N_LEN, N_STEP)
    past = before["time"] <= after
    cols = [c for c in before if c.startswith("p_")] + ["prediction"]
    assert past.sum() > 300
    pd.testing.assert_frame_equal(before.loc[past, cols], after_df.loc[past, cols])
    assert (before.loc[~past, "p_idle"] != after_df.loc[~past, "p_idle"]).mean() > 0.9
    # control: the same perturbation through zero-phase filters changes earlier decisions
    offline = PreprocessedDataset(PerturbedMI(after, **kw), clean.recipe, cache=False)
    assert offline.recipe.steps[0].causal is False
    from neurodecode.evaluation.stream import make_stream

    ds = SyntheticMI(**kw)
    streams = []
    for source in (ds, PerturbedMI(after, **kw)):
        pre = PreprocessedDataset(source, [{"bandpass": {"l_freq": 8.0, "h_freq": 30.0}}], cache=False)
        streams.append(make_stream(pre.runs(1)["0"]["1"], 1, "0", "1", ds.event_id, (), {},
                                   TaskPeriod(tuple(ds.interval)), 0.0))
    a, b = (replay(est, s, N_LEN, N_STEP) for s in streams)
    near = (a["time"] <= after) & (a["time"] > after - 1.0)
    assert (a.loc[near, "p_idle"] != b.loc[near, "p_idle"]).all()


def test_idle_threshold_and_smoothing(tmp_path):
    ds = SyntheticMI(n_subjects=1, n_sessions=1, n_runs=2, n_trials=8, sfreq=SFREQ, random_state=7, snr=3,
                     channels=MOTOR)
    ev = _evaluation(tmp_path, ds, LeftRightImagery(fmin=8, fmax=30), idle="threshold", train_step=0.25)
    res = ev.process({"TS+LR": get_pipeline("TS+LR")})
    assert (res["score"] > 0.6).all() and (res["n_classes"] == 3).all()
    fold = ev.folds(ds, 1)[0]
    X, y, groups, _ = ev.training_set(fold, ["left_hand", "right_hand"])
    plain = ev.prepare(get_pipeline("TS+LR"), SFREQ).fit(X, y, groups=groups)
    assert isinstance(plain, IdleThreshold) and 0.4 < plain.threshold_ < 1.0
    assert list(plain.classes_) == ["left_hand", "right_hand", "idle"]
    smoothed = ev.prepare(DecisionSmoother(get_pipeline("TS+LR"), "mean", 5), SFREQ)
    smoothed.fit(X, y, groups=groups)
    assert smoothed.estimator_.threshold_ == plain.threshold_
    raw, smooth = (replay(est, fold.test, N_LEN, N_STEP) for est in (plain, smoothed))
    P = raw[["p_left_hand", "p_right_hand"]].to_numpy()
    by_hand = np.array([P[max(i - 4, 0):i + 1].mean(axis=0) for i in range(len(P))])
    assert smooth["prediction"].tolist() == plain.decide(by_hand).tolist()
    switches = [(d["prediction"] != d["prediction"].shift()).sum() for d in (raw, smooth)]
    assert switches[1] < 0.8 * switches[0]


def test_metric_formulas():
    assert nmcc(["a", "b", "idle", "idle"], ["a", "b", "idle", "idle"]) == 1.0
    # Wolpaw: N=3, P=0.9 -> log2 3 + .9 log2 .9 + .1 log2(.05) bits per decision
    bits = np.log2(3) + 0.9 * np.log2(0.9) + 0.1 * np.log2(0.1 / 2)
    assert wolpaw_itr(0.9, 3, 0.5) == pytest.approx(bits * 120)
    assert wolpaw_itr(0.3, 3, 0.5) == 0.0


def test_bad_settings_give_clear_errors(tmp_path):
    ds = SyntheticMI(n_subjects=1, n_sessions=1, n_runs=2, n_trials=2, sfreq=SFREQ)
    with pytest.raises(ConfigError, match="step must be a positive number of seconds, got 0"):
        _evaluation(tmp_path, ds, step=0)
    with pytest.raises(ConfigError, match="step must be a positive number of seconds, got -0.1"):
        _evaluation(tmp_path, ds, step=-0.1)
    with pytest.raises(ConfigError, match=r"window of 4 s is longer than a trial of SyntheticMI "
                                          r"\(3 s of task per trial\); use window <= 3"):
        _evaluation(tmp_path, ds, window=4.0).process({"TS+LR": get_pipeline("TS+LR")})
    with pytest.raises(ConfigError, match="idle must be one of"):
        _evaluation(tmp_path, ds, idle="none")
    with pytest.raises(ConfigError, match=r"rest class\(es\) \['T0'\] not in SyntheticMI"):
        _evaluation(tmp_path, ds, rest=["T0"]).process({"TS+LR": get_pipeline("TS+LR")})


def test_no_idle_time_and_short_runs_are_refused(tmp_path):
    class Busy(SyntheticMI):
        """Every sample is inside a trial: the interval covers the whole cue-to-cue time."""

        @property
        def interval(self):
            return [-1000, 1000]

        @interval.setter
        def interval(self, value):
            pass

        def _get_single_subject_data(self, subject):  # no event durations: the interval decides
            out = super()._get_single_subject_data(subject)
            for runs in out.values():
                for raw in runs.values():
                    raw.set_annotations(raw.annotations.__class__(
                        raw.annotations.onset, 0.0, raw.annotations.description, raw.annotations.orig_time))
            return out

    busy = Busy(n_subjects=1, n_sessions=1, n_runs=2, n_trials=2, sfreq=SFREQ)
    with pytest.raises(ConfigError, match=r"idle='class' needs idle time in the training runs, but "
                                          r"subject 1 session 0 run 1 and the other training runs "
                                          r"have none"):
        _evaluation(tmp_path, busy).process({"TS+LR": get_pipeline("TS+LR")})

    class Short(SyntheticMI):
        def _get_single_subject_data(self, subject):
            out = super()._get_single_subject_data(subject)
            out["0"]["1"].crop(0, 0.5)
            out["0"]["1"].annotations.delete(range(len(out["0"]["1"].annotations)))
            return out

    with pytest.raises(InvalidDataError, match=r"subject 1 session 0 run 1: 0.5[0-9]* s of signal "
                                               r"is shorter than one window \(1 s\)"):
        ds = Short(n_subjects=1, n_sessions=1, n_runs=2, n_trials=2, sfreq=SFREQ)
        _evaluation(tmp_path, ds, window=1.0).process({"TS+LR": get_pipeline("TS+LR")})


@pytest.mark.realdata
def test_kalunga_rest_as_idle(exported_settings, tmp_path, shared_data):
    from moabb.datasets import Kalunga2016
    from moabb.paradigms import SSVEP

    ds = Kalunga2016()
    ds.subject_list = [1, 2, 7]  # subject 7 has three runs
    # three subjects and decisions every 0.25 s keep CI short; the issue note gives the figures of
    # subjects 1-9 at 0.1 s
    ev = PseudoOnlineEvaluation(SSVEP(fmin=3, fmax=45, n_classes=4, resample=128), [ds], window=2.0,
                                step=0.25, rest=["rest"], hdf5_path=str(tmp_path), random_state=0,
                                timed_windows=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ev.process({"FB-TS+LR": get_pipeline("FB-TS+LR")})
    print(res.sort_values(["subject", "run"]).to_string())
    # one row per replayed run: two runs per subject, three for subject 7
    assert sorted(res["subject"].astype(int)) == [1, 1, 2, 2, 7, 7, 7]
    assert (res["n_classes"] == 4).all()  # 13, 17, 21 Hz and idle (rest + pauses)
    assert res["score"].mean() > 0.57 and (res["score"] > 0.5).all()
    assert res["trial_accuracy"].mean() > 0.6  # chance 1/3
    # the stimulus is on for the whole trial: MOABB's declared trial duration, not the 2 s epoch
    track = ev.streams(ds, 1)["0"][0].track
    assert track.source == "trial_duration"
    lengths = np.bincount(track.trials[track.trials >= 0]) / 128
    assert np.median(lengths) == pytest.approx(6.0, abs=0.01)


@pytest.mark.realdata
def test_physionet_runs_leave_one_run_out_with_t0_as_idle(exported_settings, tmp_path, shared_data):
    from moabb.datasets import PhysionetMI

    ds = PhysionetMI(imagined=True, executed=False)
    ds.subject_list = [1]
    ev = PseudoOnlineEvaluation(LeftRightImagery(fmin=8, fmax=30), [ds], window=1.0, step=0.1,
                                rest=["rest"], hdf5_path=str(tmp_path), random_state=0)
    folds = ev.folds(ds, 1)
    # the truth follows the events' own durations: T1/T2 last 4.1 s in the EDF annotations
    for stream in (folds[0].test, *folds[0].train):
        assert stream.track.source == "annotations"
        lengths = np.bincount(stream.track.trials[stream.track.trials >= 0]) / stream.sfreq
        assert np.allclose(lengths, 4.1, atol=1.5 / stream.sfreq) or np.allclose(lengths[:-1], 4.1, atol=0.02)
    # the three left/right runs (R04, R08, R12); the hands/feet runs have no task of this paradigm
    assert [(f.test.run, [s.run for s in f.train]) for f in folds] == \
        [("0", ["1", "2"]), ("1", ["0", "2"]), ("2", ["0", "1"])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ev.process({"TS+LR": get_pipeline("TS+LR")})
    print(res.to_string())
    assert len(res) == 3
    assert res["score"].mean() > 0.55


def test_offline_and_pseudo_online_side_by_side(tmp_path):
    from neurodecode.evaluation import compare_offline

    ds = SyntheticMI(n_subjects=2, n_sessions=1, n_runs=2, n_trials=8, sfreq=SFREQ, random_state=8, snr=3)
    ev = _evaluation(tmp_path, ds, LeftRightImagery(fmin=8, fmax=30))
    table = compare_offline(ev, {"TS+LR": get_pipeline("TS+LR")})
    assert list(table[["subject", "session", "pipeline"]].itertuples(index=False, name=None)) == \
        [("1", "0", "TS+LR"), ("2", "0", "TS+LR")]
    assert (table["offline_score"] > 0.9).all()  # ROC-AUC on whole trials, shuffled folds
    assert (table["pseudo_online_nmcc"] > 0.6).all()
    assert (table["pseudo_online_nmcc"] < table["offline_score"]).all()


def test_declared_task_interval_sets_the_truth_and_the_training_windows(tmp_path):
    ds = SyntheticMI(n_subjects=1, n_sessions=1, n_runs=2, n_trials=6, sfreq=SFREQ, random_state=5)
    ev = _evaluation(tmp_path, ds, task_interval={"SyntheticMI": [0.5, 2.5]}, train_step=0.25)
    truth = ds.ground_truth(1, "0", "0").events
    stream = ev.streams(ds, 1)["0"][0]
    assert stream.track.source == "task_interval"
    expected = np.zeros(stream.data.shape[1], dtype=bool)
    for sample in truth["sample"]:
        expected[sample + 64:sample + 320] = True  # [cue + 0.5 s, cue + 2.5 s) at 128 Hz
    assert np.array_equal(stream.track.codes > 0, expected)
    fold = ev.folds(ds, 1)[0]
    _, y, _, meta = ev.training_set(fold, ["left_hand", "right_hand"])
    task = meta[meta["label"] != "idle"]
    train_truth = ds.ground_truth(1, "0", fold.train[0].run).events
    starts = train_truth["sample"].to_numpy()
    for start, stop in task[["start", "stop"]].itertuples(index=False):
        cue = starts[starts <= start].max()
        assert cue + 64 <= start and stop <= cue + 320  # wholly inside the declared period
    assert len(task) == 12 * 5  # 6 trials per class; (2.5 - 0.5 - 1) s / 0.25 s + 1 = 5 windows per trial


def test_task_interval_errors_name_the_dataset(tmp_path):
    ds = SyntheticMI(n_subjects=1, n_sessions=1, n_runs=2, n_trials=4, sfreq=SFREQ)
    with pytest.raises(ConfigError, match="task_interval of SyntheticMI starts at 2 s and ends at 1 s"):
        _evaluation(tmp_path, ds, task_interval={"SyntheticMI": [2.0, 1.0]})
    with pytest.raises(ConfigError, match="task_interval \\[0.0, 30.0\\] of SyntheticMI lasts 30 s, longer than "
                                          "its cue-to-cue period"):
        _evaluation(tmp_path, ds, task_interval=[0.0, 30.0], window=1.0).streams(ds, 1)
    from neurodecode.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="dataset in task_interval .* 'Kalunga2016'"):
        _evaluation(tmp_path, ds, task_interval={"Kalunga2016": [0, 4]})


def test_itr_per_selection_does_not_depend_on_the_step(tmp_path):
    """ITR counts one selection per trial: the step changes it only through the trial accuracy.

    With ~24 test trials the trial accuracy itself moves by a few trials from one step to the
    next (0.63-0.77 here), and Wolpaw's ITR is steep there, so the real decoder is checked
    against the formula at its own accuracy, and an oracle gives the same ITR at every step.
    """
    from neurodecode.evaluation.metrics import decision_metrics, wolpaw_itr

    ds = SyntheticMI(n_subjects=1, n_sessions=1, n_runs=2, n_trials=12, sfreq=SFREQ, random_state=6, snr=2.0)
    ev = _evaluation(tmp_path, ds, train_step=0.25)
    fold = ev.folds(ds, 1)[0]
    X, y, _, _ = ev.training_set(fold, ["left_hand", "right_hand"])
    est = ev.prepare(get_pipeline("TS+LR"), SFREQ).fit(X, y)
    test = fold.test
    cue_to_cue = test.track.cue_to_cue / SFREQ
    oracle_itr, oracle_per_window = {}, {}
    for step in (0.1, 0.25, 0.5):
        n_step = int(round(step * SFREQ))
        decisions = replay(est, test, N_LEN, n_step, n_timed=5)
        m = decision_metrics(decisions, test.trials(N_LEN), 3, n_step / SFREQ, test.duration, cue_to_cue=cue_to_cue)
        assert m["itr"] > 0
        assert m["itr"] == pytest.approx(wolpaw_itr(m["trial_accuracy"], 2, cue_to_cue), rel=1e-12)
        assert m["itr_window"] == pytest.approx(wolpaw_itr(m["accuracy"], 3, n_step / SFREQ), rel=1e-12)
        oracle = decisions.assign(prediction=decisions["truth"])
        o = decision_metrics(oracle, test.trials(N_LEN), 3, n_step / SFREQ, test.duration, cue_to_cue=cue_to_cue)
        oracle_itr[step], oracle_per_window[step] = o["itr"], o["itr_window"] * (n_step / SFREQ)
    # the oracle: 1 bit per trial every cue-to-cue period, whatever the step
    np.testing.assert_allclose(list(oracle_itr.values()), 60 / cue_to_cue, rtol=1e-12)
    # per window: log2(3) bits per decision times 60 / step, so the same bits per decision
    np.testing.assert_allclose(list(oracle_per_window.values()), np.log2(3) * 60, rtol=1e-12)


def test_false_activations_of_random_decisions_match_their_expected_rate():
    from neurodecode.evaluation.metrics import detector_curve, false_activations

    rng = np.random.default_rng(0)
    n, q, step = 60000, 0.3, 0.1
    fired = rng.random(n) < q
    d = pd.DataFrame({"truth": "idle", "prediction": np.where(fired, "a", "idle"), "scored": True})
    # a run starts where a decision fires after one that did not: q (1 - q) per decision
    assert false_activations(d, step) == pytest.approx(q * (1 - q) * 60 / step, rel=0.03)
    oracle = pd.DataFrame({"truth": ["idle", "a", "a", "idle", "b"], "prediction": ["idle", "a", "a", "idle", "b"],
                           "scored": True})
    assert false_activations(oracle, step) == 0.0
    # the threshold sweep: at threshold t a window with posterior p fires when p >= t, so with uniform
    # posteriors q = 1 - t and the false activations follow q (1 - q) 60 / step; TPR falls to 0
    d = d.assign(truth="idle", p_a=rng.random(n), p_idle=0.0)
    curve = detector_curve(d, step, thresholds=np.linspace(0, 1, 21)).set_index("threshold")
    for t in (0.25, 0.5, 0.75):
        assert curve.loc[t, "fa_per_min"] == pytest.approx((1 - t) * t * 60 / step, rel=0.05)
    d = d.assign(truth=np.where(rng.random(n) < 0.5, "a", "idle"))
    tpr = detector_curve(d, step, thresholds=np.linspace(0, 1, 21))["tpr"]
    assert tpr.iloc[0] == 1.0 and tpr.iloc[-1] == 0.0 and tpr.is_monotonic_decreasing
    assert detector_curve(d, step)["threshold"].iloc[0] == 0.5  # default: from 1/K (p_a, p_idle) to 1
