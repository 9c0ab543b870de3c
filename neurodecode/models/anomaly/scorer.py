"""The learned anomaly score of a trial: how badly a VAE trained on normal trials reconstructs it."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ...errors import ConfigError

__all__ = ["VAEAnomalyScorer", "MIN_TRIALS"]

MIN_TRIALS = 20  # fewer normal trials cannot train the VAE (nor set a quantile threshold)


def _pad(n_times: int) -> int:
    return -n_times % 32


class VAEAnomalyScorer(BaseEstimator):
    """Anomaly score of EEG trials from a hierarchical VAE (hvEEGNet) trained on them.

    The score of a trial is its worst channel's mean squared reconstruction
    error, in units of that channel's typical variance on the training
    trials (a normal trial scores about the VAE's residual share of
    variance; a trial with a channel the VAE cannot reconstruct scores
    higher). The worst channel, not the mean over channels, because most
    corruptions hit one or two channels, which a mean over 64 would dilute. The training
    loss is that error plus ``dtw_weight`` times the soft-DTW divergence
    between the trial and its reconstruction (tslearn's
    ``SoftDTWLossPyTorch``, ``normalize=True``), plus ``beta`` times the two
    KL terms per sample.

    Parameters
    ----------
    sfreq : float
        Sampling frequency of the trials in Hz.
    n_latent : int
        Channels of each latent level.
    epochs, batch_size, lr : int, int, float
        Adam training.
    beta : float
        Weight of the KL terms (per input sample).
    dtw_weight : float
        Weight of the soft-DTW term; 0 trains on the squared error alone.
    dtw_length : int
        Soft-DTW costs O(n_times^2) per trial, so it compares the trial and
        its reconstruction after averaging down to at most this many samples
        (64 at 256 Hz is 8 Hz resolution of the alignment, finer than the
        EEG rhythms' envelopes it aligns).
    gamma : float
        Soft-DTW smoothing.
    shuffle_time : bool
        Control: train on trials whose samples are permuted in time (each
        trial its own permutation), which keeps every channel's amplitude
        distribution and spatial covariance but no temporal structure.
    random_state : int
    device : str
        ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.

    Attributes
    ----------
    module_ : HierarchicalVAE
    scale_ : ndarray, shape (n_chans,)
        Median per-trial SD of each channel on the training trials (input units).
    loss_curve_ : list of float
        Training loss per epoch.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 3, 128)) * 1e-5
    >>> vae = VAEAnomalyScorer(sfreq=64.0, epochs=2, random_state=0).fit(X)
    >>> vae.anomaly_score(X).shape, vae.channel_errors(X).shape
    ((40,), (40, 3))
    """

    def __init__(self, sfreq: float = 128.0, *, n_latent: int = 4, epochs: int = 30, batch_size: int = 64,
                 lr: float = 3e-3, beta: float = 1e-3, dtw_weight: float = 1.0, dtw_length: int = 64,
                 gamma: float = 0.1, shuffle_time: bool = False, random_state: int = 0, device: str = "auto"):
        self.sfreq = sfreq
        self.n_latent = n_latent
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.beta = beta
        self.dtw_weight = dtw_weight
        self.dtw_length = dtw_length
        self.gamma = gamma
        self.shuffle_time = shuffle_time
        self.random_state = random_state
        self.device = device

    # -- helpers ---------------------------------------------------------------
    def _torch_device(self):
        import torch

        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    def _standardise(self, X):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 3:
            raise ValueError(f"X must be (n_trials, n_chans, n_times), got shape {X.shape}")
        bad = np.flatnonzero(~np.isfinite(X).all(axis=(1, 2)))
        if len(bad):
            raise ConfigError(f"anomaly score: trials {', '.join(map(str, bad[:10]))} hold NaN or infinite "
                              "samples; drop them (the classical audit names their channels) before scoring")
        X = X - X.mean(axis=-1, keepdims=True)
        scale = getattr(self, "scale_", None)
        if scale is None:
            scale = np.maximum(np.median(X.std(axis=-1), axis=0), 1e-12)
        return (X / scale[None, :, None]).astype(np.float32), scale

    def _check_length(self, n_times: int):
        from .network import HierarchicalVAE

        field = HierarchicalVAE(1, 32, self.sfreq).receptive_field
        if n_times < field:
            raise ConfigError(f"anomaly score: windows of {n_times} samples ({n_times / self.sfreq:g} s) are "
                              f"shorter than the encoder's receptive field of {field} samples "
                              f"({field / self.sfreq:g} s at {self.sfreq:g} Hz); use longer windows")

    # -- scikit-learn ------------------------------------------------------------
    def fit(self, X, y=None):
        """Train the VAE on trials ``X`` (n_trials, n_chans, n_times); ``y`` is ignored."""
        import torch
        from tslearn.metrics import SoftDTWLossPyTorch

        from .network import HierarchicalVAE

        X = np.asarray(X)
        if X.ndim != 3:
            raise ValueError(f"X must be (n_trials, n_chans, n_times), got shape {X.shape}")
        if len(X) < MIN_TRIALS:
            raise ConfigError(f"anomaly score: {len(X)} training trials; the VAE needs at least {MIN_TRIALS}")
        self._check_length(X.shape[-1])
        self.scale_ = None
        Xs, self.scale_ = self._standardise(X)
        rng = np.random.default_rng(self.random_state)
        if self.shuffle_time:
            order = np.argsort(rng.random((len(Xs), Xs.shape[-1])), axis=1)
            Xs = np.take_along_axis(Xs, order[:, None, :], axis=-1)
        self.n_features_in_ = X.shape[1]
        self.n_times_ = X.shape[2]
        pad = _pad(self.n_times_)
        torch.manual_seed(self.random_state)
        device = self._torch_device()
        net = HierarchicalVAE(X.shape[1], self.n_times_ + pad, self.sfreq, n_latent=self.n_latent).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        dtw = SoftDTWLossPyTorch(gamma=self.gamma, normalize=True)
        data = torch.from_numpy(np.pad(Xs, ((0, 0), (0, 0), (0, pad)), mode="edge")).to(device)
        n, length = self.n_times_, self.n_times_
        factor = max(1, int(np.ceil(length / self.dtw_length)))
        self.loss_curve_ = []
        for _ in range(self.epochs):
            net.train()
            total = 0.0
            for idx in np.array_split(rng.permutation(len(data)), max(1, len(data) // self.batch_size)):
                x = data[idx]
                x_hat, kl = net(x)
                err = ((x_hat - x)[..., :n] ** 2).mean(dim=(1, 2))
                loss = err + self.beta * kl / x[..., :n].numel() * len(x)
                if self.dtw_weight:
                    a = torch.nn.functional.avg_pool1d(x[..., :n], factor).transpose(1, 2)
                    b = torch.nn.functional.avg_pool1d(x_hat[..., :n], factor).transpose(1, 2)
                    loss = loss + self.dtw_weight * dtw(b.cpu(), a.cpu()).to(device) / a.shape[1]
                loss = loss.mean()
                if not torch.isfinite(loss):
                    epoch = len(self.loss_curve_) + 1
                    raise ConfigError(f"anomaly score: the VAE's training diverged at epoch {epoch} (loss "
                                      f"{float(loss)}); high-pass the data (slow drifts dominate the error) or "
                                      "lower lr")
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            self.loss_curve_.append(total / len(data))
        net.eval()
        self.module_ = net.cpu()
        return self

    def reconstruct(self, X) -> np.ndarray:
        """The VAE's reconstruction of ``X`` from its posterior means, in the input's units."""
        import torch

        check_is_fitted(self, "module_")
        Xs, _ = self._standardise(X)
        if Xs.shape[1:] != (self.n_features_in_, self.n_times_):
            raise ValueError(f"X has trials of shape {Xs.shape[1:]}; the VAE was trained on "
                             f"{(self.n_features_in_, self.n_times_)}")
        pad = _pad(self.n_times_)
        out = []
        with torch.no_grad():
            for start in range(0, len(Xs), 256):
                x = torch.from_numpy(np.pad(Xs[start:start + 256], ((0, 0), (0, 0), (0, pad)), mode="edge"))
                out.append(self.module_(x, sample=False)[0][..., :self.n_times_].numpy())
        X = np.asarray(X, dtype=np.float64)
        return np.concatenate(out).astype(np.float64) * self.scale_[None, :, None] + X.mean(-1, keepdims=True)

    def channel_errors(self, X) -> np.ndarray:
        """Mean squared reconstruction error of each trial and channel, ``(n_trials, n_chans)``,
        in units of the channel's training SD squared."""
        X = np.asarray(X, dtype=np.float64)
        resid = (X - self.reconstruct(X)) / self.scale_[None, :, None]
        return (resid ** 2).mean(axis=-1)

    def anomaly_score(self, X) -> np.ndarray:
        """The anomaly score of each trial (higher is more anomalous): its worst channel's error."""
        return self.channel_errors(X).max(axis=1)

    def score_samples(self, X) -> np.ndarray:
        """scikit-learn's outlier convention: the opposite of :meth:`anomaly_score` (lower is more abnormal)."""
        return -self.anomaly_score(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags
