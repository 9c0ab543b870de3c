"""A transformer over (sensor, time-patch) tokens whose sensors are embedded from their
position, orientation and type, so one model serves any EEG cap and any MEG system.

After BrainOmni (a sensor encoder embeds each sensor's position, orientation
and type, and one model is pretrained on EEG and MEG together) and the masked
prediction both it and NeuroRVQ pretrain with. It follows braindecode's
conventions (``n_chans``, ``n_outputs``, ``n_times``, ``sfreq``,
``chs_info``; ``save_pretrained``/``from_pretrained``), and its weights do not
depend on the channels: the same weights load for any cap.

=====================  ==========================================================
layer                  what it does
=====================  ==========================================================
per-channel z-score    each channel of each window to zero mean, unit variance
                       (EEG in V, magnetometers in T, gradiometers in T/m alike)
``patch_embed``        Linear(patch_size -> embed_dim) on each channel's patches
``sensor_embed``       MLP(9 -> embed_dim -> embed_dim) on each sensor's
                       position (3, centred, /0.1 m), orientation (3; MEG coil
                       normal, 0 for EEG) and type (eeg, mag, grad one-hot)
``time_embed``         a learned vector per patch index (``max_patches``)
``encoder``            ``depth`` pre-norm TransformerEncoderLayers over all
                       sensor x patch tokens (``num_heads``, feed-forward 2x)
``decoder``            Linear(embed_dim -> patch_size): the masked patch's
                       z-scored samples (pretraining only)
``final_layer``        Linear(embed_dim -> n_outputs) on the mean token
=====================  ==========================================================
"""
from __future__ import annotations

import numpy as np
import torch
from braindecode.models.base import EEGModuleMixin
from torch import nn

__all__ = ["SensorTransformer", "sensor_features", "SENSOR_TYPES"]

SENSOR_TYPES = ("eeg", "mag", "grad")
#: FIFF codes: channel kind EEG and MEG, and the units that tell magnetometers from gradiometers.
_KIND_EEG, _KIND_MEG, _UNIT_T, _UNIT_T_M = 2, 1, 112, 201
_HEAD_RADIUS = 0.1  # m: positions are given in head-sized units


def _type(ch: dict) -> str | None:
    kind, unit = int(ch.get("kind", -1)), int(ch.get("unit", -1))
    if kind == _KIND_EEG:
        return "eeg"
    if kind == _KIND_MEG:
        return {_UNIT_T: "mag", _UNIT_T_M: "grad"}.get(unit)
    return None


def sensor_features(chs_info: list[dict]) -> torch.Tensor:
    """The 9 features of each sensor ``(n_chans, 9)``: centred position, orientation, type one-hot.

    Raises
    ------
    ValueError
        Naming the channels without a position, or of a type other than EEG, magnetometer or gradiometer.
    """
    if not chs_info:
        raise ValueError("no channel information: SensorTransformer embeds each sensor from its position and type")
    loc = np.array([np.asarray(ch.get("loc", np.zeros(12)), dtype=float)[:12] for ch in chs_info])
    kinds = [_type(ch) for ch in chs_info]
    untyped = [ch.get("ch_name", "?") for ch, k in zip(chs_info, kinds) if k is None]
    if untyped:
        raise ValueError(f"channels {untyped[:8]} are not EEG, magnetometer or gradiometer sensors")
    pos = loc[:, :3]
    unplaced = [ch.get("ch_name", "?") for ch, p in zip(chs_info, pos) if not (np.isfinite(p).all() and p.any())]
    if unplaced:
        raise ValueError(f"channels {unplaced[:8]} have no position")
    pos = (pos - pos.mean(axis=0)) / _HEAD_RADIUS
    orientation = np.where(np.array([k != "eeg" for k in kinds])[:, None], loc[:, 9:12], 0.0)
    onehot = np.array([[k == t for t in SENSOR_TYPES] for k in kinds], dtype=float)
    return torch.as_tensor(np.hstack([pos, orientation, onehot]), dtype=torch.float32)


