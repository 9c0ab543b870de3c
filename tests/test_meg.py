"""MEG end to end: channel types as a setting, per-type scaling, Maxwell filtering, SyntheticMEG."""
from __future__ import annotations

import logging
import warnings
from collections import Counter

import numpy as np
import pytest

from neurodecode.benchmark import run_benchmark
from neurodecode.datasets import SyntheticMEG, get_dataset
from neurodecode.datasets.local import LocalDataset
from neurodecode.errors import ConfigError
from neurodecode.preprocessing import Recipe

MEG = {"name": "SyntheticMEG", "params": {"n_subjects": 1, "n_trials": 15}}


def _paradigm(ch_types, n_triplets=10):
    channels = SyntheticMEG().motor_sensors(n_triplets, ch_types)
    return {"name": "LeftRightImagery", "params": {"fmin": 8, "fmax": 30, "channels": channels}, "ch_types": ch_types}


def test_synthetic_meg_has_real_neuromag_geometry_and_the_usual_truth():
    ds = get_dataset("SyntheticMEG", n_subjects=1, n_trials=3)
    raw, truth = ds.generate_run(1)
    types = Counter(raw.get_channel_types())
    assert types == {"mag": 102, "grad": 204}
    # mne.simulation.add_ecg adds the cardiac field on the sensors: the only difference with ecg=False
    quiet, _ = SyntheticMEG(n_subjects=1, n_trials=3, ecg=False).generate_run(1)
    cardiac = raw.get_data(picks="mag") - quiet.get_data(picks="mag")
    assert np.abs(cardiac).max() > 1e-13
    assert raw.info["dev_head_t"] is not None
    assert sorted(truth.events["label"]) == ["left_hand"] * 3 + ["right_hand"] * 3
    assert list(raw.annotations.description) == list(truth.events["label"])
    # field strengths of real MEG: ~100 fT on magnetometers, ~1-10 pT/m on gradiometers
    assert 1e-14 < np.std(raw.get_data(picks="mag")) < 1e-11
    assert 1e-13 < np.std(raw.get_data(picks="grad")) < 1e-10
    assert np.array_equal(ds.generate_run(1)[0].get_data(), raw.get_data())  # same random_state, same data


@pytest.mark.slow
def test_mixed_mag_and_grad_decode_through_the_benchmark_and_shuffled_labels_do_not(tmp_path):
    cfg = {"datasets": [MEG], "paradigm": _paradigm(["mag", "grad"]), "recipe": [{"scale": {}}],
           "pipelines": ["TS+LR"], "evaluations": ["within-session"], "output": str(tmp_path / "out")}
    result = run_benchmark(cfg, quiet=True, report=False)
    row = result.results.iloc[0]
    assert row["error"] == "" and row["channels"] == 30 and row["score"] > 0.8
    # control: the same windows with the labels shuffled score at chance
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from neurodecode.datasets import with_channel_types
    from neurodecode.moabb_api import make_paradigm
    from neurodecode.models import get_pipeline
    from neurodecode.preprocessing import with_recipe

    ds = with_channel_types(get_dataset("SyntheticMEG", n_subjects=1, n_trials=15), ["mag", "grad"])
    paradigm = with_recipe(make_paradigm("LeftRightImagery", cfg["paradigm"]["params"]), [{"scale": {}}], cache=False)
    X, y, _ = paradigm.get_data(ds, [1])
    assert X.shape[1] == 30
    shuffled = np.random.default_rng(0).permutation(y)
    chance = [cross_val_score(get_pipeline("TS+LR"), X, np.random.default_rng(k).permutation(y), scoring="roc_auc",
                              cv=StratifiedKFold(5, shuffle=True, random_state=k)).mean() for k in range(5)]
    assert abs(np.mean(chance) - 0.5) < 0.1 and shuffled.shape == y.shape


@pytest.mark.parametrize("ch_types, n_channels", [("mag", 10), ("grad", 20)])
def test_magnetometers_alone_and_gradiometers_alone(tmp_path, ch_types, n_channels):
    cfg = {"datasets": [MEG], "paradigm": _paradigm(ch_types), "pipelines": ["TS+LR"],
           "evaluations": ["within-session"], "output": str(tmp_path / "out")}
    row = run_benchmark(cfg, quiet=True, report=False).results.iloc[0]
    assert row["error"] == "" and row["channels"] == n_channels and row["score"] > 0.8


