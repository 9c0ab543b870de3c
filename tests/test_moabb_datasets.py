"""MOABB datasets by name, on the real recordings in ../shared/data, offline."""
import time

import numpy as np
import pytest

from neurodecode.datasets import available_subjects, get_dataset
from neurodecode.errors import DataNotFoundError, UnknownNameError

#: every test here trains a model, runs a benchmark or reads real recordings
pytestmark = pytest.mark.slow


def test_physionet_subject1_left_right(shared_data):
    from moabb.paradigms import LeftRightImagery

    dataset = get_dataset("PhysionetMI")
    runs = dataset.get_data([1])[1]["0"]
    assert sorted(runs) == ["0", "1", "2", "3", "4", "5"]  # imagery: hand 4, 8, 12 then feet 6, 10, 14
    X, y, meta = LeftRightImagery().get_data(dataset, [1])
    assert X.shape[:2] == (45, 64)
    assert sorted(set(y)) == ["left_hand", "right_hand"]
    assert set(meta["run"]) == {"0", "1", "2"}  # the left/right hand runs


def test_kalunga_subjects_1_to_9_ssvep(shared_data):
    from moabb.paradigms import SSVEP

    dataset = get_dataset("Kalunga2016", subjects=list(range(1, 10)))
    X, y, meta = SSVEP().get_data(dataset)
    assert X.shape[1] == 8
    labels, counts = np.unique(y, return_counts=True)
    assert list(labels) == ["13", "17", "21", "rest"]
    assert counts.min() == counts.max()  # balanced classes
    assert sorted(meta["subject"].unique()) == list(range(1, 10))


def test_available_subjects_is_what_is_on_disk(shared_data):
    assert available_subjects(get_dataset("Kalunga2016")) == list(range(1, 10))
    assert available_subjects(get_dataset("PhysionetMI")) == [1]


def test_missing_subject_offline_fails_fast_and_writes_nothing(shared_data):
    root = shared_data / "mne_data"
    before = sorted(p for p in root.rglob("*"))
    dataset = get_dataset("Kalunga2016", subjects=[10])
    start = time.perf_counter()
    with pytest.raises(DataNotFoundError) as info:
        dataset.get_data([10])
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0
    message = str(info.value)
    assert "Kalunga2016 subject 10" in message
    assert "subject10_run1_raw.fif" in message and str(root) in message
    # A dataset not present at all, whose loader creates folders before downloading.
    with pytest.raises(DataNotFoundError, match="BNCI2014-001 subject 1"):
        get_dataset("BNCI2014_001").get_data([1])
    assert sorted(p for p in root.rglob("*")) == before


def test_unknown_dataset_lists_close_matches():
    with pytest.raises(UnknownNameError, match="did you mean Kalunga2016"):
        get_dataset("Kalunga2061")


def test_name_lookup_ignores_case_and_separators():
    assert type(get_dataset("bnci2014-001")).__name__ == "BNCI2014_001"
    assert type(get_dataset("PhysionetMotorImagery")).__name__ == "PhysionetMI"


def test_failed_download_online_is_a_clear_error(shared_data, monkeypatch):
    import socket

    def no_route(*args, **kwargs):
        raise socket.gaierror(-3, "Temporary failure in name resolution")

    monkeypatch.setenv("NEURODECODE_OFFLINE", "0")
    monkeypatch.setattr(socket, "getaddrinfo", no_route)
    root = shared_data / "mne_data"
    before = sorted(root.rglob("*"))
    start = time.perf_counter()
    with pytest.raises(DataNotFoundError, match=r"Kalunga2016 subject 11: .*download failed"):
        get_dataset("Kalunga2016").get_data([11])
    assert time.perf_counter() - start < 5.0
    assert sorted(root.rglob("*")) == before
