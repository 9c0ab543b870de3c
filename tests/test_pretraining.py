"""Self-supervised pretraining on EEG and MEG mixed; its weights fine-tune through from_pretrained."""
from __future__ import annotations

import json
import subprocess
import sys
import warnings

import mne
import numpy as np
import pandas as pd
import pytest
import torch

from neurodecode.errors import ConfigError, UnknownNameError
from neurodecode.models import get_pipeline, load_model, save_model
from neurodecode.models import pretrained as pt
from neurodecode.models.pretraining import pretrain
from neurodecode.models.sensor_transformer import SensorTransformer, sensor_features
from neurodecode.windows import Windows

#: every test here trains a model, runs a benchmark or reads real recordings
pytestmark = pytest.mark.slow

RECIPE = [{"bandpass": {"l_freq": 1.0, "h_freq": 40.0}}, {"resample": {"sfreq": 128.0}}]
TINY = {"patch_size": 32, "embed_dim": 32, "depth": 1, "num_heads": 2}


def _spec(tmp_path, **over):
    spec = {"name": "tiny",
            "datasets": [{"name": "SyntheticMI", "params": {"n_subjects": 1, "n_sessions": 1, "n_runs": 1}},
                         {"name": "SyntheticMEG", "params": {"n_subjects": 1, "n_runs": 1, "n_trials": 6}}],
            "recipe": RECIPE, "sfreq": 128.0, "window": 2.0, "step": 1.0, "model": TINY,
            "training": {"epochs": 3, "batch_size": 16, "max_sensors": 16}, "output": str(tmp_path / "weights")}
    return {**spec, **over}


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretrain")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pretrain(_spec(folder))


def test_pretraining_mixes_eeg_and_meg_and_learns(pretrained):
    assert set(pretrained.windows) == {"SyntheticMI", "SyntheticMEG"} and min(pretrained.windows.values()) > 10
    assert pretrained.losses[-1] < pretrained.losses[0] < 1.5  # z-scored patches: 1 is predicting the mean
    files = sorted(p.name for p in pretrained.folder.iterdir())
    assert files == ["README.md", "config.json", "model.safetensors", "pretraining.json"]  # no pickle
    config = json.loads((pretrained.folder / "config.json").read_text())
    assert config["chs_info"] is None and config["sfreq"] == 128.0 and config["embed_dim"] == 32
    summary = json.loads((pretrained.folder / "pretraining.json").read_text())
    assert summary["losses"] == pretrained.losses and summary["control"] == "none"
    assert summary["valid_losses"] == pretrained.valid_losses and len(pretrained.valid_losses) == 3
    assert all(0 < v < 1.5 for v in pretrained.valid_losses)


def test_masked_tokens_are_learned_from_the_other_sensors():
    """Eight channels mixing two sources: a masked token is a fixed mix of its sensors' neighbours at
    the same instant. The criss-cross encoder learns that in 150 steps (held-out loss 0.40, predicting
    zero about 1); the full-attention encoder it replaced was still at 0.998 after 100."""
    rng = np.random.default_rng(0)
    mixing = rng.standard_normal((8, 2))

    def windows(n):
        sources = rng.standard_normal((n * 2, 256 + 7))
        smooth = np.stack([np.convolve(w, np.ones(8) / 8, "valid") for w in sources]).reshape(n, 2, 256)
        return torch.as_tensor(np.einsum("cs,nst->nct", mixing, smooth), dtype=torch.float32)

    torch.manual_seed(0)
    net = SensorTransformer(n_outputs=1, n_times=256, sfreq=128.0, **TINY)
    sensors, held, generator = torch.randn(8, 9), windows(64), torch.Generator().manual_seed(0)
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3)
    for _ in range(150):
        loss = net.masked_loss(windows(16), sensors, 0.5, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        held_out = net.eval().masked_loss(held, sensors, 0.5, torch.Generator().manual_seed(1)).item()
    assert held_out < 0.6


def test_held_out_windows_are_the_last_of_each_run_and_never_trained():
    from neurodecode.models.pretraining import _Group, _hold_out

    groups = [_Group("A", np.zeros((2, 10)), None, np.arange(0, 40, 2)), _Group("B", np.zeros((2, 10)), None,
                                                                                np.arange(5))]
    train, held = _hold_out(groups, 0.25)
    assert [g.starts.tolist() for g in held] == [[30, 32, 34, 36, 38], [4]]
    assert [len(g.starts) for g in train] == [15, 4] and train[0].starts.max() < held[0].starts.min()
    assert _hold_out(groups, 0.0)[1] == []


def test_pretrained_weights_fine_tune_on_another_cap(pretrained, tmp_path):
    """The weights load through braindecode's from_pretrained for channels never seen in pretraining."""
    from safetensors.torch import load_file

    rng = np.random.default_rng(0)
    info = mne.create_info(["O1", "Oz", "O2", "POz", "PO3", "PO4", "PO7", "PO8"], 128.0, "eeg")
    info.set_montage("standard_1005")
    X = rng.standard_normal((96, 8, 256)) * 1e-5
    y = np.repeat(["13", "17"], 48)
    t = np.arange(256) / 128.0
    for label, freq in (("13", 13.0), ("17", 17.0)):  # the SSVEP frequency, on the occipital channels
        X[y == label, :3] += 3e-5 * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi, ((y == label).sum(), 1, 1)))
    epochs = mne.EpochsArray(X, info, verbose=False)
    module, _ = pt.load_pretrained("SensorTransformer", pretrained.folder, n_outputs=2, n_chans=8, n_times=256,
                                   sfreq=128.0, chs_info=info["chs"])
    saved = load_file(str(pretrained.folder / "model.safetensors"))
    state = module.state_dict()
    assert all(state[k].equal(v) for k, v in saved.items() if not k.startswith("final_layer"))
    clf = get_pipeline("SensorTransformer", pretrained=str(pretrained.folder), max_epochs=40, valid_size=None,
                       finetune="full")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(epochs[::2], y[::2])
    assert np.mean(clf.predict(epochs[1::2]) == y[1::2]) >= 0.75  # 48 held-out windows: chance is 0.5
    w = Windows(X.astype("float32"), pd.DataFrame({"label": y}), info.ch_names, 128.0)
    loaded = load_model(save_model(clf, tmp_path / "st.ndmodel", w))
    assert np.array_equal(loaded.estimator.predict_proba(epochs), clf.predict_proba(epochs))
    with pytest.raises(ConfigError, match="fit it on mne.Epochs"):
        get_pipeline("SensorTransformer", pretrained=str(pretrained.folder)).fit(X.astype("float32"), y)
    with pytest.raises(ConfigError, match="256 Hz, the encoder was pretrained at 128 Hz"):
        get_pipeline("SensorTransformer", pretrained=str(pretrained.folder)).fit(
            mne.EpochsArray(X, mne.create_info(info.ch_names, 256.0, "eeg").set_montage("standard_1005"),
                            verbose=False), y)


