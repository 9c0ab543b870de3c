"""The standard 10-05 montage under the name the installed MNE uses."""
from __future__ import annotations

from functools import cache

__all__ = ["standard_montage_name", "standard_positions"]


@cache
def standard_montage_name() -> str:
    """``"colin27_1005"`` on MNE >= 1.13 (where ``"standard_1005"`` is deprecated), else ``"standard_1005"``."""
    import mne

    builtin = mne.channels.get_builtin_montages()
    return "colin27_1005" if "colin27_1005" in builtin else "standard_1005"


@cache
def standard_positions() -> dict:
    """Electrode name -> 3D position (m) in the standard 10-05 montage."""
    import mne

    return mne.channels.make_standard_montage(standard_montage_name()).get_positions()["ch_pos"]
