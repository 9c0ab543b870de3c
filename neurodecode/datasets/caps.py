"""Electrode caps the synthetic datasets can take: the default cap and those of public datasets."""
from __future__ import annotations

from ..errors import ConfigError
from ..utils import did_you_mean

__all__ = ["DEFAULT_CHANNELS", "CAPS", "cap_channels"]

#: 10-20 system plus the 10-10 positions that the three paradigms need.
DEFAULT_CHANNELS = (
    "Fp1 Fp2 F7 F3 Fz F4 F8 FC5 FC1 FC2 FC6 T7 C3 Cz C4 T8 "
    "CP5 CP1 CP2 CP6 P7 P3 Pz P4 P8 PO3 POz PO4 O1 Oz O2"
).split()

#: Caps of public datasets, by name, for the ``montage`` of the synthetic datasets.
CAPS = {
    # BNCI2014-001 (BCI Competition IV 2a): 22 channels at 250 Hz
    "bnci2014_001": ("Fz FC3 FC1 FCz FC2 FC4 C5 C3 C1 Cz C2 C4 C6 CP3 CP1 CPz CP2 CP4 P1 Pz P2 "
                     "POz").split(),
    # PhysionetMI (EEG Motor Movement/Imagery, BCI2000): 64 channels at 160 Hz
    "physionetmi": ("FC5 FC3 FC1 FCz FC2 FC4 FC6 C5 C3 C1 Cz C2 C4 C6 CP5 CP3 CP1 CPz CP2 CP4 CP6 Fp1 Fpz "
                    "Fp2 AF7 AF3 AFz AF4 AF8 F7 F5 F3 F1 Fz F2 F4 F6 F8 FT7 FT8 T7 T8 T9 T10 TP7 TP8 P7 P5 "
                    "P3 P1 Pz P2 P4 P6 P8 PO7 PO3 POz PO4 PO8 O1 Oz O2 Iz").split(),
}


def cap_channels(montage: str) -> list[str]:
    """Channel names of a cap: a name in :data:`CAPS` or an MNE built-in montage.

    Examples
    --------
    >>> len(cap_channels("bnci2014_001")), len(cap_channels("biosemi64"))
    (22, 64)
    """
    import mne

    if montage in CAPS:
        return list(CAPS[montage])
    builtin = mne.channels.get_builtin_montages()
    if montage not in builtin:
        raise ConfigError(f"montage: unknown cap {montage!r}: {did_you_mean(montage, [*CAPS, *builtin])}")
    return list(mne.channels.make_standard_montage(montage).ch_names)
