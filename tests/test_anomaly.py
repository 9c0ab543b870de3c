"""The anomaly audit: the hvEEGNet VAE, the classical detectors, cross-fitting, drop_anomalies, the files."""
from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from neurodecode.cli import main
from neurodecode.errors import ConfigError, UnknownNameError
from neurodecode.evaluation import anomaly as audit_mod
from neurodecode.evaluation.anomaly import anomaly_audit, cross_fit_folds, score_windows
from neurodecode.models.anomaly import DropAnomalies, PeakToPeakScorer, PotatoScorer, VAEAnomalyScorer
from neurodecode.windows import Windows
from neurodecode.windows.corruptions import CORRUPTIONS, corrupt

#: every test here trains a model, runs a benchmark or reads real recordings
pytestmark = pytest.mark.slow


def _windows(n_trials=120, n_chans=6, n_times=192, sfreq=128.0, n_runs=4, random_state=0) -> Windows:
    """Trials of a fixed spatial mixture of smooth sources (like EEG: correlated channels)."""
    rng = np.random.default_rng(random_state)
    mixing = rng.normal(size=(n_chans, 3))
    kernel = np.hanning(9) / np.hanning(9).sum()
    src = np.apply_along_axis(lambda s: np.convolve(s, kernel, "same"), -1, rng.normal(size=(n_trials, 3, n_times)))
    X = (np.einsum("cs,nst->nct", mixing, src) + 0.05 * rng.normal(size=(n_trials, n_chans, n_times))) * 1e-5
    per_run = n_trials // n_runs
    meta = pd.DataFrame({"subject": 1 + np.arange(n_trials) // (n_trials // 2), "session": "0",
                         "run": (np.arange(n_trials) // per_run % 2).astype(str),
                         "start_sample": np.arange(n_trials) % per_run * 400,
                         "stop_sample": np.arange(n_trials) % per_run * 400 + n_times, "label": "a", "trial": 0})
    meta["start_time"] = meta["start_sample"] / sfreq
    meta["stop_time"] = meta["stop_sample"] / sfreq
    return Windows(X=X.astype(np.float32), metadata=meta, ch_names=[f"E{i}" for i in range(n_chans)], sfreq=sfreq)


def test_corruptions_change_only_the_planted_trials():
    w = _windows(n_trials=20)
    subjects = w.metadata["subject"].to_numpy()
    for kind in CORRUPTIONS:
        X = corrupt(w.X, kind, np.array([3, 12]), sfreq=w.sfreq, subjects=subjects)
        changed = np.flatnonzero(~np.isclose(X, w.X, rtol=0, atol=1e-12).all(axis=(1, 2)))
        assert changed.tolist() == [3, 12], kind
    swapped = corrupt(w.X, "swap", np.array([0]), sfreq=w.sfreq)[0]
    sd = w.X[0].std(axis=1)
    a, b = np.argsort(sd)[-2:]
    assert np.array_equal(swapped[a], w.X[0, b].astype(np.float64)) and np.array_equal(swapped[b], w.X[0, a])
    other = corrupt(w.X, "other_subject", np.array([0]), sfreq=w.sfreq, subjects=subjects)[0]
    assert any(np.array_equal(other, w.X[i].astype(np.float64)) for i in np.flatnonzero(subjects != subjects[0]))
    with pytest.raises(UnknownNameError, match="did you mean swap"):
        corrupt(w.X, "swapp", np.array([0]), sfreq=w.sfreq)


def test_cross_fitting_never_scores_a_trial_with_a_model_that_saw_it(monkeypatch):
    w = _windows()
    w.X[:, 0, 0] = np.arange(len(w))  # each trial carries its index
    seen = []

    class Spy(PeakToPeakScorer):
        def fit(self, X, y=None):
            seen.append(("fit", set(X[:, 0, 0].astype(int))))
            return super().fit(X)

        def anomaly_score(self, X):
            seen.append(("score", set(X[:, 0, 0].astype(int))))
            return super().anomaly_score(X)

    monkeypatch.setitem(audit_mod.DETECTORS, "ptp", Spy)
    audit = score_windows(w, folds=4, detectors=("ptp",))
    fold = audit.table["fold"].to_numpy()
    fits = [s for k, s in seen if k == "fit"]
    assert len(fits) == 4
    for k, trained in enumerate(fits):
        test = set(np.flatnonzero(fold == k))
        assert trained and not trained & test
        # the calibration trials are held out of the fit too, and are not test trials
        calibration = seen[3 * k + 1][1]
        assert not calibration & trained and not calibration & test
        assert seen[3 * k + 2][1] == test


def test_cross_fit_groupings():
    meta = _windows(n_trials=40).metadata
    fold, how = cross_fit_folds(meta, 2, "subject")
    assert how == "subject" and fold.tolist() == [0] * 20 + [1] * 20
    fold, how = cross_fit_folds(meta, 4)  # 4 runs, every subject has 2: whole runs
    assert how == "run"
    runs = meta[["subject", "run"]].astype(str).agg("/".join, axis=1)
    assert (pd.Series(fold).groupby(runs.to_numpy()).nunique() == 1).all()
    fold, how = cross_fit_folds(meta, 5)  # too few runs: contiguous blocks of every run
    assert how == "block" and all(set(fold[runs == r]) == set(range(5)) for r in runs.unique())
    with pytest.raises(ConfigError, match="2 subjects cannot make 3"):
        cross_fit_folds(meta, 3, "subject")


def _two_heads(n_trials=240) -> Windows:
    """Two subjects whose channels mix the sources differently (two heads, two cap placements)."""
    a, b = _windows(n_trials=n_trials, random_state=3), _windows(n_trials=n_trials, random_state=4)
    first = (a.metadata["subject"] == 1).to_numpy()
    return dataclasses.replace(a, X=np.where(first[:, None, None], a.X, b.X))


def test_a_per_subject_reference_finds_another_subjects_trials(monkeypatch):
    w = _two_heads()
    subjects = w.metadata["subject"].to_numpy()
    rows = np.arange(5, len(w), 10)
    truth = np.isin(np.arange(len(w)), rows)
    planted = dataclasses.replace(w, X=corrupt(w.X, "other_subject", rows, sfreq=w.sfreq,
                                                subjects=subjects).astype(np.float32))
    auc = {}
    for reference in ("pooled", "subject"):
        table = score_windows(planted, folds=4, detectors=("potato",), reference=reference).table
        assert (table["reference"] == reference).all() and table["grouping"].iloc[0] == "run"
        auc[reference] = roc_auc_score(truth, table["potato_score"])
    # pooled, the other head's trial is one of the normal trials the detector learnt; per subject it is not
    assert auc["subject"] > 0.95 and auc["pooled"] < 0.75, auc

    planted.X[:, 0, 0] = np.arange(len(w))  # each trial carries its index
    seen = []

    class Spy(PotatoScorer):
        def fit(self, X, y=None):
            seen.append(set(X[:, 0, 0].astype(int)))
            return super().fit(X)

    monkeypatch.setitem(audit_mod.DETECTORS, "potato", Spy)
    fold = score_windows(planted, folds=4, detectors=("potato",), reference="subject").table["fold"].to_numpy()
    assert len(seen) == 4  # each fold's test run belongs to one subject: one model per fold
    for k, trained in enumerate(seen):
        test = np.flatnonzero(fold == k)
        (subject,) = set(subjects[test])
        assert trained and not trained & set(test) and set(subjects[list(trained)]) == {subject}


def test_conformal_flags_match_their_nominal_rate_on_clean_trials():
    w = _windows(n_trials=600, n_runs=4, random_state=1)
    audit = score_windows(w, folds=5, group_by="block", detectors=("potato", "ptp"), alpha=0.05)
    for det in ("potato", "ptp"):
        assert 0.02 <= audit.table[f"{det}_flag"].mean() <= 0.09, det
        p = audit.table[f"{det}_p"]
        assert 0.0 < p.min() and p.max() <= 1.0


def test_vae_finds_planted_corruptions_and_beats_its_untrained_encoder():
    w = _windows(n_trials=160, random_state=2)
    rows = np.arange(0, 160, 8)
    truth = np.zeros(160, dtype=bool)
    truth[rows] = True
    X = corrupt(w.X, "sign_flip", rows, sfreq=w.sfreq)
    trained = VAEAnomalyScorer(sfreq=w.sfreq, epochs=25, dtw_weight=0.1, random_state=0).fit(X[~truth][:100])
    untrained = VAEAnomalyScorer(sfreq=w.sfreq, epochs=0, random_state=0).fit(X[~truth][:100])
    test = np.r_[np.flatnonzero(~truth)[100:], rows]
    auc = roc_auc_score(truth[test], trained.anomaly_score(X[test]))
    auc0 = roc_auc_score(truth[test], untrained.anomaly_score(X[test]))
    assert auc > 0.9 and auc - auc0 > 0.2, (auc, auc0)
    errors = trained.channel_errors(X[test])
    assert errors.shape == (len(test), 6) and np.allclose(errors.max(axis=1), trained.anomaly_score(X[test]))
    assert trained.loss_curve_[-1] < trained.loss_curve_[0] and len(trained.loss_curve_) == 25
    recon = trained.reconstruct(X[1:4])  # clean trials (row 0 is flipped)
    assert recon.shape == (3, 6, 192)

    def corr(a, b):
        return np.mean([np.corrcoef(a[i, c], b[i, c])[0, 1] for i in range(3) for c in range(6)])

    own, other = corr(recon, X[1:4]), corr(recon, X[50:53])  # control: the same channels of other trials
    assert own > 0.5 and own - other > 0.4, (own, other)


def test_vae_is_a_scikit_learn_estimator():
    w = _windows(n_trials=40)
    vae = VAEAnomalyScorer(sfreq=w.sfreq, epochs=1, dtw_weight=0.0, random_state=3)
    assert clone(vae).get_params() == vae.get_params()
    fitted = vae.fit(w.X)
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in fitted.__dict__.items()}
    scores = fitted.anomaly_score(w.X)
    assert all(np.array_equal(before[k], fitted.__dict__[k]) if isinstance(before[k], np.ndarray)
               else before[k] is fitted.__dict__[k] for k in before)
    again = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(again.anomaly_score(w.X), scores)
    refit = clone(vae).fit(w.X)
    assert np.allclose(refit.anomaly_score(w.X), scores, rtol=1e-5)  # same random_state, same model
    assert np.array_equal(fitted.score_samples(w.X), -scores)


