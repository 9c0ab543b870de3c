"""Model files are data: JSON, FIF, skops and safetensors; opening one runs nothing it names."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neurodecode.errors import ConfigError
from neurodecode.models import classical_pipelines, get_pipeline, load_model, save_model
from neurodecode.models.persistence import TRUSTED, resave_legacy_model
from neurodecode.models.signal import fill_sfreq
from neurodecode.models.yaml_pipelines import load_pipeline_file
from neurodecode.utils import resource_names
from neurodecode.windows import Windows

#: every test here trains a model, runs a benchmark or reads real recordings
pytestmark = pytest.mark.slow

SSVEP = {"CCA", "FBCCA", "TRCA", "eTRCA", "FB-TS+LR", "SSVEP-DNN"}
DEEP_PRESETS = sorted(p for p in resource_names("pipelines/deep"))


@pytest.fixture(scope="module")
def windows():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 8, 256)).astype("float32")
    X[20:, :2] *= 3.0  # something to learn
    y = np.repeat(["left_hand", "right_hand"], 20)
    return Windows(X, pd.DataFrame({"label": y}), [f"C{i}" for i in range(8)], 128.0, recipe_digest="r1")


def _outputs(est, X):
    return est.predict_proba(X) if hasattr(est, "predict_proba") else est.predict(X)


def _entries(path: Path) -> dict:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


@pytest.mark.parametrize("name", sorted(classical_pipelines()))
def test_classical_round_trip_is_bit_equal(name, windows, tmp_path):
    y = np.repeat(["13", "17"], 20) if name in SSVEP else windows.metadata["label"].to_numpy()
    network = classical_pipelines()[name]["kind"] == "deep"  # SSVEP-DNN: a filter bank, then a network
    est = fill_sfreq(get_pipeline(name, **({"max_epochs": 2} if network else {})), 128.0).fit(windows.X, y)
    path = save_model(est, tmp_path / "m.ndmodel", windows)
    entries = sorted(_entries(path))
    assert [n for n in entries if not n.startswith("weights/")] == ["estimator.skops", "meta.json"]
    assert len(entries) == 2 + network and all(n.endswith(".safetensors") for n in entries[2:])
    loaded = load_model(path)
    assert np.array_equal(_outputs(loaded.estimator, windows.X), _outputs(est, windows.X))
    assert json.loads(_entries(path)["meta.json"])["classes"] == sorted(set(y))


@pytest.mark.parametrize("preset", DEEP_PRESETS)
def test_network_round_trip_is_bit_equal(preset, windows, tmp_path):
    import torch

    torch.manual_seed(0)
    spec = load_pipeline_file(resource_names("pipelines/deep")[preset])
    est = fill_sfreq(spec["pipeline"], 128.0).set_params(deepclassifier__max_epochs=1,
                                                          deepclassifier__batch_size=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(windows.X, windows.metadata["label"].to_numpy())
    path = save_model(est, tmp_path / "net.ndmodel", windows)
    entries = _entries(path)
    weights = [n for n in entries if n.startswith("weights/")]
    assert len(weights) == 1 and weights[0].endswith(".safetensors")
    from safetensors.torch import load as st_load

    assert len(st_load(entries[weights[0]])) > 0  # a plain safetensors file, readable by itself
    loaded = load_model(path)
    assert np.array_equal(_outputs(loaded.estimator, windows.X), _outputs(est, windows.X))


class _Payload:
    """A pickle that runs a command when it is loaded: what a crafted model file does."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_malicious_pickle_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.ndmodel"
    evil.write_bytes(pickle.dumps({"meta": _Payload(marker), "estimator": None}))
    with pytest.raises(ConfigError) as info:
        load_model(evil)
    assert not marker.exists()
    text = str(info.value)
    assert text.startswith(f"{evil}: a model file of neurodecode's first format, a pickle")
    assert f"neurodecode resave-model {evil} NEW.ndmodel --trust-pickle" in text
    # and from the command line: one line, exit 2, still nothing run
    proc = subprocess.run([sys.executable, "-m", "neurodecode.cli", "online", str(evil), "--stream", "X"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"neurodecode: error: {text}"]
    assert not marker.exists()


def test_a_file_naming_untrusted_types_is_refused(windows, tmp_path):
    import skops.io as sio

    good = save_model(get_pipeline("TS+LR").fit(windows.X, windows.metadata["label"].to_numpy()),
                      tmp_path / "good.ndmodel", windows)
    entries = _entries(good)
    entries["estimator.skops"] = sio.dumps({"step": os.system})
    evil = tmp_path / "evil.ndmodel"
    with zipfile.ZipFile(evil, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    with pytest.raises(ConfigError, match=r"evil.ndmodel: refused, nothing in it was run: it names types "
                                          r"neurodecode does not trust \(posix.system\)"):
        load_model(evil)


def test_trusted_types_exist():
    """Every trusted name is a real object: a rename upstream must show here, not as a refused file."""
    import importlib

    for name in TRUSTED:
        module, attr = name.rsplit(".", 1)
        assert hasattr(importlib.import_module(module), attr), name


def test_legacy_files_resave_only_when_trusted(windows, tmp_path):
    est = get_pipeline("MDM").fit(windows.X, windows.metadata["label"].to_numpy())
    meta = {"format": 1, "neurodecode": "0.1.0", "recipe_digest": "r1", "ch_names": list(windows.ch_names),
            "sfreq": 128.0, "n_times": 256, "classes": ["left_hand", "right_hand"]}
    old = tmp_path / "old.ndmodel"
    old.write_bytes(pickle.dumps({"meta": meta, "estimator": est}))
    with pytest.raises(ConfigError, match="pass --trust-pickle"):
        resave_legacy_model(old, tmp_path / "new.ndmodel")
    proc = subprocess.run([sys.executable, "-m", "neurodecode.cli", "resave-model", str(old),
                           str(tmp_path / "new.ndmodel"), "--trust-pickle"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    new = load_model(tmp_path / "new.ndmodel")
    assert new.meta["format"] == 2 and new.meta["classes"] == ["left_hand", "right_hand"]
    assert np.array_equal(new.estimator.predict_proba(windows.X), est.predict_proba(windows.X))


def test_not_a_model(tmp_path):
    text = tmp_path / "notes.ndmodel"
    text.write_text("hello")
    with pytest.raises(ConfigError, match="notes.ndmodel: not a readable neurodecode model"):
        load_model(text)
    other = tmp_path / "other.ndmodel"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("readme.txt", "a zip, but no model")
    with pytest.raises(ConfigError, match=r"other.ndmodel: not a neurodecode model file \(no meta.json"):
        load_model(other)
    with pytest.raises(ConfigError, match="no such model file"):
        load_model(tmp_path / "absent.ndmodel")
