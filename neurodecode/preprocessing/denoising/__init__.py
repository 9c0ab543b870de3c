"""Learned artifact removal: the network, its safe files, EEGdenoiseNet's mixing and scores, and training."""
from .denoiser import ARTIFACTS, CausalStream, Denoiser, load_denoiser, shipped_denoisers
from .quality import cc, mix_at_snr, rrmse_spectral, rrmse_temporal, scores, snr_db
from .training import train_denoiser

__all__ = ["ARTIFACTS", "CausalStream", "Denoiser", "load_denoiser", "shipped_denoisers", "cc", "mix_at_snr",
           "rrmse_spectral", "rrmse_temporal", "scores", "snr_db", "train_denoiser"]