def test_potato_scorer_is_pyriemanns_potato():
    from pyriemann.artifact_detection import Potato
    from pyriemann.estimation import Covariances

    w = _windows(n_trials=60)
    X = w.X.astype(np.float64)
    ours = PotatoScorer().fit(X[:40]).anomaly_score(X[40:])
    cov = Covariances(estimator="oas")
    theirs = Potato(threshold=3.0).fit(cov.transform(X[:40])).transform(cov.transform(X[40:]))
    assert np.array_equal(ours, theirs)


def test_peak_to_peak_score_is_mnes_rule():
    w = _windows(n_trials=60)
    X = w.X.astype(np.float64)
    X[5, 2] *= 4
    score = PeakToPeakScorer().fit(X).anomaly_score(X)
    median = np.median(np.ptp(X, axis=-1), axis=0)
    for r in (1.5, 3.0):  # above r <=> some channel's peak-to-peak beyond r times its median, or below 1/r
        ptp = np.ptp(X, axis=-1)
        rejected = ((ptp > r * median) | (ptp < median / r)).any(axis=1)
        assert np.array_equal(score > r, rejected)
    assert int(np.argmax(score)) == 5


def test_drop_anomalies_fits_on_kept_training_trials_and_predicts_all():
    from pyriemann.classification import MDM
    from pyriemann.estimation import Covariances
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline

    w = _windows(n_trials=80)
    X = w.X.astype(np.float64)
    y = np.tile([0, 1], 40)
    X[y == 1] *= 1.5
    X[[0, 1, 2]] *= 40
    clf = DropAnomalies(make_pipeline(Covariances(), MDM()), detector="ptp", quantile=0.9).fit(X, y)
    assert int((~clf.kept_).sum()) == 8 and not clf.kept_[[0, 1, 2]].any()
    assert len(clf.predict(X)) == 80 and clf.predict_proba(X).shape == (80, 2)
    assert clone(clf).get_params()["quantile"] == 0.9
    assert np.array_equal(pickle.loads(pickle.dumps(clf)).predict(X), clf.predict(X))
    assert cross_val_score(clf, X, y, cv=4).mean() > 0.9
    with pytest.raises(ConfigError, match="drops every training trial of a class"):
        DropAnomalies(make_pipeline(Covariances(), MDM()), detector="ptp", threshold=0.0).fit(X, y)
    with pytest.raises(UnknownNameError, match="did you mean potato"):
        DropAnomalies(MDM(), detector="potatoe").fit(X, y)


