"""Training a denoiser with the EEGdenoiseNet protocol (``neurodecode train-denoiser``).

Each epoch draws new mixtures: a clean segment, an artifact segment (reversed in
time half of the time), an SNR drawn uniformly from ``snr_range`` dB
with EEGdenoiseNet's RMS definition (:func:`~.quality.mix_at_snr`), and a
random overall sign. Like EEGdenoiseNet, the mixture and its clean target are
divided by the mixture's SD. A share ``clean_fraction`` of the examples
carries no artifact, so that clean EEG passes through unchanged. The loss is
the mean squared error of the cleaned segment.

Model selection uses only the validation mixtures (every validation clean
segment with a validation artifact at 10 SNR levels spread over
``snr_range``): the epoch with the lowest mean RRMSE_t is kept, and training
stops after ``patience`` epochs without improvement.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from time import perf_counter

import numpy as np

from ...errors import ConfigError
from .denoiser import ARTIFACTS, Denoiser
from .quality import mix_at_snr, rrmse_temporal

__all__ = ["train_denoiser", "TrainingResult", "validation_mixtures"]
logger = logging.getLogger("neurodecode.denoise")


@dataclass
class TrainingResult:
    """The trained denoiser and how training went."""

    denoiser: Denoiser
    val_rrmse: list[float] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0


def validation_mixtures(clean: np.ndarray, artifacts: np.ndarray, snr_range=(-7.0, 2.0), n_levels: int = 10):
    """Fixed ``(mixtures, targets)``: clean segment i with artifact i mod n at each SNR level, SD-normalised."""
    levels = np.linspace(*snr_range, n_levels)
    idx = np.arange(len(clean))
    x = np.repeat(clean[None], n_levels, axis=0)
    a = np.repeat(artifacts[idx % len(artifacts)][None], n_levels, axis=0)
    y = mix_at_snr(x, a, levels[:, None])
    s = y.std(axis=-1, keepdims=True)
    return (y / s).reshape(-1, clean.shape[1]), (x / s).reshape(-1, clean.shape[1])


def _check(name: str, x: np.ndarray, n_times: int | None = None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ConfigError(f"train-denoiser: {name} must be a (n_segments, n_times) array, got shape {x.shape}")
    if not np.isfinite(x).all():
        bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
        raise ConfigError(f"train-denoiser: {name} segments {bad[:5].tolist()} hold NaN or infinite values")
    if n_times is not None and x.shape[1] != n_times:
        raise ConfigError(f"train-denoiser: {name} has {x.shape[1]} samples per segment, the clean EEG "
                          f"{n_times}; cut both to one length")
    return x


def train_denoiser(clean, artifacts, *, artifact: str, sfreq: float, causal: bool = False,
                   val_clean=None, val_artifacts=None, validation_fraction: float = 0.2,
                   snr_range: tuple = (-7.0, 2.0), clean_fraction: float = 0.1, epochs: int = 60,
                   mixtures_per_epoch: int = 2048, batch_size: int = 64, lr: float = 2e-3, patience: int = 15,
                   width: int = 16, kernel_size: int = 5, dilations: tuple = (1, 2, 4, 8, 16, 32, 64),
                   trained_on: str = "", random_state: int = 0, device: str = "cpu",
                   verbose: bool = False) -> TrainingResult:
    """Train an :class:`~.network.ArtifactNet` on clean segments and artifact segments.

    Parameters
    ----------
    clean, artifacts : array, shape (n_segments, n_times)
        Clean EEG and pure artifact segments of one length, at ``sfreq`` Hz, in any one unit.
    artifact : {"eog", "emg"}
        What the model removes (stored in the file and checked by the ``denoise`` step).
    sfreq : float
        Sampling rate (Hz) of every segment; the model runs at this rate only.
    causal : bool
        Train the causal form (output at t from samples up to t).
    val_clean, val_artifacts : array | None
        Validation segments for model selection; by default the last
        ``validation_fraction`` of ``clean`` and of ``artifacts``.
    snr_range : (float, float)
        SNR (dB) drawn uniformly, EEGdenoiseNet's -7 to 2 by default.

    Returns
    -------
    TrainingResult

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> eeg = rng.normal(size=(40, 256)); eog = np.cumsum(rng.normal(size=(40, 256)), axis=1)
    >>> out = train_denoiser(eeg, eog, artifact="eog", sfreq=128.0, epochs=2, mixtures_per_epoch=64,
    ...                      width=4, dilations=(1, 2))
    >>> out.denoiser.artifact, out.denoiser.n_times, len(out.val_rrmse)
    ('eog', 256, 2)
    """
    import torch

    if artifact not in ARTIFACTS:
        raise ConfigError(f"train-denoiser: artifact must be one of {list(ARTIFACTS)}, got {artifact!r}")
    clean = _check("clean EEG", clean)
    n_times = clean.shape[1]
    if n_times % 2:
        raise ConfigError(f"train-denoiser: segments need an even number of samples (half-overlapping "
                          f"segments), got {n_times}")
    artifacts = _check("artifact", artifacts, n_times)
    if val_clean is None or val_artifacts is None:
        n_vc, n_va = max(1, int(len(clean) * validation_fraction)), max(1, int(len(artifacts) * validation_fraction))
        if len(clean) - n_vc < 1 or len(artifacts) - n_va < 1:
            raise ConfigError("train-denoiser: need at least 2 clean and 2 artifact segments (one to train, "
                              "one to validate)")
        clean, val_clean = clean[:-n_vc], clean[-n_vc:]
        artifacts, val_artifacts = artifacts[:-n_va], artifacts[-n_va:]
    val_y, val_x = validation_mixtures(_check("validation clean EEG", val_clean, n_times),
                                       _check("validation artifact", val_artifacts, n_times), snr_range)
    from .network import ArtifactNet

    torch.manual_seed(random_state)
    rng = np.random.default_rng(random_state)
    net = ArtifactNet(width=width, kernel_size=kernel_size, dilations=tuple(dilations), causal=causal).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    vy = torch.as_tensor(val_y[:, None], dtype=torch.float32, device=device)
    history, best, best_state, best_epoch = [], np.inf, None, 0
    start = perf_counter()
    for epoch in range(epochs):
        y, x = _mixtures(rng, clean, artifacts, mixtures_per_epoch, snr_range, clean_fraction)
        net.train()
        for b in range(0, len(y), batch_size):
            yb = torch.as_tensor(y[b:b + batch_size, None], dtype=torch.float32, device=device)
            xb = torch.as_tensor(x[b:b + batch_size, None], dtype=torch.float32, device=device)
            # squared RRMSE_t per segment: every SNR level weighs the same, as in the scores
            power = torch.mean(xb ** 2, dim=-1).clamp_min(1e-6)
            loss = torch.mean(torch.mean((yb - net(yb) - xb) ** 2, dim=-1) / power)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        net.eval()
        with torch.no_grad():
            cleaned = (vy - net(vy))[:, 0].double().cpu().numpy()
        score = float(np.mean(rrmse_temporal(cleaned, val_x)))
        history.append(score)
        if score < best:
            best, best_epoch = score, epoch
            best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        if verbose:
            logger.info("epoch %d: validation RRMSE_t %.4f%s", epoch + 1, score,
                        " (best)" if best_epoch == epoch else "")
        if epoch - best_epoch >= patience:
            break
    net = net.cpu()
    net.load_state_dict(best_state)
    den = Denoiser(net, artifact=artifact, sfreq=sfreq, n_times=n_times, trained_on=trained_on)
    return TrainingResult(den, history, best_epoch + 1, perf_counter() - start)


def _mixtures(rng, clean, artifacts, n, snr_range, clean_fraction):
    """``n`` new (mixture, clean) pairs, both divided by the mixture's SD."""
    x = clean[rng.integers(len(clean), size=n)]
    a = artifacts[rng.integers(len(artifacts), size=n)]
    reverse = rng.random(n) < 0.5  # time reversal: a new artifact shape without the step a circular shift makes
    a[reverse] = a[reverse, ::-1]
    y = mix_at_snr(x, a, rng.uniform(*snr_range, size=n))
    none = rng.random(n) < clean_fraction
    y[none] = x[none]
    sign = rng.choice([-1.0, 1.0], size=(n, 1))
    s = y.std(axis=-1, keepdims=True) / sign
    return y / s, x / s
