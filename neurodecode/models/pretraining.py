"""Self-supervised pretraining on one's own unlabelled recordings (``neurodecode pretrain CONFIG``).

A :class:`~neurodecode.models.sensor_transformer.SensorTransformer` learns to
reconstruct masked (sensor, time-patch) tokens of sliding windows from any
datasets, EEG and MEG mixed: sensors are embedded from their positions and
types, so caps and MEG systems share one model. The weights are written in
braindecode's ``save_pretrained`` format (``config.json`` and
``model.safetensors``; no pickle), so ``get_pipeline("SensorTransformer",
pretrained=FOLDER)`` fine-tunes them on labelled data.

The definition (YAML, or a mapping)::

    name: eeg-meg-small
    datasets:                                  # any datasets; labels are never read
      - {name: SyntheticMI, params: {n_subjects: 4}}
      - {name: SyntheticMEG, subjects: [1, 2]}
    recipe: [{bandpass: {l_freq: 1.0, h_freq: 40.0}}, {resample: {sfreq: 128.0}}]
    sfreq: 128.0                               # every run must arrive at this rate (Hz)
    window: 2.0                                # s
    step: 1.0                                  # s between window starts
    model: {patch_size: 32, embed_dim: 64, depth: 2, num_heads: 4}
    training: {epochs: 10, batch_size: 32, lr: 0.003, warmup: 0.1, mask_ratio: 0.5, mask: tokens,
               max_sensors: 32, valid_share: 0.1, random_state: 42,
               device: auto}                   # auto: CUDA when present, else the CPU
    control: none                              # or shuffled-time: see shuffle_time
    output: results/pretrained/eeg-meg-small

``mask: tokens`` (the default) hides (sensor, patch) tokens independently;
neighbouring sensors at the same instant can fill them in (volume
conduction), so the shuffled-time control, which keeps that zero-lag
structure, learns that part too. ``mask: time`` hides half of each window's
time patches on every sensor at once, so only the times around a patch can
predict it: a harder task (on the label-efficiency set, 10 epochs bring its
held-out loss to 0.93, against 0.68 with ``tokens``).

The learning rate rises linearly over the first ``warmup`` share of the
steps, then follows a cosine to 0. The last ``valid_share`` of each run's
windows (in time) are never trained on: the masked loss on them, with the same
masks every epoch, says whether the pretext was learned rather than the
windows memorised. Predicting zero scores about 1 (each channel of each
window is z-scored), so a held-out loss near 1 means nothing was learned.

A window with more than ``max_sensors`` channels is trained on a random
subset of them (a new one each batch), which bounds the tokens per window.
"""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

import numpy as np

from ..errors import ConfigError, UnknownNameError, check_option
from ..windows.grid import grid_starts, windows_at

__all__ = ["pretrain", "PretrainResult", "CONTROLS", "MASKS", "shuffle_time"]

KEYS = ("name", "datasets", "recipe", "sfreq", "window", "step", "model", "training", "control", "output")
TRAINING = {"epochs": 10, "batch_size": 32, "lr": 3e-3, "warmup": 0.1, "weight_decay": 0.01, "mask_ratio": 0.5,
            "mask": "tokens", "max_sensors": 32, "valid_share": 0.1, "random_state": 42, "device": "auto"}
#: What a mask hides: whole time patches on every sensor, or (sensor, patch) tokens independently.
MASKS = ("time", "tokens")
MODEL = ("patch_size", "embed_dim", "depth", "num_heads", "max_patches", "drop_prob")
CONTROLS = ("none", "shuffled-time")
logger = logging.getLogger("neurodecode.pretrain")


@dataclass
class PretrainResult:
    """What :func:`pretrain` wrote: the weights folder, the training and held-out masked loss per
    epoch (``valid_losses`` is empty when no window was held out) and the trained windows per dataset."""

    folder: Path
    losses: list[float]
    valid_losses: list[float]
    windows: dict[str, int]
    seconds: float


@dataclass
class _Group:
    """The windows of one run: one set of sensors."""

    dataset: str
    data: np.ndarray  # (n_chans, n_times) float32
    sensors: object  # torch.Tensor (n_chans, 9)
    starts: np.ndarray


