"""Foundation models from local weights, through braindecode's own from_pretrained; fine-tuning strategies."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from neurodecode.errors import ConfigError, UnknownNameError
from neurodecode.models import get_pipeline, load_model, save_model
from neurodecode.models import pretrained as pt
from neurodecode.windows import Windows

#: every test here trains a model, runs a benchmark or reads real recordings
pytestmark = pytest.mark.slow

CHANNELS = ["C3", "Cz", "C4", "Pz"]
SFREQ, N_TIMES = 200.0, 400
SMALL = {"n_layer": 2, "nhead": 2, "emb_dim": 200, "dim_feedforward": 64}  # CBraMod, 311k parameters


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A CBraMod written by braindecode's own save_pretrained (none can be downloaded here)."""
    import torch
    from braindecode.models import CBraMod

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("cbramod")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        CBraMod(n_chans=4, n_outputs=5, n_times=N_TIMES, sfreq=SFREQ, chs_info=[{"ch_name": c} for c in CHANNELS],
                **SMALL).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 4, N_TIMES)).astype("float32")
    X[20:, 0] += np.sin(np.arange(N_TIMES) / SFREQ * 2 * np.pi * 10).astype("float32")
    y = np.repeat(["left_hand", "right_hand"], 20)
    return X, y


def _saved(folder) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def _fit(weights, data, **params):
    X, y = data
    clf = get_pipeline("CBraMod", pretrained=str(weights), max_epochs=2, sfreq=SFREQ, valid_size=None, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clf.fit(X, y)


def test_weights_load_through_braindecode_from_pretrained(weights, monkeypatch):
    from braindecode.models import CBraMod

    calls = []
    original = CBraMod.from_pretrained.__func__

    def spy(cls, *args, **kwargs):
        calls.append((args, kwargs))
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(CBraMod, "from_pretrained", classmethod(spy))
    module, config = pt.load_pretrained("CBraMod", weights, n_outputs=2, n_chans=4, n_times=N_TIMES, sfreq=SFREQ,
                                        chs_info=[{"ch_name": c} for c in CHANNELS])
    assert calls == [((str(weights),), {"strict": True})]
    assert type(module) is CBraMod and config["n_outputs"] == 2
    saved = _saved(weights)
    state = module.state_dict()
    encoder = [k for k in saved if not k.startswith("final_layer")]
    assert encoder and all(state[k].equal(saved[k]) for k in encoder)  # bit-equal pretrained encoder
    assert module(__import__("torch").zeros(1, 4, N_TIMES)).shape == (1, 2)  # a new head for 2 classes


@pytest.mark.parametrize("strategy", pt.STRATEGIES)
def test_strategies_train_what_they_say_and_save_bit_equal(strategy, weights, data, tmp_path):
    clf = _fit(weights, data, finetune=strategy, finetune_blocks=1, lora_rank=4)
    saved = _saved(weights)
    after = clf.net_.module_.state_dict()
    encoder = [k for k in saved if not k.startswith("final_layer")]
    def current(key):  # peft moves an adapted layer's own weights under base_layer
        parent, leaf = key.rsplit(".", 1)
        return after[key] if key in after else after[f"{parent}.base_layer.{leaf}"]

    changed = {k for k in encoder if not current(k).equal(saved[k])}
    last_block = {k for k in encoder if k.startswith("encoder.layers.1.")}
    if strategy == "full":
        assert changed & last_block and changed - last_block
    elif strategy == "linear-probe":
        assert changed == set()
    elif strategy == "last-blocks":
        assert changed and changed <= last_block
    else:  # lora: the encoder's own weights frozen, the adapters trained
        assert changed == set()
        lora = [n for n, p in clf.net_.module_.named_parameters() if "lora_" in n]
        assert lora and all(p.requires_grad for n, p in clf.net_.module_.named_parameters() if "lora_" in n)
    trainable = {n for n, p in clf.net_.module_.named_parameters() if p.requires_grad}
    assert any(n.startswith("final_layer") for n in trainable)
    X, y = data
    w = Windows(X, pd.DataFrame({"label": y}), CHANNELS, SFREQ)
    loaded = load_model(save_model(clf, tmp_path / "fm.ndmodel", w))
    assert np.array_equal(loaded.estimator.predict_proba(X), clf.predict_proba(X))


def test_data_that_would_be_padded_is_refused(weights, data):
    X, y = data
    clf = get_pipeline("CBraMod", pretrained=str(weights), max_epochs=1, sfreq=SFREQ)
    with pytest.raises(ConfigError, match=r"3 channels, the encoder takes 4 \(missing ones would be zero-padded, "
                                          r"so they are refused\).*add harmonise onto its channels \(C3, Cz, C4, Pz\) "
                                          r"and resample to 200 Hz"):
        clf.fit(X[:, :3], y)
    with pytest.raises(ConfigError, match="128 Hz, the encoder was pretrained at 200 Hz"):
        clf.set_params(sfreq=128.0).fit(X, y)
    with pytest.raises(ConfigError, match="windows of 300 samples, the encoder takes 400 \\(2 s\\)"):
        clf.set_params(sfreq=SFREQ).fit(X[:, :, :300], y)
    # the benchmark's up-front check uses the same contract
    with pytest.raises(ConfigError, match="3 channels, the encoder takes 4"):
        clf.check_input(3, N_TIMES, sfreq=SFREQ)


def test_weights_that_do_not_fit_are_an_error(weights, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.safetensors").write_bytes((weights / "model.safetensors").read_bytes())
    config = json.loads((weights / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**config, "dim_feedforward": 32}))
    with pytest.raises(ConfigError, match=r"broken: the weights do not fit CBraMod as configured in config.json"):
        pt.load_pretrained("CBraMod", broken, n_outputs=2, n_chans=4, n_times=N_TIMES, sfreq=SFREQ, chs_info=None)


def test_folders_that_could_run_code_are_refused(weights, tmp_path):
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "pytorch_model.bin").write_bytes((weights / "pytorch_model.bin").read_bytes())
    (pickled / "config.json").write_text((weights / "config.json").read_text())
    with pytest.raises(ConfigError, match=r"no model.safetensors \(only pytorch_model.bin, a pickle, which is not "
                                          r"opened\)"):
        pt.pretrained_config("CBraMod", pickled)
    crafted = tmp_path / "crafted"
    crafted.mkdir()
    (crafted / "model.safetensors").write_bytes((weights / "model.safetensors").read_bytes())
    config = json.loads((weights / "config.json").read_text())
    (crafted / "config.json").write_text(json.dumps({**config, "activation": "os.system"}))
    with pytest.raises(ConfigError, match=r"activation='os.system' is not a torch.nn class"):
        pt.pretrained_config("CBraMod", crafted)


