"""A hierarchical variational autoencoder of EEG trials with an EEGNet encoder, after hvEEGNet.

hvEEGNet (Cisotto et al. 2024) encodes a trial with EEGNet's blocks (a
temporal convolution, a depthwise spatial convolution, a separable
convolution), keeps a latent variable at two depths of the encoder, and
decodes with the mirror image. Here:

- ``z2`` (deep, ``T/32`` steps) has a standard normal prior;
- ``z1`` (shallow, ``T/4`` steps) has a prior ``p(z1 | z2)`` computed by the
  decoder, and a posterior ``q(z1 | x, z2)`` from the encoder's shallow
  features and the decoder's state (the top-down inference of NVAE/VDVAE,
  which hvEEGNet follows).
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["HierarchicalVAE", "POOL"]

POOL = (4, 8)  # EEGNet's two average poolings; the deep latent has n_times / 32 steps
LOGVAR = 10.0  # log-variances are held in [-10, 10]: a learned prior whose variance collapses
               # to 0 would make the KL term infinite and the training diverge


def _gaussian_kl(mu_q, logvar_q, mu_p, logvar_p):
    """KL(q || p) of diagonal Gaussians, summed over everything but the batch."""
    kl = 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p) ** 2) / logvar_p.exp() - 1)
    return kl.flatten(1).sum(1)


class HierarchicalVAE(nn.Module):
    """Two-level VAE of ``(batch, n_chans, n_times)`` trials.

    Parameters
    ----------
    n_chans, n_times : int
        Input shape; ``n_times`` must be a multiple of 32 (the scorer pads).
    sfreq : float
        Sampling frequency in Hz; the temporal kernel spans 0.25 s.
    F1, D, F2 : int
        EEGNet's temporal filters, depth multiplier and separable filters.
    n_latent : int
        Channels of each latent level.

    Examples
    --------
    >>> net = HierarchicalVAE(n_chans=4, n_times=128, sfreq=128.0)
    >>> x_hat, kl = net(torch.zeros(2, 4, 128))
    >>> tuple(x_hat.shape), tuple(kl.shape)
    ((2, 4, 128), (2,))
    """

    def __init__(self, n_chans: int, n_times: int, sfreq: float, F1: int = 8, D: int = 2, F2: int = 16,
                 n_latent: int = 8):
        super().__init__()
        self.n_chans, self.n_times, self.sfreq = n_chans, n_times, sfreq
        k1 = max(3, int(round(0.25 * sfreq)) | 1)  # odd, so "same" padding is symmetric
        self.kernel_length = k1
        f = F1 * D
        self.temporal = nn.Sequential(nn.Conv2d(1, F1, (1, k1), padding=(0, k1 // 2), bias=False),
                                      nn.BatchNorm2d(F1))
        self.spatial = nn.Sequential(nn.Conv2d(F1, f, (n_chans, 1), groups=F1, bias=False),
                                     nn.BatchNorm2d(f), nn.ELU())
        self.pool1 = nn.AvgPool1d(POOL[0])
        self.separable = nn.Sequential(nn.Conv1d(f, f, 15, padding=7, groups=f, bias=False),
                                       nn.Conv1d(f, F2, 1, bias=False), nn.BatchNorm1d(F2), nn.ELU(),
                                       nn.AvgPool1d(POOL[1]))
        self.q2 = nn.Conv1d(F2, 2 * n_latent, 1)
        self.up2 = nn.Sequential(nn.ConvTranspose1d(n_latent, f, POOL[1], stride=POOL[1]), nn.ELU())
        self.p1 = nn.Conv1d(f, 2 * n_latent, 3, padding=1)
        self.q1 = nn.Conv1d(2 * f, 2 * n_latent, 3, padding=1)
        self.merge = nn.Sequential(nn.Conv1d(f + n_latent, f, 3, padding=1), nn.ELU())
        self.up1 = nn.Sequential(nn.ConvTranspose1d(f, f, POOL[0], stride=POOL[0]), nn.ELU())
        self.out = nn.Conv1d(f, n_chans, k1, padding=k1 // 2)

    @property
    def receptive_field(self) -> int:
        """Input samples seen by one step of the deep latent ``z2``."""
        return self.kernel_length + POOL[0] * (15 - 1) + POOL[0] * POOL[1] - 1

    def encode(self, x):
        h1 = self.pool1(self.spatial(self.temporal(x.unsqueeze(1))).squeeze(2))
        return h1, self.separable(h1)

    def forward(self, x, *, sample: bool = True):
        """Reconstruction and KL divergence per trial; ``sample=False`` decodes the posterior means."""
        h1, h2 = self.encode(x)
        mu2, logvar2 = self.q2(h2).chunk(2, dim=1)
        logvar2 = logvar2.clamp(-LOGVAR, LOGVAR)
        z2 = mu2 + torch.randn_like(mu2) * (0.5 * logvar2).exp() if sample else mu2
        d1 = self.up2(z2)
        mu_p, logvar_p = self.p1(d1).chunk(2, dim=1)
        logvar_p = logvar_p.clamp(-LOGVAR, LOGVAR)
        mu1, logvar1 = self.q1(torch.cat([h1, d1], dim=1)).chunk(2, dim=1)
        logvar1 = logvar1.clamp(-LOGVAR, LOGVAR)
        z1 = mu1 + torch.randn_like(mu1) * (0.5 * logvar1).exp() if sample else mu1
        x_hat = self.out(self.up1(self.merge(torch.cat([d1, z1], dim=1))))
        kl = (_gaussian_kl(mu2, logvar2, torch.zeros_like(mu2), torch.zeros_like(logvar2))
              + _gaussian_kl(mu1, logvar1, mu_p, logvar_p))
        return x_hat, kl
