"""The denoise step: EEGdenoiseNet's definitions, the shipped models on held-out pairs, causal streaming,
safe files and one-line errors."""
from __future__ import annotations

import pickle
import subprocess
import sys

import mne
import numpy as np
import pytest

from neurodecode.errors import ConfigError, InvalidDataError, UnknownNameError
from neurodecode.preprocessing import Recipe
from neurodecode.preprocessing.denoising import load_denoiser, mix_at_snr, scores, shipped_denoisers, snr_db
from neurodecode.preprocessing.denoising.sources import SPLIT, eegdenoisenet_eog, synthetic_emg
from neurodecode.preprocessing.streaming import StreamingRecipe

#: every test here trains a model, runs a benchmark or reads real recordings
pytestmark = pytest.mark.slow


def _raw(n_ch=3, seconds=12.0, sfreq=256.0, random_state=0):
    rng = np.random.default_rng(random_state)
    info = mne.create_info(["Fp1", "Cz", "Oz", "STI"][:n_ch] + ["STI"], sfreq, ["eeg"] * n_ch + ["stim"])
    data = np.vstack([rng.standard_normal((n_ch, int(seconds * sfreq))) * 1e-5, np.zeros((1, int(seconds * sfreq)))])
    return mne.io.RawArray(data, info, verbose=False)


# -- EEGdenoiseNet's definitions -------------------------------------------------------------
def test_snr_definition_matches_the_shared_eegdenoisenet_pairs(shared_data):
    d = eegdenoisenet_eog(shared_data / "eegdenoisenet-eog")
    measured = snr_db(d["clean_levels"], d["contaminated_levels"] - d["clean_levels"])
    assert measured.shape == (10, 51)
    np.testing.assert_allclose(measured, np.repeat(d["snr_db"][:, None], 51, axis=1), atol=1e-9)
    # and our mixing reproduces their contaminated segments from clean + EOG
    remixed = mix_at_snr(d["clean_levels"], np.repeat(d["eog"][None], 10, axis=0), d["snr_db"][:, None])
    np.testing.assert_allclose(remixed, d["contaminated_levels"], rtol=1e-9, atol=1e-9)


def test_scores_on_controls():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 512))
    same = scores(x, x, 256.0)
    assert np.allclose(same["cc"], 1.0) and np.allclose(same["rrmse_t"], 0.0) and np.allclose(same["rrmse_f"], 0.0)
    other = scores(rng.standard_normal((50, 512)), x, 256.0)
    assert abs(other["cc"].mean()) < 0.05 and 1.3 < other["rrmse_t"].mean() < 1.5  # independent: sqrt(2)
    assert np.allclose(scores(2 * x, x, 256.0)["rrmse_t"], 1.0)


def test_split_is_disjoint_and_covers_the_51_pairs():
    parts = [set(v.tolist()) for v in SPLIT.values()]
    assert [len(p) for p in parts] == [30, 10, 11]
    assert set().union(*parts) == set(range(51)) and sum(map(len, parts)) == 51


# -- the shipped models on held-out data ---------------------------------------------------------
@pytest.fixture(scope="module")
def test_pairs(shared_data):
    return eegdenoisenet_eog(shared_data / "eegdenoisenet-eog", "test")


def test_shipped_models_are_small_and_declare_what_they_are():
    shipped = shipped_denoisers()
    assert sorted(shipped) == ["emg", "emg-causal", "eog", "eog-causal"]
    for name in shipped:
        den = load_denoiser(name)
        assert den.artifact == name.split("-")[0] and den.causal == name.endswith("-causal")
        assert (den.sfreq, den.n_times) == (256.0, 512) and den.n_params < 10_000
        assert "scripts/train_denoisers.py" in den.trained_on


def test_eog_model_removes_held_out_real_eog(test_pairs):
    y, x = test_pairs["contaminated_levels"], test_pairs["clean_levels"]
    none = scores(y, x, 256.0)
    for name, floor in (("eog", 0.80), ("eog-causal", 0.70)):
        got = scores(load_denoiser(name).clean(y), x, 256.0)
        assert got["cc"].mean() > floor, name
        assert got["cc"].mean() > none["cc"].mean() + 0.2 and got["rrmse_t"].mean() < none["rrmse_t"].mean() / 2
        # the gain is largest where the EOG is strongest
        assert got["cc"][0].mean() - none["cc"][0].mean() > got["cc"][-1].mean() - none["cc"][-1].mean()