def test_names_strategies_and_ranks_are_checked(weights):
    with pytest.raises(UnknownNameError, match="unknown foundation model 'CBraMd': did you mean CBraMod"):
        pt.locate_weights("CBraMd", weights)
    with pytest.raises(UnknownNameError, match="unknown fine-tuning strategy 'probe'"):
        pt.load_pretrained("CBraMod", weights, n_outputs=2, n_chans=4, n_times=N_TIMES, sfreq=SFREQ, chs_info=None,
                           strategy="probe")
    with pytest.raises(ConfigError, match=r"lora_rank=512 is larger than layer .* use lora_rank <= 64"):
        pt.load_pretrained("CBraMod", weights, n_outputs=2, n_chans=4, n_times=N_TIMES, sfreq=SFREQ, chs_info=None,
                           strategy="lora", rank=512)
    with pytest.raises(ConfigError, match=r"CBraMod has 2 blocks \(encoder.layers\); finetune_blocks=3 is too many"):
        pt.load_pretrained("CBraMod", weights, n_outputs=2, n_chans=4, n_times=N_TIMES, sfreq=SFREQ, chs_info=None,
                           strategy="last-blocks", blocks=3)
    assert {"Labram", "BIOT", "EEGPT", "CBraMod", "BENDR", "SignalJEPA"} <= set(pt.foundation_models())


def test_missing_weights_offline_say_where_and_how(tmp_path):
    from huggingface_hub import constants

    with pytest.raises(ConfigError) as info:
        pt.locate_weights("Labram", "braindecode/not-in-this-cache")
    text = str(info.value)
    assert f"are not in the Hugging Face cache ({constants.HF_HUB_CACHE})" in text
    assert "on a connected machine run: hf download braindecode/not-in-this-cache" in text
    with pytest.raises(ConfigError, match=f"no weights folder at {tmp_path / 'absent'}"):
        pt.locate_weights("Labram", tmp_path / "absent")