def _load(config) -> dict:
    from ..yamlio import read_yaml_mapping

    if isinstance(config, (str, Path)):
        from ..utils import resource_names

        shipped = resource_names("pretraining")
        path = Path(config)
        if not path.is_file() and str(config) in shipped:
            path = shipped[str(config)]
        if not path.is_file():
            raise ConfigError(f"{path}: no such pretraining definition, nor a shipped one ({', '.join(shipped)})")
        spec, where = read_yaml_mapping(path, "pretraining definition"), str(path)
    elif isinstance(config, dict):
        spec, where = dict(config), "pretraining"
    else:
        raise ConfigError(f"a pretraining definition is a YAML file or a mapping, got {type(config).__name__}")
    for key in spec:
        if key not in KEYS:
            raise UnknownNameError(f"key in {where}:", key, KEYS)
    for key in ("datasets", "sfreq", "window", "output"):
        if spec.get(key) in (None, "", []):
            raise ConfigError(f"{where}: '{key}' is missing")
    training = {**TRAINING, **(spec.get("training") or {})}
    for key in training:
        if key not in TRAINING:
            raise UnknownNameError(f"training setting in {where}:", key, list(TRAINING))
    model = dict(spec.get("model") or {})
    for key in model:
        if key not in MODEL:
            raise UnknownNameError(f"model setting in {where}:", key, list(MODEL))
    control = spec.get("control") or "none"
    check_option("control", control, CONTROLS)
    check_option("training mask", training["mask"], MASKS)
    if not 0 < float(training["mask_ratio"]) < 1:
        raise ConfigError(f"{where}: mask_ratio must be between 0 and 1, got {training['mask_ratio']}")
    for key in ("warmup", "valid_share"):
        if not 0 <= float(training[key]) < 1:
            raise ConfigError(f"{where}: {key} must be at least 0 and below 1, got {training[key]}")
    return {**spec, "where": where, "training": training, "model": model, "control": control,
            "step": float(spec.get("step") or spec["window"]), "window": float(spec["window"]),
            "sfreq": float(spec["sfreq"]), "name": spec.get("name") or "pretraining"}


def _groups(spec: dict) -> list[_Group]:
    """Every run of every dataset, preprocessed, as sensors plus window starts; checked before training."""
    import mne

    from ..datasets import get_dataset
    from ..preprocessing import Recipe
    from ..windows import preprocessed
    from .sensor_transformer import sensor_features

    recipe = Recipe.coerce(spec.get("recipe"))
    n_len = int(round(spec["window"] * spec["sfreq"]))
    n_step = max(1, int(round(spec["step"] * spec["sfreq"])))
    groups = []
    for entry in spec["datasets"]:
        entry = {"name": entry} if isinstance(entry, str) else dict(entry)
        dataset = get_dataset(entry["name"], **(entry.get("params") or {}))
        subjects = entry.get("subjects") or dataset.subject_list
        pre = preprocessed(dataset, recipe)
        for subject in subjects:
            for session, runs in pre.runs(subject).items():
                for run, cached in runs.items():
                    where = f"{dataset.code} subject {subject} session {session} run {run}"
                    if abs(cached.sfreq - spec["sfreq"]) > 1e-6:
                        raise ConfigError(f"{where} is at {cached.sfreq:g} Hz after the recipe, not {spec['sfreq']:g}"
                                          f" Hz; add resample: {{sfreq: {spec['sfreq']:g}}} to the recipe")
                    picks = mne.pick_types(cached.info, meg=True, eeg=True, exclude="bads")
                    if len(picks) == 0:
                        raise ConfigError(f"{where}: no EEG or MEG channel")
                    try:
                        sensors = sensor_features([cached.info["chs"][i] for i in picks])
                    except ValueError as exc:
                        raise ConfigError(f"{where}: {exc}; pretraining embeds sensors from their positions: add a "
                                          "montage step to the recipe (montage: {name: standard_1020})") from None
                    starts = grid_starts(0, cached.n_times, n_len, n_step)
                    if len(starts):
                        groups.append(_Group(dataset.code, cached.data[picks], sensors, starts))
    if not groups:
        raise ConfigError(f"{spec['where']}: no run is as long as one window of {spec['window']:g} s")
    return groups


def shuffle_time(x: np.ndarray, rng) -> np.ndarray:
    """The control's windows: each window's samples in a random order, the same for all its
    channels. Sensors, amplitudes and the instantaneous spatial covariance stay; no temporal
    structure does.

    Examples
    --------
    >>> x = np.arange(12.0).reshape(1, 2, 6)
    >>> y = shuffle_time(x, np.random.default_rng(0))
    >>> bool((y[0, 1] - y[0, 0] == 6).all()), sorted(y[0, 0]) == list(x[0, 0])
    (True, True)
    """
    return np.stack([w[:, rng.permutation(w.shape[-1])] for w in x])


def _hold_out(groups: list[_Group], share: float) -> tuple[list[_Group], list[_Group]]:
    """The first ``1 - share`` of each run's windows to train on, the rest (later in time) held out."""
    train, held = [], []
    for group in groups:
        n_held = int(np.floor(share * len(group.starts)))
        cut = len(group.starts) - n_held
        train.append(_Group(group.dataset, group.data, group.sensors, group.starts[:cut]))
        if n_held:
            held.append(_Group(group.dataset, group.data, group.sensors, group.starts[cut:]))
    return train, held


def _batches(groups: list[_Group], batch_size: int, rng) -> list[tuple[int, np.ndarray]]:
    out = []
    for g, group in enumerate(groups):
        order = rng.permutation(len(group.starts))
        out += [(g, order[i:i + batch_size]) for i in range(0, len(order), batch_size)]
    return [out[i] for i in rng.permutation(len(out))]


