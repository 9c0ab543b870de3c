from pathlib import Path

import pytest

from neurodecode.config import apply, get_config
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


def test_apply_exports_to_mne_and_moabb(monkeypatch, tmp_path):
    monkeypatch.setenv("NEURODECODE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("NEURODECODE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MOABB_RESULTS")
    monkeypatch.delenv("MOABB_DOWNLOAD_PROVIDER")
    apply()
    import os

    import mne
    from moabb.utils import get_download_provider

    assert mne.get_config("MNE_DATA") == str(tmp_path / "data")
    assert get_download_provider() == "upstream"
    assert Path(os.environ["MOABB_RESULTS"]) == tmp_path / "home" / "results" / "moabb"
