"""Test settings: offline, data from ../shared/data, caches in a temporary home."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NEURODECODE_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()
MNE_DATA = SHARED / "mne_data"


def pytest_configure(config):
    os.environ["NEURODECODE_DATA"] = str(MNE_DATA)
    os.environ["NEURODECODE_OFFLINE"] = "1"
    os.environ["MOABB_DOWNLOAD_PROVIDER"] = "upstream"
    os.environ["NEURODECODE_LSL_SCOPE"] = "machine"  # LSL stays on loopback
    home = Path(config.rootpath) / ".pytest_home"  # never inside the shared data
    os.environ["NEURODECODE_HOME"] = str(home)
    os.environ["MOABB_RESULTS"] = str(home / "moabb")
    import mne

    mne.set_log_level("ERROR")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real recordings; a test that needs them fails (never skips) when they are missing."""
    if not (SHARED / "README.md").is_file():
        pytest.fail(f"real recordings not found at {SHARED}: put ../shared/data beside the clone "
                    "or set NEURODECODE_SHARED_DATA")
    return SHARED


@pytest.fixture
def exported_settings():
    """The data root and provider exported, as neurodecode does around its own loads, for tests driving MOABB."""
    from neurodecode.config import exported

    with exported() as cfg:
        yield cfg


def pytest_collection_modifyitems(config, items):
    """A test on the real recordings is slow: reading and preprocessing them takes seconds."""
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