def test_weights_from_the_hugging_face_cache(weights, data, tmp_path, monkeypatch):
    """A repository id resolves in the local cache, as `hf download` leaves it, with no network."""
    from huggingface_hub import constants

    commit = "0" * 40
    repo = tmp_path / "hub" / "models--lab--cbramod-small"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        (snapshot / name).write_bytes((weights / name).read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert pt.locate_weights("CBraMod", "lab/cbramod-small") == snapshot
    assert pt.expected_input("CBraMod", "lab/cbramod-small") == {
        "ch_names": CHANNELS, "n_chans": 4, "sfreq": SFREQ, "n_times": N_TIMES, "seconds": 2.0}


def test_report_lists_the_channels_harmonise_interpolates(tmp_path):
    """A model's channel contract met through harmonise: the report says what was interpolated."""
    from neurodecode import run_benchmark

    template = ["C3", "Cz", "C4", "FC3", "FC4", "CP3", "CP4", "CPz"]  # the synthetic cap lacks the last five
    result = run_benchmark({
        "datasets": [{"name": "SyntheticMI", "params": {"n_subjects": 1, "n_sessions": 1, "sfreq": 128}}],
        "paradigm": "LeftRightImagery", "pipelines": ["CSP+LDA"], "evaluations": ["within-session"],
        "recipe": [{"harmonise": {"channels": template, "max_missing": 0.7}}],
        "output": str(tmp_path / "out")}, quiet=True)
    assert result.results["channels"].tolist() == [8]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Channels interpolated by harmonise" in report
    assert "- SyntheticMI: 5 of 8 template channels interpolated (FC3, FC4, CP3, CP4, CPz)" in report


@pytest.fixture
def no_network(monkeypatch):
    """Any connection attempt fails the test: what braindecode would fetch must come from local copies."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError(f"a network connection was attempted: {args[1:]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_reve_reads_its_position_bank_from_the_local_copy(data, tmp_path, monkeypatch, no_network):
    """REVE downloads its channel positions when built; offline it is one line naming the file, or it runs
    from the copy there (REVE_POSITIONS_PATH), and nothing is fetched."""
    import time

    import mne
    import torch
    from braindecode.models import REVE

    monkeypatch.setenv("REVE_POSITIONS_PATH", str(tmp_path))
    bank = tmp_path / "reve_positions.json"
    montage = mne.channels.make_standard_montage("standard_1005").get_positions()["ch_pos"]
    bank.write_text(json.dumps({name: [float(v) for v in xyz] for name, xyz in montage.items()}))
    torch.manual_seed(0)
    folder = tmp_path / "reve"
    REVE(n_outputs=5, n_chans=4, chs_info=[{"ch_name": c} for c in CHANNELS], n_times=N_TIMES, sfreq=SFREQ,
         embed_dim=32, depth=1, heads=2, head_dim=16).save_pretrained(folder)
    text = bank.read_text()
    bank.unlink()
    with pytest.raises(ConfigError) as err:
        pt.load_pretrained("REVE", folder, n_outputs=2, n_chans=4, n_times=N_TIMES, sfreq=SFREQ,
                           chs_info=[{"ch_name": c} for c in CHANNELS])
    assert str(err.value) == (f"REVE: its channel-position bank is not at {bank} and no network is used; on a "
                              "connected machine download https://huggingface.co/brain-bzh/reve-positions/resolve/"
                              "main/positions.json to that file (or set REVE_POSITIONS_PATH, MNE's config key "
                              "braindecode reads, to the folder holding reve_positions.json)")
    assert [p.name for p in tmp_path.iterdir()] == ["reve"]  # nothing was downloaded into the folder
    with pytest.raises(ConfigError, match="REVE: its channel-position bank is not at"):  # a benchmark's check
        get_pipeline("REVE", pretrained=str(folder)).check_input(4, N_TIMES, sfreq=SFREQ)
    bank.write_text(text)
    module, config = pt.load_pretrained("REVE", folder, n_outputs=2, n_chans=4, n_times=N_TIMES, sfreq=SFREQ,
                                        chs_info=[{"ch_name": c} for c in CHANNELS])
    saved, state = _saved(folder), module.state_dict()
    encoder = [k for k in saved if not k.startswith("final_layer")]
    assert encoder and all(state[k].equal(saved[k]) for k in encoder)
    X, y = data
    start = time.perf_counter()
    clf = get_pipeline("REVE", pretrained=str(folder), max_epochs=1, sfreq=SFREQ, valid_size=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    assert clf.predict_proba(X).shape == (40, 2) and time.perf_counter() - start < 60
    bank.unlink()  # a saved fine-tuned REVE is rebuilt with the same check
    with pytest.raises(ConfigError, match="REVE: its channel-position bank is not at"):
        pt.build_pretrained("REVE", config)


def test_steegformer_maps_channel_names_through_the_cached_vocabulary(tmp_path, monkeypatch, no_network):
    """STEEGFormer downloads its channel vocabulary when built from names (retrying ~25 s offline, then
    mapping channel i to slot i); here the slots come from the vocabulary in the local Hugging Face cache,
    and without it, or for a channel outside it, one line."""
    import time

    import torch
    from braindecode.models import STEEGFormer
    from huggingface_hub import constants

    from neurodecode import private_api

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    torch.manual_seed(0)
    folder = tmp_path / "steegformer"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # saved without names: braindecode warns of the identity mapping
        STEEGFormer(n_outputs=5, n_chans=4, n_times=N_TIMES, sfreq=SFREQ, embed_dim=32, depth=1,
                    num_heads=2).save_pretrained(folder)
    chs = [{"ch_name": c} for c in CHANNELS]
    kwargs = {"n_outputs": 2, "n_chans": 4, "n_times": N_TIMES, "sfreq": SFREQ, "chs_info": chs}
    repo, name = private_api.steegformer_vocabulary_source()
    start = time.perf_counter()
    with pytest.raises(ConfigError) as err:
        pt.load_pretrained("STEEGFormer", folder, **kwargs)
    assert str(err.value) == (f"STEEGFormer: its channel vocabulary ({repo}, {name}) is not in the Hugging Face "
                              f"cache ({tmp_path / 'hub'}) and no network is used; on a connected machine run: "
                              f"hf download {repo} {name}")
    assert time.perf_counter() - start < 5  # no retries
    vocabulary = ["FP1", "FPZ", "FP2", "PZ", "CZ", "C4", "C3"] + [f"X{i}" for i in range(138)]  # 145 slots
    commit = "0" * 40
    cached = tmp_path / "hub" / f"models--{repo.replace('/', '--')}"
    (cached / "snapshots" / commit).mkdir(parents=True)
    (cached / "snapshots" / commit / name).write_text(json.dumps(vocabulary))
    (cached / "refs").mkdir()
    (cached / "refs" / "main").write_text(commit)
    module, config = pt.load_pretrained("STEEGFormer", folder, **kwargs)
    assert module.channel_indices.tolist() == [6, 4, 5, 3] and config["chan_pos_idx"] == [6, 4, 5, 3]
    rebuilt = pt.build_pretrained("STEEGFormer", config)  # a saved fine-tuned model: no lookup at all
    assert rebuilt.channel_indices.tolist() == [6, 4, 5, 3]
    named = {**config, "chan_pos_idx": None, "chs_info": chs}  # slots left to the names: found in the cache
    assert pt.build_pretrained("STEEGFormer", named).channel_indices.tolist() == [6, 4, 5, 3]
    with pytest.raises(ConfigError, match=r"STEEGFormer: channels \['Oz'\] are not in its 145-electrode "
                                          r"vocabulary; map the cap onto its electrodes with harmonise"):
        pt.load_pretrained("STEEGFormer", folder, **{**kwargs, "chs_info": chs[:3] + [{"ch_name": "Oz"}]})


def test_models_a_pipeline_cannot_fine_tune_are_refused_in_one_line(tmp_path):
    """LUNA has no reset_head (a new head is what fine-tuning needs); Labram reads arrays as its 128
    canonical channels. Both are refused when loaded, before any training."""
    import mne
    import torch
    from braindecode.models import LUNA, Labram

    info = mne.create_info(CHANNELS, SFREQ, "eeg").set_montage("standard_1005")
    kwargs = {"n_outputs": 2, "n_chans": 4, "n_times": N_TIMES, "sfreq": SFREQ, "chs_info": info["chs"]}
    torch.manual_seed(0)
    for cls in (LUNA, Labram):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cls(n_outputs=3, n_chans=4, chs_info=info["chs"], n_times=N_TIMES, sfreq=SFREQ).save_pretrained(
                tmp_path / cls.__name__)
    with pytest.raises(ConfigError, match=r"^LUNA cannot take a new head \(braindecode has no reset_head for it\)$"):
        pt.load_pretrained("LUNA", tmp_path / "LUNA", **kwargs)
    with pytest.raises(ConfigError, match=r"^Labram takes its 128 channels in braindecode's LABRAM_CHANNEL_ORDER, "
                                          r"got 4 channels \(C3, Cz, C4, Pz\.\.\.\); use InterpolatedLaBraM"):
        pt.load_pretrained("Labram", tmp_path / "Labram", **kwargs)
