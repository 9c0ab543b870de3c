"""Recipes and steps: validation, digest, causality, artifact cleaning, bad input."""
import subprocess
import sys

import mne
import numpy as np
import pytest

from neurodecode.datasets import SyntheticMI
from neurodecode.errors import ConfigError, InvalidDataError, UnknownNameError
from neurodecode.preprocessing import Recipe, list_steps

MI_RECIPE = [{"pick": {"types": ["eeg"]}}, {"notch": {"freqs": [50.0]}},
             {"bandpass": {"l_freq": 8.0, "h_freq": 30.0}}]


def test_digest_is_stable_across_processes():
    recipe = Recipe(MI_RECIPE, name="mi")
    code = ("from neurodecode.preprocessing import Recipe; import sys, yaml; "
            "print(Recipe.from_yaml(sys.stdin.read()).digest)")
    out = subprocess.run([sys.executable, "-c", code], input=recipe.to_yaml(),
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == recipe.digest
    assert len(recipe.digest) == 16


@pytest.mark.parametrize("step, param, value", [
    ("bandpass", "l_freq", 7.0), ("bandpass", "h_freq", 31.0), ("bandpass", "method", "fir"),
    ("bandpass", "order", 5), ("bandpass", "causal", True), ("notch", "freqs", [60.0]),
    ("notch", "width", 1.0), ("pick", "types", ["eeg", "eog"]), ("pick", "exclude", ["Cz"]),
])
def test_digest_changes_with_every_parameter(step, param, value):
    base = Recipe(MI_RECIPE)
    changed = [dict(s) for s in MI_RECIPE]
    for s in changed:
        if step in s:
            s[step] = {**s[step], param: value}
    assert Recipe(changed).digest != base.digest


def test_digest_changes_with_library_version(monkeypatch):
    from neurodecode.preprocessing import recipe as module

    before = Recipe(MI_RECIPE).digest
    real = module.version
    monkeypatch.setattr(module, "version", lambda d: "0.0.1" if d == "mne" else real(d))
    module._installed.cache_clear()
    try:
        assert Recipe(MI_RECIPE).digest != before
    finally:
        module._installed.cache_clear()


def test_digest_ignores_int_vs_float_spelling():
    a = Recipe([{"bandpass": {"l_freq": 8, "h_freq": 30}}])
    b = Recipe([{"bandpass": {"l_freq": 8.0, "h_freq": 30.0}}])
    assert a.digest == b.digest


def test_yaml_round_trip_and_step_listing(tmp_path):
    path = tmp_path / "r.yml"
    path.write_text(Recipe(MI_RECIPE, name="mi").to_yaml())
    again = Recipe.from_yaml(path)
    assert again.name == "mi" and again == Recipe(MI_RECIPE)
    assert [s.name for s in again.steps] == ["pick", "notch", "bandpass"]
    steps = list_steps()
    for name in ("pick", "montage", "rereference", "notch", "bandpass", "highpass", "lowpass",
                 "resample", "crop", "bad_channels", "ica", "reject_peak_to_peak", "harmonise",
                 "euclidean_alignment", "exp_moving_standardize", "filter_bank"):
        assert name in steps


def test_unknown_step_lists_close_matches():
    with pytest.raises(UnknownNameError, match="bandpass"):
        Recipe([{"bandpas": {}}])


def test_unknown_parameter_lists_valid_ones():
    with pytest.raises(ConfigError, match=r"no parameter 'lfreq'.*l_freq, h_freq, method, order, causal"):
        Recipe([{"bandpass": {"lfreq": 8}}])


def test_wrong_parameter_type():
    with pytest.raises(ConfigError, match="l_freq must be a number"):
        Recipe([{"bandpass": {"l_freq": "8 Hz"}}])


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("name: x\nsteps:\n  - bandpass: {l_freq: 8\n  - notch: {}\n")
    with pytest.raises(ConfigError, match=r"bad.yml line \d+: invalid YAML"):
        Recipe.from_yaml(path)


def test_window_step_before_raw_step_is_refused():
    with pytest.raises(ConfigError, match="must come after every raw step"):
        Recipe(["reject_peak_to_peak", "notch"])


def _noise_raw(n_ch=4, n_times=5000, sfreq=250.0, random_state=0):
    rng = np.random.default_rng(random_state)
    info = mne.create_info([f"E{i}" for i in range(n_ch)], sfreq, "eeg")
    return mne.io.RawArray(rng.standard_normal((n_ch, n_times)) * 1e-5, info, verbose=False)


@pytest.mark.parametrize("steps", [
    [{"bandpass": {"l_freq": 8.0, "h_freq": 30.0, "method": "iir", "causal": True}}],
    [{"bandpass": {"l_freq": 8.0, "h_freq": 30.0, "method": "fir", "causal": True}}],
    [{"highpass": {"l_freq": 0.5, "causal": True}}, {"lowpass": {"h_freq": 40.0, "method": "fir", "causal": True}}],
    [{"notch": {"freqs": [50.0], "causal": True}}],
    [{"resample": {"sfreq": 125.0, "causal": True}}],
    [{"exp_moving_standardize": {}}],
    [{"rereference": {}}, {"crop": {"tmin": 1.0}}],
])
def test_causal_steps_never_use_future_samples(steps):
    recipe = Recipe(steps)
    assert all(s.is_causal for s in recipe.steps)
    raw = _noise_raw()
    cut = 3000
    changed = raw.copy()
    changed._data[:, cut:] = np.random.default_rng(1).standard_normal((4, 2000)) * 1e-4
    a = recipe.apply_raw(raw).get_data()
    b = recipe.apply_raw(changed).get_data()
    ratio = a.shape[1] / raw.n_times
    limit = int(cut * ratio) - int(recipe.steps[-1].get_params().get("tmin", 0) * 250 * ratio)
    assert np.array_equal(a[:, :limit], b[:, :limit])  # bit-identical before the change
    assert not np.allclose(a[:, limit + 5:], b[:, limit + 5:])


def test_zero_phase_filter_does_use_the_future():
    recipe = Recipe([{"bandpass": {"l_freq": 8.0, "h_freq": 30.0}}])
    raw = _noise_raw()
    changed = raw.copy()
    changed._data[:, 3000:] *= 10
    a, b = recipe.apply_raw(raw).get_data(), recipe.apply_raw(changed).get_data()
    assert not np.array_equal(a[:, 2990:3000], b[:, 2990:3000])


def test_causal_variant_of_a_recipe():
    causal = Recipe(MI_RECIPE).causal()
    assert [s.get_params().get("causal") for s in causal.steps] == [None, True, True]
    with pytest.raises(ConfigError, match="'ica' has no causal form"):
        Recipe(["ica"]).causal()


def _synthetic_run():
    ds = SyntheticMI(n_subjects=1, n_sessions=1, n_runs=1, n_trials=20, snr=1.0,
                     artifact_rates={"blink": 12, "emg": 6, "pop": 1})
    return ds.generate_run(1, clean=True)


def test_ica_cleaning_removes_blinks_and_emg_and_keeps_the_brain_signal():
    raw, truth = _synthetic_run()
    clean = mne.io.RawArray(truth.clean, raw.info.copy(), verbose=False)
    base = [{"highpass": {"l_freq": 1.0}}, {"lowpass": {"h_freq": 40.0}}]
    reference = Recipe(base).apply_raw(clean).get_data(picks="eeg")
    filtered = Recipe(base).apply_raw(raw).get_data(picks="eeg")
    cleaned = Recipe(base + ["ica"]).apply_raw(raw).get_data(picks="eeg")

    def power(x, kind):
        mask = np.zeros(raw.n_times, dtype=bool)
        for a in truth.artifacts[truth.artifacts["kind"] == kind].itertuples():
            mask[int(a.onset * raw.info["sfreq"]):int((a.onset + a.duration) * raw.info["sfreq"])] = True
        return ((x - reference)[:, mask] ** 2).mean()

    # measured: blink residual 61.0 -> 3.2 uV^2 (19x), EMG 11.2 -> 5.3 uV^2 (2.1x)
    assert power(filtered, "blink") / power(cleaned, "blink") > 10
    assert power(filtered, "emg") / power(cleaned, "emg") > 1.6
    # measured: correlation with the clean truth 0.956 -> 0.979
    r_filtered = np.corrcoef(filtered.ravel(), reference.ravel())[0, 1]
    r_cleaned = np.corrcoef(cleaned.ravel(), reference.ravel())[0, 1]
    assert r_cleaned > 0.97 and r_cleaned > r_filtered


# -- bad input ----------------------------------------------------------------
def test_cutoff_at_nyquist_is_refused():
    with pytest.raises(InvalidDataError, match=r"cutoff 125 Hz is at or above the Nyquist frequency 125 Hz"):
        Recipe([{"lowpass": {"h_freq": 125.0}}]).apply_raw(_noise_raw())


def test_recording_with_every_channel_bad():
    raw = _noise_raw(n_ch=6)
    raw._data[:] = 0.0
    with pytest.raises(InvalidDataError, match="every channel is flat"):
        Recipe([{"bad_channels": {"interpolate": False}}]).apply_raw(raw)


def test_too_many_bad_channels_is_refused():
    raw, _ = _synthetic_run()
    raw._data[:20] = 0.0  # 20 of 31 EEG channels flat
    with pytest.raises(InvalidDataError, match=r"(\d+) of 31 channels are bad") as err:
        Recipe(["bad_channels"]).apply_raw(raw)
    assert int(str(err.value).split("bad_channels: ")[1].split(" of")[0]) >= 20


def test_bad_channels_finds_and_repairs_a_flat_and_a_noisy_channel(shared_data):
    from neurodecode.datasets import get_dataset

    raw = get_dataset("PhysionetMI").get_data([1])[1]["0"]["0"].load_data()
    raw.crop(0, 60)
    original = raw.get_data(picks=["C3"])[0]
    raw._data[raw.ch_names.index("C3")] = 0.0
    raw._data[raw.ch_names.index("Pz")] += np.random.default_rng(0).standard_normal(raw.n_times) * 3e-4
    marked = Recipe([{"bad_channels": {"interpolate": False}}]).apply_raw(raw)
    # T8 and T10 are flagged on the untouched recording too (high-frequency noise)
    assert set(marked.info["bads"]) == {"C3", "Pz", "T8", "T10"}
    out = Recipe(["bad_channels"]).apply_raw(raw)
    assert out.info["bads"] == []  # interpolated and reset
    repaired = Recipe([{"highpass": {"l_freq": 1.0}}]).apply_raw(out).get_data(picks=["C3"])[0]
    truth = Recipe([{"highpass": {"l_freq": 1.0}}]).apply_raw(
        mne.io.RawArray(original[None], mne.create_info(["C3"], raw.info["sfreq"], "eeg"),
                        verbose=False)).get_data()[0]
    assert np.corrcoef(repaired, truth)[0, 1] > 0.8


def test_step_needing_positions_on_data_without_any():
    raw = _noise_raw()
    with pytest.raises(InvalidDataError, match="'harmonise' needs electrode positions.*add a 'montage' step"):
        Recipe([{"harmonise": {"channels": ["E0", "E1", "E2", "Cz"]}}]).apply_raw(raw)
    with pytest.raises(InvalidDataError, match="'bad_channels' needs electrode positions"):
        Recipe(["bad_channels"]).apply_raw(raw)


def test_shipped_recipes_load():
    from neurodecode.utils import resource_names

    recipes = {name: Recipe.from_yaml(name) for name in resource_names("recipes")}
    assert sorted(recipes) == ["cross_headset", "mi_causal", "mi_clean"]
    assert len({r.digest for r in recipes.values()}) == 3
    assert all(s.is_causal for s in recipes["mi_causal"].steps)
    assert [s.name for s in recipes["cross_headset"].window_steps] == ["euclidean_alignment"]
