"""The artifact network: a small bias-free dilated convolution stack that estimates the artifact in one channel.

Every layer is a convolution without bias followed by a ReLU, with residual
connections, so the network is positively homogeneous: ``net(a * x) == a *
net(x)`` for any ``a > 0``. A denoiser built on it therefore needs no
per-segment normalisation and works in volts, in microvolts or on
EEGdenoiseNet's unit-free segments alike (Mohan et al. 2020, "Robust and
interpretable blind image denoising via bias-free convolutional neural
networks", use the same property). Without biases an all-zero input also
yields all-zero hidden states, which is why a causal stream that starts from
zeros equals the same network run on the whole recording.

=========  ===============================  ===================
layer      shape                            parameters
=========  ===============================  ===================
input      Conv1d(1 -> width, kernel)       width * kernel
block i    Conv1d(width -> width, kernel,   width^2 * kernel
           dilation d_i) + ReLU, residual   (one per dilation)
output     Conv1d(width -> 1, 1)            width
=========  ===============================  ===================

With the defaults (width 16, kernel 5, dilations 1..64) that is 9,056
parameters and a receptive field of 513 samples (2.0 s at 256 Hz).
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["ArtifactNet"]


class ArtifactNet(nn.Module):
    """Estimate the artifact in ``(batch, 1, n_times)`` single-channel EEG.

    Parameters
    ----------
    width : int
        Feature maps per layer.
    kernel_size : int
        Taps of every convolution.
    dilations : tuple of int
        Dilation of each residual block.
    causal : bool
        Pad on the past side only, so output sample t uses input samples up to t.

    Examples
    --------
    >>> import torch
    >>> net = ArtifactNet()
    >>> net.n_params, net.receptive_field
    (9056, 513)
    >>> x = torch.randn(2, 1, 600, dtype=torch.float64)
    >>> net = net.double()
    >>> bool(torch.allclose(net(3.0 * x), 3.0 * net(x)))
    True
    """

    def __init__(self, width: int = 16, kernel_size: int = 5, dilations: tuple = (1, 2, 4, 8, 16, 32, 64),
                 causal: bool = False):
        super().__init__()
        self.width, self.kernel_size, self.dilations, self.causal = width, kernel_size, tuple(dilations), causal
        self.inp = nn.Conv1d(1, width, kernel_size, bias=False)
        self.blocks = nn.ModuleList(nn.Conv1d(width, width, kernel_size, dilation=d, bias=False)
                                    for d in self.dilations)
        self.out = nn.Conv1d(width, 1, 1, bias=False)

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @property
    def receptive_field(self) -> int:
        """Input samples that one output sample depends on."""
        return 1 + (self.kernel_size - 1) * (1 + sum(self.dilations))

    def _pad(self, x: torch.Tensor, dilation: int) -> torch.Tensor:
        total = (self.kernel_size - 1) * dilation
        left = total if self.causal else total // 2
        return nn.functional.pad(x, (left, total - left))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.inp(self._pad(x, 1)))
        for conv, d in zip(self.blocks, self.dilations):
            h = h + torch.relu(conv(self._pad(h, d)))
        return self.out(h)

    def architecture(self) -> dict:
        """The constructor's parameters, as stored in a denoiser file."""
        return {"width": self.width, "kernel_size": self.kernel_size, "dilations": list(self.dilations),
                "causal": self.causal}
