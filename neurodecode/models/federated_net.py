"""A network split for federated training across devices: per-client local input layers, shared global layers.

After FLEEG (Liu et al., "Aggregating Intrinsic Information to Enhance BCI
Performance through Federated Learning"): each client's recordings have their
own channels and rate, so each client owns a *local* input layer mapping its
``(n_chans, n_times)`` windows into one shared space, ``(n_shared, n_times
shared)``; any braindecode network built for that space is the *global* part,
whose parameters the server averages. With ``personal_head`` the global
network's ``final_layer`` stays local too (a personalised head per client).

The local layer is a learned spatial mix (a 1x1 convolution from the client's
channels to ``n_shared`` virtual channels) followed by linear interpolation in
time to the shared number of samples (the client's rate mapped to the shared
rate, not learned). With virtual channels named after standard electrodes,
each client's mix starts from its sensors' positions (:func:`position_mixing`),
so every client feeds the shared layers the same virtual montage from the
first round; otherwise it starts at random.

Only trainable parameters of the global part are exchanged
(:func:`shared_names`): batch-norm running statistics are statistics of a
client's data, so they stay with the client, as in FedBN (Li et al. 2021).
"""
from __future__ import annotations

import inspect

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ConfigError
from .lookup import model_class
from .receptive_field import accepted, forward_ok, min_n_times

__all__ = ["LocalInput", "ClientNet", "build_global", "client_net", "position_mixing", "shared_names", "get_shared",
           "set_shared", "train_epochs", "predict_proba"]


class LocalInput(nn.Module):
    """A client's input layer: ``n_chans`` channels -> ``n_shared`` virtual channels, ``n_times`` ->
    ``n_times_shared`` samples.

    Examples
    --------
    >>> LocalInput(22, 500, 16, 256)(torch.zeros(3, 22, 500)).shape
    torch.Size([3, 16, 256])
    """

    def __init__(self, n_chans: int, n_times: int, n_shared: int, n_times_shared: int, mixing=None):
        super().__init__()
        self.n_chans, self.n_times, self.n_times_shared = n_chans, n_times, n_times_shared
        self.spatial = nn.Conv1d(n_chans, n_shared, kernel_size=1)
        if mixing is not None:  # start from a map of the client's sensors onto the shared ones
            with torch.no_grad():
                self.spatial.weight.copy_(torch.as_tensor(np.asarray(mixing), dtype=torch.float32)[..., None])
                self.spatial.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.spatial(x)
        if x.shape[-1] == self.n_times_shared:
            return x
        return F.interpolate(x, size=self.n_times_shared, mode="linear", align_corners=False)


class ClientNet(nn.Module):
    """One client's model: its :class:`LocalInput`, then the global network."""

    def __init__(self, local: LocalInput, network: nn.Module):
        super().__init__()
        self.local, self.network = local, network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(self.local(x))


def build_global(model: str, *, n_shared: int, n_times: int, sfreq: float, n_outputs: int,
                 model_params: dict | None = None, personal_head: bool = False, seed: int = 42) -> nn.Module:
    """The global part: braindecode's ``model`` built for the shared space, seeded.

    Raises
    ------
    ConfigError
        When the network cannot be split: it takes no ``n_chans``/``n_times``
        (a foundation model with its own sensors), its receptive field is
        longer than the shared window, or ``personal_head`` is asked of a
        network without a ``final_layer``.

    Examples
    --------
    >>> net = build_global("ShallowFBCSPNet", n_shared=8, n_times=256, sfreq=128.0, n_outputs=2)
    >>> net(torch.zeros(2, 8, 256)).shape
    torch.Size([2, 2])
    """
    cls, fixed = model_class(model)
    names = set(inspect.signature(cls.__init__).parameters)
    if not {"n_chans", "n_times", "n_outputs"} <= names:
        raise ConfigError(f"{model} cannot be split into local and global parts: it does not take n_chans, "
                          "n_times and n_outputs (its input is fixed); choose a braindecode network that does")
    params = {**accepted(cls, {"n_chans": n_shared, "n_times": n_times, "n_outputs": n_outputs, "sfreq": sfreq,
                                "input_window_seconds": n_times / sfreq}), **fixed, **(model_params or {})}
    if not forward_ok(cls, params, n_times):
        need = min_n_times(cls, {k: v for k, v in params.items() if k not in {"n_times", "input_window_seconds"}})
        raise ConfigError(f"{model} cannot be split into local and global parts for a shared space of {n_shared} "
                          f"channels x {n_times} samples ({n_times / sfreq:g} s at {sfreq:g} Hz)"
                          + (f": it needs n_times >= {need}" if need else "") + "; change the local layer's "
                          "n_chans/sfreq or the window")
    torch.manual_seed(seed)
    network = cls(**params)
    if personal_head and not isinstance(getattr(network, "final_layer", None), nn.Module):
        raise ConfigError(f"{model} cannot keep a personal head: it has no final_layer; set personal_head: false")
    return network


