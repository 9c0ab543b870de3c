"""Learned artifact removal: the network, its safe files, EEGdenoiseNet's mixing and scores, and training."""
from .denoiser import ARTIFACTS, CausalStream, Denoiser, load_denoiser, shipped_denoisers
from .quality import cc, mix_at_snr, rrmse_spectral, rrmse_temporal, scores, snr_db

__all__ = ["ARTIFACTS", "CausalStream", "Denoiser", "load_denoiser", "shipped_denoisers", "cc", "mix_at_snr",
           "rrmse_spectral", "rrmse_temporal", "scores", "snr_db", "train_denoiser"]


def __getattr__(name: str):
    if name == "train_denoiser":  # keeps torch's optimiser machinery out of a plain import
        from .training import train_denoiser

        return train_denoiser
    raise AttributeError(name)