def test_bad_input_gets_one_clear_error():
    w = _windows(n_trials=120)
    with pytest.raises(ConfigError, match="10 trials; training the VAE on 5 cross-fitted folds needs at least 32"):
        score_windows(dataclasses.replace(w, X=w.X[:10], metadata=w.metadata.iloc[:10]))
    short = dataclasses.replace(w, X=w.X[..., :64])
    with pytest.raises(ConfigError, match="64 samples .* shorter than the encoder's receptive field of 120 samples"):
        score_windows(short)
    nan = w.X.copy()
    nan[7, 1, 3] = np.nan
    with pytest.raises(ConfigError, match="1 trials hold NaN samples \\(subject 1 session 0 run 0 at 21.88 s\\)"):
        score_windows(dataclasses.replace(w, X=nan))
    with pytest.raises(ConfigError, match="has no parameter 'epoch'"):
        score_windows(w, vae_params={"epoch": 3})
    with pytest.raises(UnknownNameError, match="did you mean subject"):
        score_windows(w, reference="subjects")
    with pytest.raises(ConfigError, match="subject 1 has 0 training trials in cross-fitting fold 1; each needs at "
                                          "least 20.*not group_by='subject'"):
        score_windows(w, folds=2, group_by="subject", detectors=("ptp",), reference="subject")

    class NoEvents:
        code, event_id, subject_list = "Resting", {}, [1]

    with pytest.raises(ConfigError, match="Resting has no events to cut trials around; .*--sliding LENGTH"):
        anomaly_audit(NoEvents())


