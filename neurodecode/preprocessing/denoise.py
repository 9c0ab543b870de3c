"""The ``denoise`` recipe step: learned EOG/EMG removal, channel by channel, offline or causal."""
from __future__ import annotations

import hashlib

import numpy as np

from ..errors import ConfigError, InvalidDataError
from .base import RawStep, where

__all__ = ["Denoise"]

_CHOICES = ("eog", "emg", "both")


class Denoise(RawStep):
    """Remove ocular (EOG) or muscle (EMG) artifacts from each EEG channel with a small learned model.

    The offline form cleans half-overlapping segments of the model's length and
    adds them back under a Hann window; the causal form (``causal: true``, what
    pseudo-online and online decoding use) runs a model that sees past samples
    only, chunk by chunk. Only EEG channels are changed. See
    :mod:`neurodecode.preprocessing.denoising` for the models and their scores.

    Parameters
    ----------
    artifact : {"eog", "emg", "both"}
        What to remove; ``both`` runs the shipped EOG model, then the shipped EMG model.
    model : str | None
        A denoiser file (from ``neurodecode train-denoiser``) or a shipped name;
        by default the shipped model for ``artifact`` (its ``-causal`` form when
        ``causal``). It must have been trained for ``artifact`` and be causal
        when ``causal`` is.
    causal : bool
        Use past samples only.

    Examples
    --------
    >>> import mne, numpy as np
    >>> step = Denoise(artifact="eog")
    >>> step.models[0]
    <Denoiser eog: 9056 parameters, 256 Hz, 512-sample segments>
    >>> step.causal_variant().models[0].causal
    True
    >>> info = mne.create_info(["Fp1", "Cz"], 256.0, "eeg")
    >>> raw = mne.io.RawArray(np.random.default_rng(0).normal(size=(2, 2560)) * 1e-5, info, verbose=False)
    >>> step.apply(raw).get_data().shape
    (2, 2560)
    """

    name = "denoise"
    libraries = ("mne", "numpy", "torch", "safetensors")

    def __init__(self, artifact: str = "eog", model: str | None = None, causal: bool = False):
        self.artifact = artifact
        self.model = model
        self.causal = causal
        self.models = self._load()

    def _load(self) -> list:
        from .denoising import load_denoiser

        if self.artifact not in _CHOICES:
            raise ConfigError(f"recipe step 'denoise': artifact must be one of {list(_CHOICES)}, "
                              f"got {self.artifact!r}")
        if self.model is None:
            kinds = ("eog", "emg") if self.artifact == "both" else (self.artifact,)
            return [load_denoiser(f"{k}-causal" if self.causal else k) for k in kinds]
        if self.artifact == "both":
            raise ConfigError("recipe step 'denoise': artifact 'both' runs the shipped EOG and EMG models; "
                              "to use your own file, give one step per artifact")
        den = load_denoiser(str(self.model))
        if den.artifact != self.artifact:
            raise ConfigError(f"recipe step 'denoise': artifact {self.artifact!r} with model {self.model!r}, "
                              f"which was trained to remove {den.artifact}; give a model trained for "
                              f"{self.artifact} or set artifact: {den.artifact}")
        if self.causal and not den.causal:
            raise ConfigError(f"recipe step 'denoise': model {self.model!r} looks ahead in time, so it has no "
                              "causal form; train one with neurodecode train-denoiser --causal")
        return [den]

    def identity(self) -> dict:
        """SHA-256 of the model files, so a retrained file changes the recipe's digest."""
        return {den.path.stem: hashlib.sha256(den.path.read_bytes()).hexdigest()[:16] for den in self.models}

    def causal_variant(self) -> Denoise:
        if self.causal:
            return self
        return Denoise(artifact=self.artifact, model=self.model, causal=True)

    def rate_problem(self, sfreq: float) -> str | None:
        for den in self.models:
            if den.sfreq != sfreq:
                return (f"denoise: the {den.artifact} model was trained at {den.sfreq:g} Hz only and the data is "
                        f"at {sfreq:g} Hz; add {{resample: {{sfreq: {den.sfreq:g}}}}} before the denoise step")
        return None

    def _check(self, sfreq: float, place: str) -> None:
        problem = self.rate_problem(sfreq)
        if problem:
            raise InvalidDataError(place, problem)

    def apply(self, raw):
        import mne

        picks = mne.pick_types(raw.info, eeg=True, exclude=[])
        if len(picks) == 0:
            return raw
        self._check(raw.info["sfreq"], where(raw))
        data = raw.get_data(picks=picks)
        bad = [raw.ch_names[p] for p, row in zip(picks, data) if not np.isfinite(row).all()]
        if bad:
            raise InvalidDataError(where(raw), f"denoise: channel(s) {', '.join(bad[:5])} hold NaN or infinite "
                                   "samples; interpolate or drop them first (bad_channels step)")
        for den in self.models:
            data = den.clean(data, where=where(raw))
        raw.apply_function(lambda _: data, picks=picks, channel_wise=False)
        return raw

    def streaming_stage(self, info):
        """``(process, info)``: a chunk processor with the causal models' past, for live streams."""
        import mne

        rows = mne.pick_types(info, eeg=True, exclude=[])
        self._check(info["sfreq"], "stream")
        streams = [den.stream(len(rows)) for den in self.models]

        def process(x):
            if x.shape[1] == 0 or len(rows) == 0:
                return x
            x = x.copy()
            for s in streams:
                x[rows] = s.process(x[rows])
            return x

        return process, info
