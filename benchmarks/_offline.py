"""Settings every benchmark and training script on the shared recordings needs: offline, data from
``../shared/data`` (or ``NEURODECODE_SHARED_DATA``), caches in the project's own ``.bench-home``."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NEURODECODE_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()


def use_shared_data() -> tuple[Path, Path]:
    """Set the environment defaults (before neurodecode or MOABB load) and return ``(REPO, SHARED)``."""
    for var, value in {"NEURODECODE_DATA": str(SHARED / "mne_data"), "NEURODECODE_OFFLINE": "1",
                       "MOABB_DOWNLOAD_PROVIDER": "upstream", "NEURODECODE_HOME": str(REPO / ".bench-home")}.items():
        os.environ.setdefault(var, value)
    return REPO, SHARED