def test_the_shuffled_time_control_keeps_space_and_removes_time(pretrained, tmp_path):
    """The control's windows: lag-1 autocorrelation gone, zero-lag correlation between channels kept."""
    from neurodecode.datasets import SyntheticMI
    from neurodecode.models.pretraining import shuffle_time
    from neurodecode.windows import sliding_windows

    windows = sliding_windows(SyntheticMI(n_subjects=1, n_sessions=1, n_runs=1), [1], recipe=RECIPE, length=2.0,
                              step=2.0)
    x = windows.X[:20].astype(np.float64)
    shuffled = shuffle_time(x, np.random.default_rng(0))

    def lag1(a):
        return np.mean([np.corrcoef(w[c, :-1], w[c, 1:])[0, 1] for w in a for c in range(a.shape[1])])

    assert lag1(x) > 0.7 and abs(lag1(shuffled)) < 0.05  # 1-40 Hz at 128 Hz: neighbours alike
    assert np.allclose([np.corrcoef(w)[0, 1] for w in shuffled], [np.corrcoef(w)[0, 1] for w in x])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        control = pretrain(_spec(tmp_path, control="shuffled-time"))
    assert control.windows == pretrained.windows
    assert json.loads((control.folder / "pretraining.json").read_text())["control"] == "shuffled-time"


def test_sensor_features_mix_types():
    meg = mne.io.read_info(str(__import__("neurodecode.utils", fromlist=["x"]).resource_path("meg")
                               / "neuromag306-info.fif"))
    picks = mne.pick_types(meg, meg=True)[:6]
    eeg = mne.create_info(["C3", "C4"], 100.0, "eeg").set_montage("standard_1005")
    feats = sensor_features([meg["chs"][i] for i in picks] + eeg["chs"])
    assert feats.shape == (8, 9)
    types = feats[:, 6:].numpy()
    assert types[-2:].tolist() == [[1, 0, 0], [1, 0, 0]]
    assert sorted(map(tuple, types[:6].tolist())) == sorted([(0, 0, 1), (0, 0, 1), (0, 1, 0)] * 2)
    assert np.allclose(feats[-2:, 3:6].numpy(), 0)  # EEG has no orientation
    net = SensorTransformer(n_outputs=3, chs_info=[meg["chs"][i] for i in picks], n_times=256, sfreq=100.0, **TINY)
    assert net(torch.randn(2, 6, 256)).shape == (2, 3)