def test_clean_eeg_passes_almost_unchanged(test_pairs):
    x = test_pairs["clean"]
    for name in shipped_denoisers():
        assert scores(load_denoiser(name).clean(x), x, 256.0)["cc"].mean() >= 0.98, name


def test_emg_model_on_semi_synthetic_mixtures(test_pairs):
    x = test_pairs["clean"]
    emg = synthetic_emg(np.random.default_rng(123), len(x), vary=False)
    for snr in (-7.0, 2.0):
        y = mix_at_snr(x, emg, snr)
        before, after = scores(y, x, 256.0)["cc"].mean(), scores(load_denoiser("emg").clean(y), x, 256.0)["cc"].mean()
        assert after > before + (0.2 if snr < 0 else 0.02), snr


# -- networks, segments and streams -----------------------------------------------------------------
def test_network_is_scale_equivariant_and_causal_model_ignores_the_future():
    den = load_denoiser("eog-causal")
    x = np.random.default_rng(0).standard_normal((2, 2000))
    np.testing.assert_allclose(den.clean(1e-5 * x), 1e-5 * den.clean(x), rtol=1e-10, atol=0)
    changed = x.copy()
    changed[:, 1200:] += 5.0
    a, b = den.clean(x), den.clean(changed)
    assert np.array_equal(a[:, :1200], b[:, :1200]) and not np.allclose(a[:, 1200:], b[:, 1200:])


def test_offline_overlap_add_windows_sum_to_one():
    den = load_denoiser("eog")
    for p in den.net.parameters():  # a network that finds no artifact: overlap-add must return the input
        p.data.zero_()
    x = np.random.default_rng(1).standard_normal((3, 3001))
    np.testing.assert_allclose(den.clean(x), x, rtol=1e-12, atol=1e-12)


def test_causal_stream_in_chunks_equals_the_whole_recording():
    raw = _raw(seconds=20.0)
    recipe = Recipe([{"denoise": {"artifact": "both", "causal": True}},
                     {"bandpass": {"l_freq": 1.0, "h_freq": 40.0, "causal": True}}])
    whole = recipe.apply_raw(raw).get_data(picks="eeg")
    stream = StreamingRecipe(recipe, raw.info)
    data, rng, parts, i = raw.get_data(), np.random.default_rng(2), [], 0
    while i < raw.n_times:
        n = int(rng.integers(1, 700))
        parts.append(stream.process(data[:, i:i + n]))
        i += n
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, rtol=1e-6, atol=1e-20)
    assert stream.ch_names == ["Fp1", "Cz", "Oz"]


def test_recipe_causal_variant_and_digest():
    recipe = Recipe([{"denoise": {"artifact": "eog"}}])
    assert not recipe.steps[0].is_causal
    causal = recipe.causal()
    assert causal.steps[0].causal and causal.steps[0].models[0].causal
    assert causal.digest != recipe.digest
    plain = Recipe([{"bandpass": {"l_freq": 1.0, "h_freq": 40.0}}])
    from neurodecode.utils import digest
    assert plain.digest == digest({"steps": plain.to_dict()["steps"], "versions": plain.versions()})
    identity = recipe.steps[0].identity()
    assert list(identity) == ["eog"] and len(identity["eog"]) == 16
    assert list(causal.steps[0].identity()) == ["eog-causal"] and identity != causal.steps[0].identity()


def test_denoise_changes_eeg_only():
    raw = _raw()
    raw._data[-1, ::256] = 1.0
    out = Recipe([{"denoise": {"artifact": "eog"}}]).apply_raw(raw)
    assert np.array_equal(out.get_data(picks="stim"), raw.get_data(picks="stim"))
    assert not np.array_equal(out.get_data(picks="eeg"), raw.get_data(picks="eeg"))


