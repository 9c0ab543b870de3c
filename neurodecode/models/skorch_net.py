"""The skorch net a :class:`~neurodecode.models.DeepClassifier` trains: braindecode's EEGClassifier,
with bfloat16 autocast on CUDA, and the network state kept for pickling."""
from __future__ import annotations

import numpy as np

__all__ = ["net_class", "plain_chs"]


def net_class() -> type:
    """braindecode's ``EEGClassifier`` with bfloat16 autocast on CUDA (built on first use: torch loads late)."""
    import torch
    from braindecode import EEGClassifier

    class _Net(EEGClassifier):
        """EEGClassifier with bfloat16 autocast on CUDA."""

        def __init__(self, *args, amp=False, **kwargs):
            super().__init__(*args, **kwargs)
            self.amp = amp

        def infer(self, x, **fit_params):
            if self.amp and str(self.device).startswith("cuda"):
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    return super().infer(x, **fit_params).float()
            return super().infer(x, **fit_params)

    return _Net


def plain_chs(chs_info: list[dict]) -> list[dict]:
    """MNE's channel dicts with plain values (MNE's named constants become ints and floats), so a
    saved network names no MNE type; braindecode reads only names, kinds and positions."""
    def plain(value):
        if isinstance(value, np.ndarray):
            return value.copy()
        if isinstance(value, (bool, str)) or value is None:
            return value
        return int(value) if isinstance(value, (int, np.integer)) else float(value)

    return [{key: plain(value) for key, value in ch.items()} for ch in chs_info]
