"""A trained artifact remover: its network, what it was trained for, its safe file, and how it runs.

A denoiser file is a safetensors file (tensors and string metadata only, so
opening one never runs code) whose metadata says ``format:
neurodecode-denoiser``, the artifact (``eog`` or ``emg``), the sampling rate
(Hz) and segment length (samples) it was trained on, the network's shape,
and whether it is causal. Four are shipped: ``eog``, ``emg``, ``eog-causal``
and ``emg-causal`` (``scripts/train_denoisers.py`` trains them).

How a recording is cleaned, channel by channel:

- **offline** (non-causal models): segments of the trained length, half
  overlapping, each cleaned whole and added back under a periodic Hann window
  (the windows sum to one), after reflecting half a segment at both ends;
- **causal** models: the network sees past samples only; the recording runs
  through :class:`CausalStream` in blocks, exactly as a live stream would,
  so a chunked stream equals the whole recording.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...errors import ConfigError, InvalidDataError, UnknownNameError
from ...utils import resource_path

__all__ = ["Denoiser", "CausalStream", "load_denoiser", "shipped_denoisers", "ARTIFACTS", "FORMAT"]

FORMAT = "neurodecode-denoiser"
FORMAT_VERSION = "1"
ARTIFACTS = ("eog", "emg")
_ARCHITECTURE = {"width": int, "kernel_size": int, "dilations": list, "causal": bool}
_BLOCK = 8192  # samples per block of a causal run over a whole recording


def shipped_denoisers() -> dict[str, Path]:
    """The denoisers shipped with the package, by name.

    Examples
    --------
    >>> sorted(shipped_denoisers())
    ['emg', 'emg-causal', 'eog', 'eog-causal']
    """
    root = resource_path("denoisers")
    return {p.stem: p for p in sorted(root.glob("*.safetensors"))}


class Denoiser:
    """An :class:`~neurodecode.preprocessing.denoising.network.ArtifactNet` and what it was trained for.

    Parameters
    ----------
    net : ArtifactNet
        The trained network (it estimates the artifact; the denoiser subtracts it).
    artifact : {"eog", "emg"}
        What it removes.
    sfreq : float
        The only sampling rate (Hz) it was trained on.
    n_times : int
        Samples of one training segment (the offline segment length).
    trained_on : str
        A line on the training data, kept in the file.
    path : Path | None
        The file it was read from (set by :func:`load_denoiser`).

    Examples
    --------
    >>> import numpy as np
    >>> eog = load_denoiser("eog")
    >>> eog.artifact, eog.sfreq, eog.n_times, eog.causal, eog.n_params < 10_000
    ('eog', 256.0, 512, False, True)
    >>> eog.clean(np.zeros((3, 1000))).shape
    (3, 1000)
    """

    def __init__(self, net, *, artifact: str, sfreq: float, n_times: int, trained_on: str = "",
                 path: Path | None = None):
        if artifact not in ARTIFACTS:
            raise ConfigError(f"denoiser artifact must be one of {list(ARTIFACTS)}, got {artifact!r}")
        self.net = net.double().eval()
        self.artifact, self.sfreq, self.n_times, self.trained_on = artifact, float(sfreq), int(n_times), trained_on
        self.path = path  # the file it was read from, if any

    @property
    def causal(self) -> bool:
        return bool(self.net.causal)

    @property
    def n_params(self) -> int:
        return self.net.n_params

    def __repr__(self) -> str:
        return (f"<Denoiser {self.artifact}{' causal' if self.causal else ''}: {self.n_params} parameters, "
                f"{self.sfreq:g} Hz, {self.n_times}-sample segments>")

    # -- running ----------------------------------------------------------------
    def artifact_of(self, x: np.ndarray) -> np.ndarray:
        """The network's artifact estimate for ``(n_signals, n)`` segments, taken whole."""
        import torch

        with torch.no_grad():
            out = self.net(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))[:, None])
        return out[:, 0].numpy()

    def clean(self, x: np.ndarray, *, where: str = "data") -> np.ndarray:
        """Remove the artifact from ``(..., n_times)`` signals (any unit: the network is scale-equivariant).

        Raises :class:`~neurodecode.errors.InvalidDataError` for signals shorter
        than one segment of an offline model.
        """
        x = np.asarray(x, dtype=np.float64)
        flat = x.reshape(-1, x.shape[-1])
        if self.causal:
            stream = CausalStream(self, len(flat))
            out = np.concatenate([stream.process(flat[:, i:i + _BLOCK]) for i in range(0, flat.shape[1], _BLOCK)]
                                 or [flat[:, :0]], axis=1)
        else:
            out = self._overlap_add(flat, where)
        return out.reshape(x.shape)

    def _overlap_add(self, x: np.ndarray, where: str) -> np.ndarray:
        n, length = x.shape[1], self.n_times
        if n < length:
            raise InvalidDataError(where, f"denoise: {n} samples ({n / self.sfreq:.2f} s) is shorter than the "
                                   f"{self.artifact} model's segment of {length} samples "
                                   f"({length / self.sfreq:.2f} s); give longer recordings")
        if n == length:
            return x - self.artifact_of(x)
        hop = length // 2
        n_seg = int(np.ceil((n + hop) / hop))
        padded = np.pad(x, ((0, 0), (hop, n_seg * hop - n)), mode="reflect")  # (n_seg + 1) * hop samples
        window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)  # periodic Hann: COLA at 50 %
        starts = np.arange(n_seg) * hop
        acc = np.zeros_like(padded)
        weight = np.zeros(padded.shape[1])
        for first in range(0, n_seg, 64):  # bounded memory: 64 segments per call
            block = starts[first:first + 64]
            segs = np.stack([padded[:, s:s + length] for s in block], axis=1)  # (signals, segs, length)
            clean = segs - self.artifact_of(segs.reshape(-1, length)).reshape(segs.shape)
            for j, s in enumerate(block):
                acc[:, s:s + length] += window * clean[:, j]
                weight[s:s + length] += window
        return (acc / np.where(weight > 0, weight, 1.0))[:, hop:hop + n]

    def stream(self, n_channels: int) -> CausalStream:
        """A chunk-by-chunk processor of ``n_channels`` signals (causal models only)."""
        return CausalStream(self, n_channels)

    # -- files ------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write the denoiser as a safetensors file (tensors and metadata only)."""
        from safetensors.torch import save_file

        from ...environment import neurodecode_version

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "artifact": self.artifact,
                "sfreq": repr(self.sfreq), "n_times": str(self.n_times),
                "architecture": json.dumps(self.net.architecture()), "trained_on": self.trained_on,
                "neurodecode": neurodecode_version()}
        state = {k: v.detach().float().contiguous() for k, v in self.net.state_dict().items()}
        tmp = path.with_name(path.name + ".part")
        save_file(state, str(tmp), metadata=meta)
        tmp.replace(path)  # a crash never leaves half a file under the final name
        return path