class SensorTransformer(EEGModuleMixin, nn.Module):
    """Sensor-embedded transformer for EEG and MEG; see the module docstring for its layers.

    Parameters
    ----------
    n_outputs, n_chans, chs_info, n_times, input_window_seconds, sfreq
        braindecode's signal parameters; ``chs_info`` (positions and types)
        is needed to run, not to build or save.
    patch_size : int
        Samples per token.
    embed_dim, depth, num_heads : int
    max_patches : int
        Longest window, in patches.
    drop_prob : float

    Examples
    --------
    >>> import mne, torch
    >>> info = mne.create_info(["C3", "Cz", "C4"], 128.0, "eeg").set_montage("standard_1020")
    >>> net = SensorTransformer(n_outputs=2, chs_info=info["chs"], n_times=256, sfreq=128.0)
    >>> net(torch.randn(5, 3, 256)).shape
    torch.Size([5, 2])
    """

    #: Its weights fit any channels with positions: data is matched on rate and length, not names.
    sensor_agnostic = True

    def __init__(self, n_outputs=None, n_chans=None, chs_info=None, n_times=None, input_window_seconds=None,
                 sfreq=None, patch_size: int = 32, embed_dim: int = 64, depth: int = 2, num_heads: int = 4,
                 max_patches: int = 64, drop_prob: float = 0.1):
        super().__init__(n_outputs=n_outputs, n_chans=n_chans, chs_info=chs_info, n_times=n_times,
                         input_window_seconds=input_window_seconds, sfreq=sfreq)
        del n_outputs, n_chans, chs_info, n_times, input_window_seconds, sfreq
        self.patch_size, self.embed_dim, self.max_patches = patch_size, embed_dim, max_patches
        self.patch_embed = nn.Linear(patch_size, embed_dim)
        self.sensor_embed = nn.Sequential(nn.Linear(3 + 3 + len(SENSOR_TYPES), embed_dim), nn.GELU(),
                                          nn.Linear(embed_dim, embed_dim))
        self.time_embed = nn.Parameter(torch.randn(max_patches, embed_dim) * 0.02)
        self.mask_token = nn.Parameter(torch.zeros(embed_dim))
        layer = nn.TransformerEncoderLayer(embed_dim, num_heads, 2 * embed_dim, drop_prob, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(embed_dim)
        self.decoder = nn.Linear(embed_dim, patch_size)
        self.final_layer = nn.Linear(embed_dim, self._n_outputs or 1)
        # from the channels, not learned: not part of the weights, so they fit any cap
        sensors = sensor_features(self._chs_info) if self._chs_info else torch.zeros(0, 9)
        self.register_buffer("sensors", sensors, persistent=False)

    def reset_head(self, n_outputs: int) -> None:
        """A new ``final_layer`` for ``n_outputs`` classes (braindecode's fine-tuning hook)."""
        self.final_layer = nn.Linear(self.embed_dim, n_outputs).to(self.time_embed.device)
        self._n_outputs = n_outputs

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """Z-scored ``(batch, chans, n_patches, patch_size)`` patches of ``x`` (batch, chans, times)."""
        n_patches = x.shape[-1] // self.patch_size
        if not 1 <= n_patches <= self.max_patches:
            raise ValueError(f"windows of {x.shape[-1]} samples: SensorTransformer takes 1 to {self.max_patches} "
                             f"patches of {self.patch_size} samples")
        x = x[..., : n_patches * self.patch_size]
        x = x - x.mean(-1, keepdim=True)
        std = x.std(-1, keepdim=True)
        # no absolute epsilon: it would dwarf MEG in T (1e-13) and shrink EEG in V (1e-5); flat channels stay 0
        x = x / torch.where(std > 0, std, torch.ones_like(std))
        return x.reshape(*x.shape[:2], n_patches, self.patch_size)

    def encode(self, patches: torch.Tensor, sensors: torch.Tensor, mask: torch.Tensor | None = None):
        """Token states ``(batch, chans * n_patches, embed_dim)``; ``mask`` (batch, chans, n_patches)
        replaces those patches by the mask token before encoding."""
        if sensors.shape[0] != patches.shape[1]:
            raise ValueError(f"{patches.shape[1]} channels in the data, {sensors.shape[0]} sensors described")
        tokens = self.patch_embed(patches)
        if mask is not None:
            tokens = torch.where(mask[..., None], self.mask_token.expand_as(tokens), tokens)
        tokens = tokens + self.sensor_embed(sensors)[None, :, None] + self.time_embed[: patches.shape[2]][None, None]
        return self.norm(self.encoder(tokens.flatten(1, 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_layer(self.encode(self.patches(x), self.sensors).mean(1))

    def masked_loss(self, x: torch.Tensor, sensors: torch.Tensor, mask_ratio: float,
                    generator: torch.Generator | None = None, *, span: str = "tokens") -> torch.Tensor:
        """Mean squared error of the masked patches reconstructed from the others (z-scored units).

        ``span="time"`` hides whole time patches on every sensor at once, so a masked patch must be
        predicted from the other times; ``"tokens"`` hides (sensor, patch) tokens independently, which
        neighbouring sensors at the same time can fill in (volume conduction) without any temporal model.
        """
        patches = self.patches(x)
        batch, n_chans, n_patches = patches.shape[:3]
        if span == "time":
            hidden = torch.rand(batch, n_patches, generator=generator, device=patches.device) < mask_ratio
            hidden[:, 0] |= ~hidden.any(1)  # at least one masked patch per window
            if n_patches > 1:
                hidden[:, -1] &= ~hidden.all(1)  # and at least one left to predict it from
            mask = hidden[:, None, :].expand(batch, n_chans, n_patches)
        elif span == "tokens":
            mask = torch.rand(patches.shape[:3], generator=generator, device=patches.device) < mask_ratio
            mask[..., 0, 0] |= ~mask.flatten(1).any(1)  # at least one masked token per window
        else:
            raise ValueError(f"span must be 'time' or 'tokens', got {span!r}")
        predicted = self.decoder(self.encode(patches, sensors, mask)).reshape(patches.shape)
        return ((predicted - patches) ** 2)[mask].mean()
