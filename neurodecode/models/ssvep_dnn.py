"""The SSVEP deep neural network of Guney, Oblokulov and Ozkan (2022), braindecode-style.

O. B. Guney, M. Oblokulov and H. Ozkan, "A Deep Neural Network for
SSVEP-Based Brain-Computer Interfaces", IEEE Transactions on Biomedical
Engineering 69(2):932-944, 2022 (arXiv:2011.08562); reference code
osmanberke/Deep-SSVEP-BCI (MATLAB). It reported 265.23 bits/min on the
Tsinghua Benchmark and 196.59 on BETA with 0.4 s of stimulation, trained in
two stages: a global model on every subject, then a fine-tune per subject.

Its input is a window already split into ``n_bands`` harmonic sub-bands
(Chebyshev type I band-passes from ``8·m`` Hz to 90 Hz in the paper), given
channel-major as :class:`~neurodecode.models.WindowFilterBank` with
``layout="channels"`` and the recipe step ``filter_bank`` lay them out:
``Oz|8-90, Oz|16-90, Oz|24-90, O1|8-90, ...``. ``n_chans`` counts every
(channel, sub-band) row, so ``n_chans = electrodes x n_bands``.

==========================  ===========================================  =====================
layer                       what it does                                 output
==========================  ===========================================  =====================
``subband_combination``     Conv2d(n_bands -> 1, 1x1), no bias,          (1, C, T)
                            weights initialised to 1
``spatial``                 Conv2d(1 -> 120, C x 1): channels combined   (120, 1, T)
``drop_1``                  Dropout(0.1)
``temporal_1``              Conv2d(120 -> 120, 1x2, stride 2)            (120, 1, T // 2)
``drop_2``, ReLU            Dropout(0.1), then ReLU
``temporal_2``              Conv2d(120 -> 120, 1x10, padding "same")     (120, 1, T // 2)
``drop_3``                  Dropout(0.95)
``final_layer``             Linear(120 x T // 2 -> n_outputs)            (n_outputs,)
==========================  ===========================================  =====================

Weights other than the first layer's start from N(0, 0.01²) with zero
biases ("narrow-normal", as in the reference code).
"""
from __future__ import annotations

import re

import torch
from braindecode.models.base import EEGModuleMixin
from torch import nn

from ..errors import ConfigError

__all__ = ["SSVEPDNN", "band_count"]

_BAND = re.compile(r"\|[0-9.]+-[0-9.]+$")


def band_count(ch_names) -> int | None:
    """The number of sub-bands in channel-major filter-bank names (``Oz|8-90``...); None for plain channels.

    Examples
    --------
    >>> band_count(["Oz|8-90", "Oz|16-90", "O1|8-90", "O1|16-90"]), band_count(["Oz", "O1"])
    (2, None)
    """
    names = list(ch_names)
    if not names or not all(_BAND.search(n) for n in names):
        return None
    first = _BAND.sub("", names[0])
    return sum(_BAND.sub("", n) == first for n in names)


class SSVEPDNN(EEGModuleMixin, nn.Module):
    """Guney et al.'s SSVEP DNN; see the module docstring for its layers and reference.

    Parameters
    ----------
    n_outputs, n_chans, chs_info, n_times, input_window_seconds, sfreq
        braindecode's signal parameters; ``n_chans`` is electrodes x ``n_bands``.
    n_bands : int
        Sub-bands in the input (3 in the paper).
    n_filters : int
        Filters of the spatial and temporal convolutions (120).
    drop_prob : tuple of 3 floats
        Dropout after the spatial, first and second temporal convolutions
        (0.1, 0.1, 0.95 in the paper's first stage).

    Examples
    --------
    >>> import torch
    >>> net = SSVEPDNN(n_outputs=40, n_chans=27, n_times=100, sfreq=250.0, n_bands=3)
    >>> net(torch.randn(4, 27, 100)).shape
    torch.Size([4, 40])
    """

    def __init__(self, n_outputs=None, n_chans=None, chs_info=None, n_times=None, input_window_seconds=None,
                 sfreq=None, n_bands: int = 3, n_filters: int = 120, drop_prob=(0.1, 0.1, 0.95)):
        super().__init__(n_outputs=n_outputs, n_chans=n_chans, chs_info=chs_info, n_times=n_times,
                         input_window_seconds=input_window_seconds, sfreq=sfreq)
        del n_outputs, n_chans, chs_info, n_times, input_window_seconds, sfreq
        n_bands = int(n_bands)
        if n_bands < 1 or self.n_chans % n_bands:
            raise ConfigError(f"SSVEPDNN: {self.n_chans} input rows cannot be {n_bands} sub-bands of the same "
                              "channels; set n_bands to the filter bank's number of bands")
        if self._chs_info:
            given = band_count(ch["ch_name"] for ch in self._chs_info)
            if given is not None and given != n_bands:
                raise ConfigError(f"SSVEPDNN: the input holds {given} sub-bands per channel but n_bands={n_bands}; "
                                  f"set n_bands: {given}")
        if self.n_times < 2:
            raise ConfigError(f"SSVEPDNN needs windows of at least 2 samples, got {self.n_times}")
        self.n_bands, self.n_filters = n_bands, int(n_filters)
        electrodes = self.n_chans // n_bands
        p1, p2, p3 = (float(p) for p in drop_prob)
        self.subband_combination = nn.Conv2d(n_bands, 1, (1, 1), bias=False)
        self.spatial = nn.Conv2d(1, self.n_filters, (electrodes, 1))
        self.drop_1 = nn.Dropout(p1)
        self.temporal_1 = nn.Conv2d(self.n_filters, self.n_filters, (1, 2), stride=(1, 2))
        self.drop_2 = nn.Dropout(p2)
        self.temporal_2 = nn.Conv2d(self.n_filters, self.n_filters, (1, 10), padding="same")
        self.drop_3 = nn.Dropout(p3)
        self.final_layer = nn.Linear(self.n_filters * (self.n_times // 2), self.n_outputs)
        nn.init.ones_(self.subband_combination.weight)
        for layer in (self.spatial, self.temporal_1, self.temporal_2, self.final_layer):
            nn.init.normal_(layer.weight, 0.0, 0.01)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, rows, times = x.shape
        # channel-major rows (C1|b1, C1|b2, ..., C2|b1, ...) -> (batch, bands, channels, times)
        x = x.reshape(n, rows // self.n_bands, self.n_bands, times).transpose(1, 2)
        x = self.drop_1(self.spatial(self.subband_combination(x)))
        x = torch.relu(self.drop_2(self.temporal_1(x)))
        x = self.drop_3(self.temporal_2(x))
        return self.final_layer(x.flatten(1))
