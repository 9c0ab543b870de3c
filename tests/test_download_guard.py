"""The offline guard: refuses the network in the loading thread only, names the file, leaves no folder."""
import socket
import threading

import pooch
import pytest

from neurodecode.datasets.download_guard import guard_downloads
from neurodecode.errors import DataNotFoundError


def test_offline_refusal_names_the_file_and_removes_the_folders_it_made(tmp_path):
    target = tmp_path / "made" / "by" / "pooch"
    with pytest.raises(DataNotFoundError) as info, guard_downloads("Demo", 3, offline=True):
        pooch.retrieve("https://example.invalid/files/run1.fif", None, fname="run1.fif", path=target)
    message = str(info.value)
    assert message.startswith("Demo subject 3: files not found expected at ")
    assert str(target / "run1.fif") in message and "offline mode" in message
    assert list(tmp_path.iterdir()) == []  # made/by/pooch removed again


def test_offline_refusal_is_not_retried_as_a_network_failure(monkeypatch, tmp_path):
    sleeps = []
    monkeypatch.setattr(pooch.core.time, "sleep", sleeps.append)
    files = pooch.create(tmp_path, "https://example.invalid/", registry={"a.fif": None}, retry_if_failed=3)
    with pytest.raises(DataNotFoundError, match="a network access was refused"), \
            guard_downloads("Demo", 2, offline=True):
        files.fetch("a.fif")
    assert sleeps == []  # pooch would wait 1 + 2 + 3 s before giving up on an OSError


def test_offline_guard_holds_in_its_own_thread_only():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    results = []

    def other_thread():
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            results.append("connected")

    with pytest.raises(DataNotFoundError, match="a network access was refused"), \
            guard_downloads("Demo", 1, offline=True):
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join(10)
        socket.getaddrinfo("127.0.0.1", port)
    server.close()
    assert results == ["connected"]
    assert socket.getaddrinfo("127.0.0.1", port)  # and the guard has left


def test_online_guard_passes_the_network_through():
    with guard_downloads("Demo", 1, offline=False):
        assert socket.getaddrinfo("127.0.0.1", 80)
