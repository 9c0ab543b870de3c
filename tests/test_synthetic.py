"""Synthetic recordings: determinism, ground truth, realism, and decodability."""
import numpy as np
import pytest
from mne.decoding import CSP
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from neurodecode.datasets import (
    SyntheticMI,
    SyntheticP300,
    SyntheticSSVEP,
    available_subjects,
    get_dataset,
)
from neurodecode.errors import ConfigError


def test_same_seed_gives_identical_runs_in_any_order():
    a = SyntheticMI(n_subjects=2, random_state=3)
    first = a.generate_run(2, 1, 1)[0].get_data()
    b = SyntheticMI(n_subjects=2, random_state=3)
    b.generate_run(1, 0, 0)  # generating other runs first changes nothing
    assert np.array_equal(first, b.generate_run(2, 1, 1)[0].get_data())
    assert not np.array_equal(first, SyntheticMI(n_subjects=2, random_state=4).generate_run(2, 1, 1)[0].get_data())
    assert not np.array_equal(first, a.generate_run(2, 1, 0)[0].get_data())


def test_structure_and_ground_truth():
    ds = SyntheticMI(n_subjects=1, n_sessions=2, n_runs=3, n_trials=4, sfreq=200.0, feet=True)
    data = ds.get_data([1])[1]
    assert sorted(data) == ["0", "1"] and sorted(data["1"]) == ["0", "1", "2"]
    raw, truth = ds.generate_run(1, 0, 0, clean=True)
    assert raw.info["sfreq"] == 200.0 and len(raw.ch_names) == 31
    assert raw.get_montage() is not None
    assert truth.events["label"].value_counts().to_dict() == {"left_hand": 4, "right_hand": 4, "feet": 4}
    np.testing.assert_allclose(raw.annotations.onset, truth.events["onset"])
    assert list(raw.annotations.description) == list(truth.events["label"])
    gaps = truth.events["onset"].diff().dropna() - ds.interval[1]
    assert gaps.between(2.0, 3.0).all()  # idle periods of known length between trials
    assert truth.clean.shape == raw.get_data().shape
    assert set(truth.artifacts["kind"]) <= {"blink", "emg", "pop"}


def test_artifacts_follow_their_rates_and_sites():
    ds = SyntheticMI(n_subjects=1, n_trials=30, artifact_rates={"blink": 20, "emg": 5, "pop": 0})
    raw, truth = ds.generate_run(1, clean=True)
    minutes = raw.times[-1] / 60
    counts = truth.artifacts["kind"].value_counts()
    assert 0.6 < counts["blink"] / (20 * minutes) < 1.4
    assert "pop" not in counts
    assert all(set(chs) <= {"Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8"}
               for chs in truth.artifacts.query("kind == 'blink'")["channels"])
    # Blinks dominate frontal channels: residual power at Fp1 far above Oz's.
    residual = raw.get_data() - truth.clean
    fp1, oz = raw.ch_names.index("Fp1"), raw.ch_names.index("Oz")
    blink = truth.artifacts.query("kind == 'blink'").iloc[0]
    seg = slice(int(blink.onset * raw.info["sfreq"]), int((blink.onset + blink.duration) * raw.info["sfreq"]))
    assert np.ptp(residual[fp1, seg]) > 10 * np.ptp(residual[oz, seg])


def test_background_is_one_over_f_with_alpha_and_line_noise():
    from scipy.signal import welch

    raw, truth = SyntheticMI(n_subjects=1, n_trials=10).generate_run(1, clean=True)
    sf = raw.info["sfreq"]
    f, p_clean = welch(truth.clean[raw.ch_names.index("Oz")], sf, nperseg=int(4 * sf))
    assert p_clean[(f > 2) & (f < 4)].mean() > 3 * p_clean[(f > 35) & (f < 45)].mean()  # 1/f
    alpha = p_clean[(f > 8.5) & (f < 12)].mean()
    assert alpha > 2 * p_clean[(f > 14) & (f < 17)].mean()  # alpha peak
    f, p_raw = welch(raw.get_data()[0], sf, nperseg=int(4 * sf))
    assert p_raw[np.argmin(abs(f - 50))] > 5 * p_raw[(f > 44) & (f < 48)].mean()  # line noise


@pytest.fixture(scope="module")
def mi_epochs():
    from moabb.paradigms import LeftRightImagery

    ds = SyntheticMI(n_subjects=1, n_sessions=1, n_trials=40, snr=2.0, random_state=7)
    X, y, _ = LeftRightImagery().get_data(ds, [1])
    return X, y


@pytest.mark.slow
def test_high_snr_motor_imagery_csp_lda(mi_epochs):
    X, y = mi_epochs
    assert X.shape == (160, 31, 751)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    clf = make_pipeline(CSP(n_components=6), LinearDiscriminantAnalysis())
    assert cross_val_score(clf, X, y, cv=cv).mean() >= 0.9
    shuffled = np.random.default_rng(0).permutation(y)
    assert abs(cross_val_score(clf, X, shuffled, cv=cv).mean() - 0.5) <= 0.1


def test_ssvep_response_at_stimulus_frequency_and_harmonic():
    from moabb.paradigms import SSVEP

    ds = SyntheticSSVEP(n_subjects=1, n_sessions=1, n_runs=1, n_trials=10, snr=2.0)
    X, y, _ = SSVEP().get_data(ds, [1])
    oz = ds.channels.index("Oz")
    spectrum = np.abs(np.fft.rfft(X[:, oz], axis=-1)) ** 2
    freqs = np.fft.rfftfreq(X.shape[-1], 1 / 250.0)
    for label in ("13", "17", "21"):
        power = spectrum[y == label].mean(axis=0)
        others = [spectrum[y == o].mean(axis=0) for o in ("13", "17", "21") if o != label]
        for k in (1, 2):
            at = np.argmin(abs(freqs - k * float(label)))
            assert all(power[at] > 2 * o[at] for o in others)


def test_p300_target_erp_over_parietal():
    from moabb.paradigms import P300

    ds = SyntheticP300(n_subjects=1, n_sessions=1, n_runs=1, n_trials=30, snr=2.0)
    X, y, _ = P300().get_data(ds, [1])
    assert (y == "Target").sum() * 5 == (y == "NonTarget").sum()
    assert X.shape[-1] == 201  # 0.8 s at 250 Hz
    pz = ds.channels.index("Pz")
    times = np.arange(X.shape[-1]) / 250.0
    window = (times > 0.28) & (times < 0.42)
    diff = X[y == "Target", pz][:, window].mean() - X[y == "NonTarget", pz][:, window].mean()
    assert diff > 2.0  # µV, MOABB scales to µV


def test_registry_and_availability():
    ds = get_dataset("syntheticssvep", n_subjects=3)
    assert isinstance(ds, SyntheticSSVEP) and available_subjects(ds) == [1, 2, 3]


@pytest.mark.parametrize("kwargs, message", [
    (dict(channels=["Cz", "X9"]), r"channels \['X9'\] are not in the standard 10-05 montage"),
    (dict(artifact_rates={"sneeze": 1}), r"unknown artifact kind\(s\) \['sneeze'\]"),
    (dict(n_trials=0), "n_trials must be a positive integer"),
    (dict(sfreq=100.0), r"sfreq=100.0 Hz must exceed 2.5 x line_freq"),
])
def test_invalid_parameters(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        SyntheticMI(**kwargs)