def test_bad_pretraining_sets_are_one_line(tmp_path, shared_data):
    """The Muse recordings read without their montage: channels with no position are refused by name."""
    definition = tmp_path / "muse_unplaced.yml"
    definition.write_text(json.dumps({
        "code": "MuseUnplaced", "paradigm": "p300", "root": str(shared_data / "muse-visual-p300"),
        "pattern": "subject{subject}/session{session}/*.csv", "events": {"Target": 2, "NonTarget": 1},
        "interval": [0.0, 0.8], "units": "uV",
        "csv": {"time": "timestamps", "marker": ["Marker", "Marker0"], "misc": ["Right AUX"], "sfreq": 256}}))
    with pytest.raises(ConfigError, match=r"MuseUnplaced subject 1 session \S+ run \S+: channels \['TP9', 'AF7', "
                                          r"'AF8', 'TP10'\] have no position; pretraining embeds sensors from their "
                                          r"positions: add a montage step"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pretrain(_spec(tmp_path, datasets=[{"name": str(definition), "subjects": [1]}]))
    with pytest.raises(ConfigError, match=r"is at 250 Hz after the recipe, not 128 Hz; add resample"):
        pretrain(_spec(tmp_path, recipe=[], datasets=[{"name": "SyntheticMI", "params": {"n_subjects": 1,
                                                                                          "n_sessions": 1}}]))
    with pytest.raises(ConfigError, match=r"model settings .*: embed_dim=30 is not a multiple of num_heads=4"):
        pretrain(_spec(tmp_path, model={**TINY, "embed_dim": 30, "num_heads": 4}))
    with pytest.raises(UnknownNameError, match="did you mean epochs"):
        pretrain(_spec(tmp_path, training={"epoch": 3}))
    with pytest.raises(UnknownNameError, match="unknown control 'shuffled'"):
        pretrain(_spec(tmp_path, control="shuffled"))
    with pytest.raises(UnknownNameError, match="unknown training mask 'token': did you mean tokens"):
        pretrain(_spec(tmp_path, training={"mask": "token"}))


def test_patches_have_unit_variance_in_any_unit():
    """EEG in V, magnetometers in T and gradiometers in T/m all reach unit variance per channel and
    window (an absolute epsilon in the z-score once left MEG at zero and EEG at 0.8)."""
    net = SensorTransformer(n_outputs=1, n_times=256, sfreq=128.0, **TINY)
    x = torch.randn(4, 3, 256, dtype=torch.float32)
    x[:, 2] = 0.0  # a flat channel
    unit = net.patches(x)
    for scale in (1e-5, 1e-13, 1e-11):
        scaled = net.patches(x * scale)
        assert torch.allclose(scaled, unit, atol=1e-4)
    assert torch.allclose(unit[:, :2].pow(2).mean(dim=(2, 3)), torch.full((4, 2), 255 / 256), atol=1e-4)
    assert unit[:, 2].eq(0).all()


@pytest.mark.parametrize("span", ["time", "tokens"])
def test_mask_spans(span, monkeypatch):
    """``time`` hides whole patches on every sensor (about half of them); ``tokens`` hides sensors apart."""
    net = SensorTransformer(n_outputs=1, n_times=256, sfreq=128.0, **TINY)
    seen = []
    encode = net.encode
    monkeypatch.setattr(net, "encode", lambda p, s, mask=None: seen.append(mask) or encode(p, s, mask))
    x, sensors = torch.randn(64, 6, 256), torch.randn(6, 9)
    loss = net.masked_loss(x, sensors, 0.5, torch.Generator().manual_seed(0), span=span)
    mask = seen[0]
    assert mask.shape == (64, 6, 8) and torch.isfinite(loss)
    assert mask.any(dim=(1, 2)).all()  # every window has something to predict
    across_sensors = (mask == mask[:, :1]).all().item()
    assert across_sensors is (span == "time")
    if span == "time":
        assert (~mask[:, 0]).any(1).all()  # and something to predict it from
    assert 0.4 < mask.float().mean().item() < 0.6
    with pytest.raises(ValueError, match="span must be 'time' or 'tokens', got 'sensors'"):
        net.masked_loss(x, sensors, 0.5, span="sensors")


def test_pretrain_command(tmp_path):
    path = tmp_path / "tiny.yml"
    path.write_text(json.dumps(_spec(tmp_path, training={"epochs": 1, "batch_size": 16, "max_sensors": 16})))
    proc = subprocess.run([sys.executable, "-m", "neurodecode.cli", "pretrain", str(path), "--quiet"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("pretrained on ") and f"weights: {tmp_path / 'weights'}" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "neurodecode.cli", "pretrain", str(tmp_path / "absent.yml")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_lora_adapters_reach_the_attention():
    """The attention is built from plain Linear layers, so LoRA adapts it (nn.MultiheadAttention
    reads its fused weights directly and would ignore an adapter on them)."""
    from neurodecode.models.pretrained import _apply_strategy

    torch.manual_seed(0)
    net = _apply_strategy(SensorTransformer(n_outputs=2, n_times=256, sfreq=128.0, **TINY), "SensorTransformer",
                          "lora", 1, 4).eval()
    adapted = {n.rsplit(".lora_", 1)[0] for n, _ in net.named_parameters() if ".lora_" in n}
    assert {"blocks.0.sensors.qkv", "blocks.0.times.qkv", "blocks.0.sensors.proj"} <= adapted
    patches, sensors = torch.randn(2, 3, 8, 32), torch.randn(3, 9)
    before = net.encode(patches, sensors)
    with torch.no_grad():
        net.blocks[0].sensors.qkv.lora_B["default"].weight.fill_(0.1)
    assert not torch.allclose(net.encode(patches, sensors), before)
