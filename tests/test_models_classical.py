"""Classical pipelines, the registry and MOABB-format YAML pipelines."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import clone

from neurodecode.datasets import SyntheticMI, SyntheticSSVEP
from neurodecode.errors import ConfigError, UnknownNameError
from neurodecode.models import (
    CCA,
    FBCCA,
    TRCA,
    get_pipeline,
    list_pipelines,
    load_pipeline_file,
    load_pipelines,
)
from neurodecode.utils import resource_path
from neurodecode.windows import trial_windows

PIPELINE_DIR = resource_path("pipelines")
MI_CLASSICAL = ["CSP+LDA", "FBCSP+LDA", "FBCSP+SVM", "TS+LR", "TS+SVM", "MDM", "FgMDM"]
MOTOR = "FC3 FC4 C5 C3 C1 Cz C2 C4 C6 CP3 CP4 Pz".split()
QUIET = {"blink": 0, "emg": 0, "pop": 0}
RECIPE = [{"bandpass": {"l_freq": 4.0, "h_freq": 38.0}}, {"resample": {"sfreq": 128.0}}]


@pytest.fixture(scope="module")
def mi_windows():
    """High-SNR synthetic motor imagery: session 0 trains, session 1 tests (40 trials per class each)."""
    ds = SyntheticMI(n_subjects=1, n_sessions=2, n_runs=1, n_trials=40, snr=3.0, channels=MOTOR,
                     artifact_rates=QUIET, random_state=1)
    w = trial_windows(ds, recipe=RECIPE, tmin=0.5, tmax=2.5, cache=False)
    train = (w.metadata["session"] == "0").to_numpy()
    return w, train


@pytest.mark.parametrize("name", MI_CLASSICAL)
def test_classical_mi_pipelines_decode_high_snr_imagery(mi_windows, name):
    w, train = mi_windows
    clf = get_pipeline(name, **({"sfreq": w.sfreq} if name.startswith("FBCSP") else {}))
    clf.fit(w.X[train], w.y[train])
    assert np.mean(clf.predict(w.X[~train]) == w.y[~train]) >= 0.9


def test_shuffled_labels_give_chance(mi_windows):
    w, train = mi_windows
    scores = []
    for random_state in range(5):
        y = np.random.default_rng(random_state).permutation(w.y[train])
        clf = get_pipeline("TS+LR").fit(w.X[train], y)
        scores.append(np.mean(clf.predict(w.X[~train]) == w.y[~train]))
    assert abs(np.mean(scores) - 0.5) <= 0.1, scores


def test_ssvep_decoders_on_synthetic_ssvep():
    ds = SyntheticSSVEP(n_subjects=1, n_sessions=2, n_runs=1, n_trials=10, snr=3.0,
                        channels="PO3 POz PO4 O1 Oz O2 Pz Cz".split(), artifact_rates=QUIET, random_state=3)
    w = trial_windows(ds, recipe=[{"bandpass": {"l_freq": 5.0, "h_freq": 45.0}}], tmin=0.0, tmax=2.0,
                      cache=False)
    train = (w.metadata["session"] == "0").to_numpy()
    for clf in [CCA(sfreq=w.sfreq), FBCCA(sfreq=w.sfreq), get_pipeline("FB-TS+LR", sfreq=w.sfreq)]:
        clf.fit(w.X[train], w.y[train])
        assert np.mean(clf.predict(w.X[~train]) == w.y[~train]) >= 0.9, clf
    proba = CCA(sfreq=w.sfreq).fit(w.X, w.y).predict_proba(w.X[:4])
    np.testing.assert_allclose(proba.sum(1), 1.0)


def test_trca_learns_phase_locked_responses():
    # TRCA needs responses phase-locked to the cue (synthetic SSVEP and Kalunga2016 are not).
    rng = np.random.default_rng(0)
    t = np.arange(256) / 128.0
    gain = rng.normal(size=(6, 1))
    labels = np.repeat(["10", "12", "15", "rest"], 12)
    X = np.stack([rng.normal(scale=1.5, size=(6, 256)) + (0 if c == "rest" else gain * np.sin(2 * np.pi * float(c) * t))
                  for c in labels])
    train = np.tile([True, True, False], 16)
    clf = TRCA(sfreq=128.0).fit(X[train], labels[train])
    pred, truth = clf.predict(X[~train]), labels[~train]
    task = truth != "rest"
    assert np.mean(pred[task] == truth[task]) >= 0.9  # rest has no reproducible response to learn
    assert np.mean(pred == truth) >= 0.75
    assert clf.decision_function(X[:2]).shape == (2, 4)


def test_cca_refuses_rest_and_encoded_labels():
    X = np.zeros((4, 2, 64))
    with pytest.raises(ConfigError, match="cannot learn class.*'rest'.*FB-TS\\+LR"):
        CCA(sfreq=64.0).fit(X, ["13", "13", "rest", "rest"])
    with pytest.raises(ConfigError, match="look like encoded labels.*mne_labels=True"):
        CCA(sfreq=64.0).fit(X, [0, 1, 2, 3])
    with pytest.raises(ConfigError, match="needs the sampling frequency"):
        CCA().fit(X, ["13", "17", "13", "17"])


def test_physionet_within_session_csp_lda_and_ts_lr(exported_settings, shared_data, tmp_path):
    from moabb.datasets import PhysionetMI
    from moabb.evaluations import WithinSessionEvaluation
    from moabb.paradigms import LeftRightImagery

    dataset = PhysionetMI(imagined=True, executed=False)
    dataset.subject_list = [1]
    evaluation = WithinSessionEvaluation(paradigm=LeftRightImagery(fmin=8, fmax=32), datasets=[dataset],
                                         overwrite=True, random_state=42, hdf5_path=str(tmp_path), save_model=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = evaluation.process({n: get_pipeline(n) for n in ["CSP+LDA", "TS+LR"]})
    scores = results.set_index("pipeline")["score"]
    # MOABB's own pipelines score 0.85 and 0.92 here.
    assert scores["CSP+LDA"] >= 0.8 and scores["TS+LR"] >= 0.8, scores.to_dict()
    assert scores["TS+LR"] == pytest.approx(0.92, abs=0.02)


def test_kalunga_best_ssvep_pipeline_reaches_070(exported_settings, shared_data, tmp_path):
    from moabb.datasets import Kalunga2016
    from moabb.evaluations import WithinSessionEvaluation
    from moabb.paradigms import SSVEP

    dataset = Kalunga2016()
    dataset.subject_list = list(range(1, 10))
    evaluation = WithinSessionEvaluation(paradigm=SSVEP(fmin=3, fmax=45, n_classes=4), datasets=[dataset],
                                         overwrite=True, random_state=42, hdf5_path=str(tmp_path), save_model=False,
                                         return_epochs=True, mne_labels=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = evaluation.process({"FB-TS+LR": get_pipeline("FB-TS+LR")})
    assert len(results) == 9
    assert results["score"].mean() >= 0.70, results["score"].tolist()  # 4 classes with rest: chance 0.25


def test_registry_names_and_close_matches():
    table = list_pipelines()
    assert set(MI_CLASSICAL) <= set(table["name"])
    assert {"ShallowFBCSPNet", "ATCNet", "EEGNet-8,2"} <= set(table["name"])
    assert set(list_pipelines("p300", deep=False)["name"]) == {"TS+LR", "TS+SVM", "xDAWN+TS+LR",
                                                              "xDAWN+TS+SVM", "sLDA"}
    with pytest.raises(UnknownNameError, match="unknown pipeline 'ShalowConvNet': did you mean ShallowConvNet"):
        get_pipeline("ShalowConvNet")
    with pytest.raises(UnknownNameError, match="did you mean CSP\\+LDA"):
        get_pipeline("CSP+LDAA")


def test_registry_is_built_from_the_shipped_yaml():
    from neurodecode.models import classical_pipelines

    pipelines = load_pipelines(PIPELINE_DIR)
    classical = classical_pipelines()
    assert len(classical) == 16
    assert set(pipelines) == set(classical) | {"ShallowConvNet", "DeepConvNet", "EEGNet-8,2", "EEGConformer",
                                               "ATCNet", "EEGNeX", "EEGTCNet", "EEGITNet"}
    for name, entry in classical.items():  # the registry reads each file; nothing is written twice
        assert entry["file"].parent == PIPELINE_DIR and entry["description"], name
        assert repr(pipelines[name].get_params()) == repr(get_pipeline(name).get_params()), name
    # parameters: sklearn names, or a bare name that one step has; unknown ones fail with close matches
    assert get_pipeline("TS+LR", estimator="lwf").get_params()["covariances__estimator"] == "lwf"
    assert get_pipeline("FBCSP+LDA", k=5, sfreq=128.0).get_params()["selectkbest__k"] == 5
    with pytest.raises(UnknownNameError, match="unknown parameter of pipeline TS\\+LR 'estimatr': did you mean "
                                               "estimator"):
        get_pipeline("TS+LR", estimatr="lwf")
    with pytest.raises(UnknownNameError, match="unknown parameter of network ShallowConvNet 'max_epoch'"):
        get_pipeline("ShallowConvNet", max_epoch=3)
    deep = load_pipeline_file(PIPELINE_DIR / "deep" / "EEGNet_8_2.yml")
    assert deep["training"]["max_epochs"] == 100
    assert clone(deep["pipeline"]).steps[-1][1].model == "EEGNet-8,2"
    assert set(load_pipelines(PIPELINE_DIR, paradigm="P300")) >= {"xDAWN+TS+LR", "sLDA"}


def test_fast_riemannian_steps_equal_pyriemann():
    from pyriemann import estimation, tangentspace
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from neurodecode.models.riemann import Covariances, TangentSpace

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 16, 128)) * 1e-5
    X[:30, :3] *= 2.0  # class "a" has more power on three channels
    X[0, :, :] = 0.0  # degenerate window: scikit-learn's shrinkage of 1 with zero trace
    X[1, :, :] = 1e-5 * rng.normal(size=(1, 128))  # rank one: shrinkage clipped at 1
    y = np.repeat(["a", "b"], 30)
    ours, theirs = Covariances("oas").transform(X), estimation.Covariances("oas").transform(X)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-30)
    fast = make_pipeline(Covariances("oas"), TangentSpace(), LogisticRegression()).fit(X[2:], y[2:])
    ref = make_pipeline(estimation.Covariances("oas"), tangentspace.TangentSpace(),
                        LogisticRegression()).fit(X[2:], y[2:])
    np.testing.assert_allclose(fast[:2].transform(X[2:]), ref[:2].transform(X[2:]), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fast.predict_proba(X[2:]), ref.predict_proba(X[2:]), rtol=1e-9, atol=1e-12)
    assert fast.score(X[2:], y[2:]) == ref.score(X[2:], y[2:]) == 1.0
    # one window at a time gives the batch's result; other settings fall back to pyRiemann
    np.testing.assert_allclose(fast.predict_proba(X[5:6])[0], fast.predict_proba(X[2:])[3], rtol=1e-12)
    assert np.array_equal(Covariances("lwf").transform(X[2:]), estimation.Covariances("lwf").transform(X[2:]))
    logeuclid = TangentSpace(metric="logeuclid").fit(ours[2:])
    np.testing.assert_allclose(logeuclid.transform(ours[2:]),
                               tangentspace.TangentSpace(metric="logeuclid").fit(ours[2:]).transform(ours[2:]))


def test_moabb_written_yaml_loads_through_the_same_path(tmp_path):
    # MOABB's CSP.yml as published in its repository.
    f = tmp_path / "CSP.yml"
    f.write_text("name: CSP + LDA\nparadigms:\n  - LeftRightImagery\ncitations:\n  - https://doi.org/x\n"
                 "pipeline:\n  - name: Covariances\n    from: pyriemann.estimation\n    parameters:\n"
                 "      estimator: oas\n  - name: CSP\n    from: pyriemann.spatialfilters\n    parameters:\n"
                 "      nfilter: 6\n  - name: LinearDiscriminantAnalysis\n"
                 "    from: sklearn.discriminant_analysis\n    parameters:\n      solver: svd\n"
                 "param_grid:\n  csp__nfilter: [2, 4]\n")
    config = load_pipeline_file(f)
    assert [type(s).__name__ for _, s in config["pipeline"].steps] == ["Covariances", "CSP",
                                                                        "LinearDiscriminantAnalysis"]
    assert config["param_grid"] == {"csp__nfilter": [2, 4]}


@pytest.mark.parametrize("text, message", [
    ("name: x\nparadigms: [SSVEP]\npipeline:\n  - name: TangentSpac\n    from: pyriemann.tangentspace\n",
     r"bad\.yml: step 1 \(TangentSpac\): pyriemann.tangentspace has no class 'TangentSpac'; did you mean TangentSpace"),
    ("name: x\nparadigms: [SSVEP]\npipeline:\n  - name: FilterBank\n    from: neurodecode.models\n",
     r"has no class 'FilterBank'; did you mean WindowFilterBank\? \(FilterBank was renamed WindowFilterBank"),
    ("name: x\nparadigms: [SSVEP]\npipeline:\n  - name: CCA\n    from: neurodecode.modelz\n",
     r"bad\.yml: step 1 \(CCA\): cannot import module 'neurodecode.modelz'"),
    ("name: x\nparadigms: [SSVEP]\npipeline:\n  - name: CCA\n    from: neurodecode.models\n"
     "  - name: SVC\n    from: sklearn.svm\n    parameters: {kernal: linear}\n",
     r"bad\.yml: step 2 \(SVC\): invalid parameters for SVC"),
    ("name: x\nparadigms: [SSVEP]\npipeline:\n  - name: CCA\n   from: neurodecode.models\n",
     r"bad\.yml line 5: invalid YAML"),
    ("name: x\nparadigms: [SSVEP]\npipeline:\n  - name: DeepClassifier\n    from: neurodecode.models\n"
     "training: {max_epoch: 3}\n", r"unknown training setting\(s\) \['max_epoch'\]"),
])
def test_bad_yaml_names_file_and_step(tmp_path, text, message):
    f = tmp_path / "bad.yml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_pipeline_file(f)