def test_cli_anomaly_audit_writes_its_files(tmp_path, capsys):
    out = tmp_path / "audit"
    code = main(["audit", "SyntheticMI", "--anomaly", "--epochs", "1", "--folds", "2", "--top", "3", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "160 trials of 2 subject(s), 2 cross-fitted folds by run, pooled reference" in printed
    table = pd.read_csv(out / "anomalies.csv")
    assert len(table) == 160 and table["rank"].tolist() == list(range(1, 161))
    for col in ("dataset", "subject", "session", "run", "onset", "label", "anomaly_score", "contrib_C3",
                "top_channel", "potato_score", "ptp_score", "rules_score", "vae_flag", "audit_n_flat"):
        assert col in table, col
    contrib = table.filter(like="contrib_")
    assert np.allclose(contrib.sum(axis=1), 1.0)
    per_run = pd.read_csv(out / "anomalies_per_run.csv")
    assert len(per_run) == 8 and per_run["n_trials"].sum() == 160
    assert len(pd.read_csv(out / "anomalies_per_subject.csv")) == 2
    html = (out / "anomalies.html").read_text()
    assert "Score distribution per subject" in html and "Rank 3" in html and "Rank 4" not in html
    assert not list(out.glob(".*"))  # no partial file left


def test_cli_anomaly_options_without_anomaly(capsys):
    assert main(["audit", "SyntheticMI", "--folds", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["neurodecode: error: --sliding, --recipe, --folds, --epochs and --reference set the anomaly "
                   "audit; add --anomaly"]
    assert main(["audit", "SyntheticMI", "--reference", "subject"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == err


@pytest.mark.realdata
def test_anomaly_audit_on_kalunga_joins_the_run_audit(shared_data):
    audit = anomaly_audit("Kalunga2016", [1, 2], detectors=("potato", "ptp", "rules"), folds=2)
    table = audit.table
    assert len(table) == 128 and set(table["subject"]) == {1, 2}
    assert table["grouping"].iloc[0] == "run"  # two runs each: whole runs per fold
    assert table["audit_n_flat"].notna().all() and (table["audit_n_nan"] == 0).all()
    assert sorted(table["rank"]) == list(range(1, 129))


def test_drop_anomalies_in_a_moabb_yaml_pipeline(tmp_path):
    from neurodecode.models import load_pipeline_file

    path = tmp_path / "drop.yml"
    path.write_text("name: TS+LR drop potato\nparadigms: [SSVEP]\npipeline:\n  - name: DropAnomalies\n"
                    "    from: neurodecode.models.anomaly\n    parameters: {estimator: TS+LR, detector: potato, "
                    "quantile: 0.9}\n")
    pipeline = load_pipeline_file(path)["pipeline"]
    w = _windows(n_trials=40)
    y = np.repeat([0, 1], 20)
    fitted = pipeline.fit(w.X.astype(np.float64), y)
    step = fitted.steps[-1][1]
    assert int(step.kept_.sum()) == 36 and [n for n, _ in step.estimator_.steps] == [
        "covariances", "tangentspace", "logisticregression"]
    assert fitted.predict_proba(w.X).shape == (40, 2)