def test_pseudo_online_replay_runs_on_meg(tmp_path):
    cfg = {"datasets": [MEG], "paradigm": _paradigm(["mag", "grad"], 6), "recipe": [{"scale": {}}],
           "pipelines": ["TS+LR"], "evaluations": [{"type": "pseudo-online", "window": 1.0, "step": 0.25}],
           "output": str(tmp_path / "out")}
    rows = run_benchmark(cfg, quiet=True, report=False).results
    assert len(rows) == 2 and (rows["error"] == "").all()  # one row per replayed run
    assert (rows["channels"] == 18).all() and rows["score"].mean() > 0.55


def test_scale_brings_every_type_to_one_order_of_magnitude():
    raw, _ = SyntheticMEG(n_subjects=1, n_trials=2, ecg=False).generate_run(1)
    before = {t: np.std(raw.get_data(picks=t)) for t in ("mag", "grad")}
    assert before["grad"] / before["mag"] > 10  # T/m against T
    scaled = Recipe([{"scale": {}}]).apply_raw(raw)
    after = {t: np.std(scaled.get_data(picks=t)) for t in ("mag", "grad")}
    assert 0.1 < after["grad"] / after["mag"] < 10  # fT/cm against fT
    assert np.allclose(scaled.get_data(picks="mag"), raw.get_data(picks="mag") * 1e15)


def test_maxwell_is_skipped_on_data_already_sss_filtered(shared_data, caplog):
    import mne

    raw = mne.io.read_raw_fif(shared_data / "formats" / "MEG" / "sample_audvis_trunc_raw_sss.fif", preload=True,
                              verbose="error")
    with caplog.at_level(logging.INFO, logger="neurodecode"):
        out = Recipe([{"maxwell": {}}]).apply_raw(raw)
    assert "maxwell skipped, SSS already applied" in caplog.text
    assert np.array_equal(out.get_data(), raw.get_data())
    assert Recipe([{"maxwell": {}}]).causal().steps[0].is_causal  # SSS alone is spatial: causal
    with pytest.raises(ConfigError, match="no causal form"):
        Recipe([{"maxwell": {"st_duration": 10.0}}]).causal()


def test_shared_meg_recordings_keep_their_types_and_compensation(shared_data):
    ds = LocalDataset(root=shared_data / "formats" / "MEG", pattern="*.ds", events={"none": 1},
                      interval=[0, 0.1], paradigm="p300", allow_no_events=True)
    raw = ds.get_data([1])[1]["0"]["0"]
    assert Counter(raw.get_channel_types())["ref_meg"] == 28
    assert raw.compensation_grade == 0  # the CTF grade as recorded, reported by MNE
    assert Recipe([{"maxwell": {"compensation": 0}}]).steps[0].compensation == 0


def test_asking_for_meg_on_an_eeg_dataset_names_the_dataset_and_its_types(tmp_path):
    cfg = {"datasets": [{"name": "SyntheticMI", "params": {"n_subjects": 1}}],
           "paradigm": {"name": "LeftRightImagery", "ch_types": "mag"}, "pipelines": ["TS+LR"],
           "evaluations": ["within-session"], "output": str(tmp_path / "out")}
    with pytest.raises(ConfigError, match="dataset SyntheticMI has no mag channels: it has eeg"):
        run_benchmark(cfg, quiet=True, report=False)
    with pytest.raises(ConfigError, match="unknown channel type 'magg' in ch_types: did you mean mag"):
        run_benchmark({**cfg, "paradigm": {"name": "LeftRightImagery", "ch_types": ["magg"]}}, quiet=True)


def test_mixed_types_without_scaling_warn_why(tmp_path):
    from neurodecode.benchmark import load_config

    cfg = {"datasets": [MEG], "paradigm": _paradigm(["mag", "grad"]), "pipelines": ["TS+LR"],
           "evaluations": ["within-session"], "output": str(tmp_path / "out")}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_config(cfg)
    assert any("mix units (T, T/m, V)" in str(w.message) and "add a 'scale' step" in str(w.message)
               for w in caught)