def pretrain(config, *, output: str | Path | None = None, verbose: bool = False) -> PretrainResult:
    """Pretrain a SensorTransformer by masked reconstruction; write it with ``save_pretrained``.

    Parameters
    ----------
    config : str | Path | dict
        A definition (see the module docstring), a YAML file, or a shipped name.
    output : str | Path | None
        Overrides the definition's ``output`` folder.
    verbose : bool
        Log the loss of each epoch.

    Returns
    -------
    result : PretrainResult
    """
    import torch

    from ..environment import check_device, require
    from .sensor_transformer import SensorTransformer

    require("braindecode")
    spec = _load(config)
    folder = Path(output or spec["output"])
    t0 = perf_counter()
    training = spec["training"]
    n_len = int(round(spec["window"] * spec["sfreq"]))
    rng = np.random.default_rng(training["random_state"])
    torch.manual_seed(training["random_state"])
    device = ("cuda" if torch.cuda.is_available() else "cpu") if training["device"] == "auto" else training["device"]
    check_device(device)
    generator = torch.Generator(device=device).manual_seed(training["random_state"])
    # the model first: settings that cannot build it are one line before any recording is read
    try:
        model = SensorTransformer(n_outputs=1, n_times=n_len, sfreq=spec["sfreq"], **spec["model"]).to(device)
    except ValueError as exc:
        raise ConfigError(f"{spec['where']}: model settings {spec['model']}: {exc}") from None
    if n_len // model.patch_size > model.max_patches or n_len < model.patch_size:
        raise ConfigError(f"{spec['where']}: windows of {n_len} samples need 1 to {model.max_patches} patches of "
                          f"{model.patch_size} samples")
    groups, held = _hold_out(_groups(spec), float(training["valid_share"]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=training["lr"], weight_decay=training["weight_decay"])
    steps = max(1, training["epochs"] * len(_batches(groups, training["batch_size"], np.random.default_rng(0))))
    warm = max(1, int(training["warmup"] * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warm) * 0.5 * (1 + np.cos(np.pi * min(step, steps) / steps)))

    def batch_loss(group: _Group, idx: np.ndarray, rng, generator) -> torch.Tensor:
        x = windows_at(group.data, group.starts[idx], n_len).astype(np.float32)
        if spec["control"] == "shuffled-time":
            x = shuffle_time(x, rng)
        sensors = group.sensors
        if x.shape[1] > training["max_sensors"]:
            keep = np.sort(rng.choice(x.shape[1], training["max_sensors"], replace=False))
            x, sensors = x[:, keep], sensors[keep]
        return model.masked_loss(torch.from_numpy(x).to(device), sensors.to(device), training["mask_ratio"],
                                 generator, span=training["mask"])

    def held_out_loss() -> float:
        # the same windows, sensor subsets and masks every epoch
        model.eval()
        rng_v, gen_v = np.random.default_rng(0), torch.Generator(device=device).manual_seed(0)
        total, count = 0.0, 0
        with torch.no_grad():
            for g, idx in _batches(held, training["batch_size"], rng_v):
                total += batch_loss(held[g], idx, rng_v, gen_v).item() * len(idx)
                count += len(idx)
        model.train()
        return total / count

    losses, valid_losses = [], []
    model.train()
    for epoch in range(training["epochs"]):
        total, count = 0.0, 0
        for g, idx in _batches(groups, training["batch_size"], rng):
            loss = batch_loss(groups[g], idx, rng, generator)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total, count = total + loss.item() * len(idx), count + len(idx)
        losses.append(total / count)
        if held:
            valid_losses.append(held_out_loss())
        if verbose:
            valid = f", held out {valid_losses[-1]:.4f}" if held else ""
            logger.info(f"epoch {epoch + 1}/{training['epochs']}: masked reconstruction loss {losses[-1]:.4f}{valid}")
    windows: dict[str, int] = {}
    for group in groups:
        windows[group.dataset] = windows.get(group.dataset, 0) + len(group.starts)
    _write(model.eval().cpu(), folder, {"name": spec["name"], "datasets": spec["datasets"],
                                        "recipe": spec.get("recipe"),
                                  "sfreq": spec["sfreq"], "window": spec["window"], "step": spec["step"],
                                  "model": spec["model"], "training": training, "control": spec["control"],
                                  "windows": windows, "losses": losses, "valid_losses": valid_losses})
    return PretrainResult(folder, losses, valid_losses, windows, perf_counter() - t0)


def _write(model, folder: Path, summary: dict) -> None:
    """``save_pretrained`` into a sibling folder renamed into place, so a crash leaves no half model;
    braindecode's extra ``pytorch_model.bin`` (a pickle) is not kept."""
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp)
    (tmp / "pytorch_model.bin").unlink(missing_ok=True)
    (tmp / "pretraining.json").write_text(json.dumps(summary, indent=1, default=str))
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