# -- bad input ---------------------------------------------------------------------------------
def test_wrong_rate_says_how_to_fix_it():
    with pytest.raises(InvalidDataError, match=r"trained at 256 Hz only and the data is at 160 Hz; add "
                                               r"\{resample: \{sfreq: 256\}\}"):
        Recipe([{"denoise": {}}]).apply_raw(_raw(sfreq=160.0))


def test_recording_shorter_than_a_segment():
    with pytest.raises(InvalidDataError, match="shorter than the eog model's segment of 512 samples"):
        Recipe([{"denoise": {}}]).apply_raw(_raw(seconds=1.0))
    assert Recipe([{"denoise": {"causal": True}}]).apply_raw(_raw(seconds=1.0)).n_times == 256  # causal: any length


def test_nan_channel_is_named():
    raw = _raw()
    raw._data[1, 100] = np.nan
    with pytest.raises(InvalidDataError, match=r"channel\(s\) Cz hold NaN"):
        Recipe([{"denoise": {}}]).apply_raw(raw)


def test_model_for_the_other_artifact_is_refused():
    with pytest.raises(ConfigError, match="artifact 'emg' with model 'eog', which was trained to remove eog"):
        Recipe([{"denoise": {"artifact": "emg", "model": "eog"}}])
    with pytest.raises(ConfigError, match="looks ahead in time"):
        Recipe([{"denoise": {"artifact": "eog", "model": "eog", "causal": True}}])
    with pytest.raises(ConfigError, match="artifact must be one of"):
        Recipe([{"denoise": {"artifact": "ecg"}}])


def test_unknown_model_name_suggests_the_shipped_ones():
    with pytest.raises(UnknownNameError, match="unknown denoiser 'eog-casual'.*eog-causal"):
        Recipe([{"denoise": {"model": "eog-casual"}}])


def test_files_that_are_not_our_denoisers_are_refused_without_running_code(tmp_path):
    from safetensors.numpy import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": np.zeros(3, dtype=np.float32)}, str(other), metadata={"format": "pt"})
    with pytest.raises(InvalidDataError, match="is not a neurodecode denoiser \\(its metadata has format 'pt'\\)"):
        load_denoiser(other)
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(InvalidDataError, match="not a safetensors file"):
        load_denoiser(evil)
    assert not marker.exists()
    broken = tmp_path / "broken.safetensors"
    den = load_denoiser("eog")
    den.save(broken)
    broken.write_bytes(broken.read_bytes()[:-100])  # truncated
    with pytest.raises(InvalidDataError, match="not a neurodecode denoiser"):
        load_denoiser(broken)


# -- training and the command line ----------------------------------------------------------------
def test_train_denoiser_cli_writes_a_model_the_step_reads(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(256) / 128.0
    clean = rng.standard_normal((60, 256))
    eog = np.exp(-0.5 * ((t[None] - rng.uniform(0, 2, (60, 1))) / 0.07) ** 2)
    np.save(tmp_path / "clean.npy", clean)
    np.save(tmp_path / "eog.npy", eog)
    out = tmp_path / "mine.safetensors"
    run = subprocess.run([sys.executable, "-m", "neurodecode.cli", "train-denoiser", "--clean",
                          str(tmp_path / "clean.npy"), "--artifacts", str(tmp_path / "eog.npy"), "--artifact", "eog",
                          "--sfreq", "128", "--causal", "--epochs", "2", "--quiet", "--output", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "validation RRMSE_t" in run.stdout and out.is_file()
    step = Recipe([{"denoise": {"artifact": "eog", "model": str(out), "causal": True}}]).steps[0]
    assert step.models[0].sfreq == 128.0 and step.models[0].causal
    with pytest.raises(ConfigError, match="artifact 'emg' with model"):
        Recipe([{"denoise": {"artifact": "emg", "model": str(out)}}])
    bad = clean.copy()
    bad[3, 10] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    run = subprocess.run([sys.executable, "-m", "neurodecode.cli", "train-denoiser", "--clean",
                          str(tmp_path / "bad.npy"), "--artifacts", str(tmp_path / "eog.npy"), "--artifact", "eog",
                          "--sfreq", "128",
                          "--output", str(tmp_path / "x.safetensors")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == ["neurodecode: error: train-denoiser: clean EEG segments [3] hold NaN "
                                               "or infinite values"]