def client_net(network: nn.Module, n_chans: int, n_times: int, n_shared: int, n_times_shared: int,
               seed: int = 42, mixing=None) -> ClientNet:
    """A client's model around (a copy of) the global ``network``, its local layer seeded (or started from
    ``mixing``, ``(n_shared, n_chans)``)."""
    import copy

    torch.manual_seed(seed)
    return ClientNet(LocalInput(n_chans, n_times, n_shared, n_times_shared, mixing), copy.deepcopy(network))


def position_mixing(sensors: np.ndarray, shared: np.ndarray, *, width: float = 0.03) -> np.ndarray:
    """Weights mapping sensors at ``sensors`` (n_chans x 3, m) onto virtual sensors at ``shared``
    (n_shared x 3, m): a Gaussian of the distance (``width`` m), each row summing to 1.

    Every client's local layer then starts from the same virtual montage, so
    the shared layers see aligned inputs from the first round; training may
    move them.

    Examples
    --------
    >>> w = position_mixing(np.array([[0.0, 0, 0], [0.05, 0, 0]]), np.array([[0.0, 0, 0]]))
    >>> w.shape, bool(w[0, 0] > w[0, 1]), float(w.sum())
    ((1, 2), True, 1.0)
    """
    d2 = ((np.asarray(shared)[:, None, :] - np.asarray(sensors)[None, :, :]) ** 2).sum(-1)
    w = np.exp(-(d2 - d2.min(1, keepdims=True)) / (2 * width ** 2))
    return w / w.sum(1, keepdims=True)


def shared_names(network: nn.Module, *, personal_head: bool = False) -> list[str]:
    """Names of the global network's parameters that clients send and the server averages, in order.

    Examples
    --------
    >>> net = build_global("ShallowFBCSPNet", n_shared=8, n_times=256, sfreq=128.0, n_outputs=2)
    >>> all_ = shared_names(net); own_head = shared_names(net, personal_head=True)
    >>> len(all_) - len(own_head), all(not n.startswith("final_layer") for n in own_head)
    (2, True)
    """
    return [name for name, p in network.named_parameters()
            if p.requires_grad and not (personal_head and name.startswith("final_layer."))]


def get_shared(network: nn.Module, names: list[str]) -> list[np.ndarray]:
    """The global network's shared parameters as float32 arrays, in ``names`` order."""
    params = dict(network.named_parameters())
    return [params[n].detach().cpu().numpy().astype(np.float32, copy=True) for n in names]


def set_shared(network: nn.Module, names: list[str], arrays) -> None:
    """Load the server's shared parameters into the global ``network`` (shapes checked)."""
    params = dict(network.named_parameters())
    if len(arrays) != len(names):
        raise ConfigError(f"the server sent {len(arrays)} arrays for {len(names)} shared parameters; the client and "
                          "the server were given different networks")
    with torch.no_grad():
        for name, value in zip(names, arrays):
            if tuple(params[name].shape) != tuple(np.shape(value)):
                raise ConfigError(f"shared parameter {name}: the server sent shape {tuple(np.shape(value))}, the "
                                  f"client's network has {tuple(params[name].shape)}")
            params[name].copy_(torch.as_tensor(np.asarray(value)))


def train_epochs(net: nn.Module, X: np.ndarray, y: np.ndarray, *, epochs: int, lr: float = 1e-3,
                 weight_decay: float = 0.0, batch_size: int = 64, mu: float = 0.0, anchor: dict | None = None,
                 seed: int = 0) -> float:
    """Train ``net`` for ``epochs`` on ``(X, y)`` (class indices) with AdamW and class-balanced cross-entropy;
    return the mean loss of the last epoch.

    With ``mu > 0``, FedProx's proximal term ``mu / 2 * ||w - w_anchor||^2``
    over the parameters named in ``anchor`` (the global weights received this
    round) keeps local updates near them (Li et al. 2020).
    """
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    Xt, yt = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    counts = torch.bincount(yt, minlength=int(yt.max()) + 1).float()
    weight = counts.sum() / (len(counts) * counts.clamp(min=1))
    optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    named = dict(net.named_parameters())
    anchors = {k: torch.as_tensor(v) for k, v in (anchor or {}).items()} if mu > 0 else {}
    net.train()
    last = float("nan")
    for _ in range(epochs):
        order = torch.randperm(len(yt), generator=generator)
        total, n = 0.0, 0
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            if len(idx) < 2 and len(order) > 1:  # batch norm cannot train on one window
                continue
            optimizer.zero_grad()
            loss = F.cross_entropy(net(Xt[idx]), yt[idx], weight=weight)
            if anchors:
                loss = loss + mu / 2 * sum(((named[k] - v) ** 2).sum() for k, v in anchors.items())
            loss.backward()
            optimizer.step()
            total, n = total + float(loss.detach()) * len(idx), n + len(idx)
        last = total / max(n, 1)
    return last


def predict_proba(net: nn.Module, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities of ``net`` on ``X`` (evaluation mode, no gradients)."""
    net.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            out.append(torch.softmax(net(torch.as_tensor(X[start:start + batch_size], dtype=torch.float32)), -1))
    return torch.cat(out).numpy()
