from pathlib import Path

import pytest

from neurodecode.config import exported, get_config
from neurodecode.errors import ConfigError


def test_data_root_resolution_order(monkeypatch, tmp_path):
    monkeypatch.setenv("NEURODECODE_DATA", str(tmp_path / "nd"))
    monkeypatch.setenv("MNE_DATA", str(tmp_path / "mne"))
    assert get_config().data_root == tmp_path / "nd"
    monkeypatch.delenv("NEURODECODE_DATA")
    assert get_config().data_root == tmp_path / "mne"


def test_default_data_root_is_home_mne_data(monkeypatch, tmp_path):
    monkeypatch.delenv("NEURODECODE_DATA")
    monkeypatch.delenv("MNE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no MNE config file there either
    assert get_config().data_root == tmp_path / "mne_data"


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_offline_flag(monkeypatch, value, expected):
    monkeypatch.setenv("NEURODECODE_OFFLINE", value)
    assert get_config().offline is expected


def test_provider_defaults_to_upstream_and_rejects_unknown(monkeypatch):
    monkeypatch.delenv("MOABB_DOWNLOAD_PROVIDER")
    monkeypatch.delenv("NEURODECODE_DOWNLOAD_PROVIDER", raising=False)
    assert get_config().download_provider == "upstream"
    monkeypatch.setenv("MOABB_DOWNLOAD_PROVIDER", "pigeon")
    with pytest.raises(ConfigError, match="'pigeon' is not one of auto, nemar, upstream"):
        get_config()


def test_exported_settings_reach_mne_and_moabb_then_leave(monkeypatch, tmp_path):
    import os
    import threading

    import mne
    from moabb.utils import get_download_provider

    monkeypatch.setenv("NEURODECODE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("NEURODECODE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MNE_DATA", "/the/callers/own")
    monkeypatch.delenv("MOABB_RESULTS")
    monkeypatch.delenv("MOABB_DOWNLOAD_PROVIDER")
    with exported():
        assert mne.get_config("MNE_DATA") == str(tmp_path / "data")
        assert get_download_provider() == "upstream"
        assert Path(os.environ["MOABB_RESULTS"]) == tmp_path / "home" / "results" / "moabb"
        with exported():  # nested: the outermost block owns the environment
            pass
        assert os.environ["MNE_DATA"] == str(tmp_path / "data")
    assert os.environ["MNE_DATA"] == "/the/callers/own"
    # a thread still loading keeps the settings exported after another thread's block ends
    inside, leave = threading.Event(), threading.Event()

    def load():
        with exported():
            inside.set()
            leave.wait(10)

    worker = threading.Thread(target=load)
    with exported():
        worker.start()
        inside.wait(10)
    assert os.environ["MNE_DATA"] == str(tmp_path / "data")
    leave.set()
    worker.join(10)
    assert os.environ["MNE_DATA"] == "/the/callers/own"


def test_exported_restores_the_callers_environment(monkeypatch, tmp_path):
    import os

    monkeypatch.setenv("NEURODECODE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("MNE_DATA", "/the/callers/own")
    monkeypatch.setenv("MOABB_RESULTS", "/the/callers/results")
    monkeypatch.delenv("MOABB_DOWNLOAD_PROVIDER")
    with exported():
        assert os.environ["MOABB_RESULTS"] == "/the/callers/results"  # never overridden
        assert os.environ["MOABB_DOWNLOAD_PROVIDER"] == "upstream"
    assert os.environ["MNE_DATA"] == "/the/callers/own"
    assert "MOABB_DOWNLOAD_PROVIDER" not in os.environ
    with pytest.raises(RuntimeError), exported():
        raise RuntimeError("a failed load still restores")
    assert os.environ["MNE_DATA"] == "/the/callers/own"


def test_loading_a_dataset_leaves_the_environment_alone(monkeypatch):
    import os

    from neurodecode.datasets import get_dataset

    monkeypatch.delenv("MNE_DATA", raising=False)
    before = dict(os.environ)
    dataset = get_dataset("SyntheticMI", n_subjects=1)
    dataset.get_data([1])
    assert dict(os.environ) == before