class CausalStream:
    """Run a causal denoiser on consecutive ``(n_channels, n)`` chunks, keeping the past it needs.

    The first chunk sees zeros before it, as the network's own padding does on
    a whole recording, so any split into chunks gives the same output.

    Examples
    --------
    >>> import numpy as np
    >>> den = load_denoiser("eog-causal")
    >>> x = np.random.default_rng(0).normal(size=(2, 3000))
    >>> s = den.stream(2)
    >>> parts = np.concatenate([s.process(x[:, :7]), s.process(x[:, 7:1500]), s.process(x[:, 1500:])], axis=1)
    >>> bool(np.allclose(parts, den.clean(x), rtol=1e-9, atol=0))
    True
    """

    def __init__(self, denoiser: Denoiser, n_channels: int):
        if not denoiser.causal:
            raise ConfigError(f"the {denoiser.artifact} denoiser looks ahead; a stream needs a causal one "
                              f"(shipped: '{denoiser.artifact}-causal', or train-denoiser --causal)")
        self.denoiser = denoiser
        self.history = np.zeros((n_channels, denoiser.net.receptive_field - 1))

    def process(self, chunk: np.ndarray) -> np.ndarray:
        chunk = np.asarray(chunk, dtype=np.float64)
        n = chunk.shape[1]
        if n == 0:
            return chunk
        buf = np.concatenate([self.history, chunk], axis=1)
        self.history = buf[:, buf.shape[1] - self.history.shape[1]:]
        return chunk - self.denoiser.artifact_of(buf)[:, -n:]


def load_denoiser(model: str | Path) -> Denoiser:
    """A shipped denoiser by name (``"eog"``, ``"emg-causal"``...) or a denoiser file of ours.

    Reading never runs code: the file is safetensors, and its metadata must say
    it is a neurodecode denoiser with a known network shape.
    """
    from safetensors import SafetensorError, safe_open

    from .network import ArtifactNet

    shipped = shipped_denoisers()
    if isinstance(model, str) and model in shipped:
        path = shipped[model]
    else:
        path = Path(model)
        if not path.is_file():
            raise UnknownNameError("denoiser", str(model), sorted(shipped),
                                   listing="a denoiser file path, or one of the shipped names")
    not_ours = ("is not a neurodecode denoiser ({}); give a file written by neurodecode train-denoiser "
                f"or a shipped name ({', '.join(sorted(shipped))})")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise InvalidDataError(path, not_ours.format(f"not a safetensors file: {exc}")) from None
    if meta.get("format") != FORMAT:
        raise InvalidDataError(path, not_ours.format(f"its metadata has format {meta.get('format')!r}"))
    if meta.get("format_version") != FORMAT_VERSION:
        raise InvalidDataError(path, f"denoiser format version {meta.get('format_version')!r}; this "
                               f"neurodecode reads version {FORMAT_VERSION}; upgrade neurodecode")
    try:
        arch = json.loads(meta["architecture"])
        ok = set(arch) == set(_ARCHITECTURE) and all(isinstance(arch[k], t) for k, t in _ARCHITECTURE.items())
        ok = ok and all(isinstance(d, int) for d in arch["dilations"])
        artifact, sfreq, n_times = meta["artifact"], float(meta["sfreq"]), int(meta["n_times"])
    except (KeyError, ValueError, TypeError):
        ok = False
    if not ok:
        raise InvalidDataError(path, not_ours.format("its metadata lacks a valid architecture, artifact, "
                                                     "sfreq or n_times"))
    net = ArtifactNet(**{**arch, "dilations": tuple(arch["dilations"])})
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise InvalidDataError(path, not_ours.format(f"its tensors do not fit its architecture: "
                                                     f"{str(exc).splitlines()[0]}")) from None
    return Denoiser(net, artifact=artifact, sfreq=sfreq, n_times=n_times, trained_on=meta.get("trained_on", ""),
                    path=path)
