"""Pretrained foundation models (LaBraM, BIOT, EEGPT, CBraMod, BENDR, SignalJEPA...), offline.

Weights are read through braindecode's own ``from_pretrained`` from a local
folder, or from a Hugging Face repository already in the local cache: no
network is used. Before braindecode reads anything, the folder is checked:

- the weights must be ``model.safetensors`` (a ``pytorch_model.bin`` pickle
  alone is refused), and
- every type named in ``config.json`` (braindecode imports them by dotted
  name) must be a ``torch.nn`` class,

so a folder received from someone else runs no code of theirs. Weights load
with ``strict=True``: a shape that does not fit is an error, not braindecode's
silent ``strict=False``.

**The channel contract.** A pretrained encoder expects the channels, rate
and window length it was pretrained on (``config.json``). Data that differ
are refused with one line saying what to change: map the cap onto the
model's channels with the recipe's ``harmonise`` step (it interpolates the
missing ones from positions) and ``resample`` to its rate. Nothing is ever
zero-padded.

**Fine-tuning strategies** (:data:`STRATEGIES`): ``full`` (every weight),
``linear-probe`` (a new head on a frozen encoder), ``last-blocks`` (the head
and the last ``finetune_blocks`` encoder blocks) and ``lora`` (low-rank
adapters, through ``peft``, on every linear layer of the encoder, rank
``lora_rank``; the encoder's own weights stay frozen).
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from ..errors import ConfigError, UnknownNameError

__all__ = ["foundation_models", "STRATEGIES", "locate_weights", "pretrained_config", "expected_input",
           "load_pretrained", "build_pretrained", "check_contract", "check_sensors", "fetched_at_build"]

STRATEGIES = ("full", "linear-probe", "last-blocks", "lora")
_WEIGHTS, _CONFIG, _PICKLE = "model.safetensors", "config.json", "pytorch_model.bin"
#: The only modules whose classes a config.json may name (activations, normalisations).
_SAFE_TYPES = ("torch.nn.",)


@lru_cache(maxsize=1)
def foundation_models() -> list[str]:
    """braindecode's models categorised as foundation models (its own ``summary.csv``).

    Examples
    --------
    >>> {"Labram", "BIOT", "EEGPT", "CBraMod", "BENDR", "SignalJEPA"} <= set(foundation_models())
    True
    """
    import importlib.resources

    import pandas as pd

    from ..environment import require

    require("braindecode")
    table = pd.read_csv(importlib.resources.files("braindecode.models") / "summary.csv")
    ours = ["SensorTransformer"]  # pretrained on one's own recordings with `neurodecode pretrain`
    return sorted([*table.loc[table["Categorization"].str.contains("Foundation", na=False), "Model"], *ours])


def _check_name(model: str) -> None:
    if model not in foundation_models():
        raise UnknownNameError("foundation model", model, foundation_models())


def locate_weights(model: str, weights: str | Path) -> Path:
    """The local folder holding ``weights``: a folder path, or a Hugging Face repository id
    found in the local cache (``HF_HUB_CACHE``). Never downloads.

    Raises
    ------
    ConfigError
        One line naming where the weights were looked for and the command that
        fetches them on a connected machine.
    """
    _check_name(model)
    path = Path(str(weights)).expanduser()
    if path.is_dir():
        return path
    looks_like_repo = isinstance(weights, str) and weights.count("/") == 1 and not path.exists() \
        and not str(weights).startswith((".", "/", "~"))
    if looks_like_repo:
        from huggingface_hub import constants, snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        try:
            return Path(snapshot_download(weights, local_files_only=True))
        except (LocalEntryNotFoundError, OSError, ValueError):
            raise ConfigError(
                f"{model}: weights {weights!r} are not in the Hugging Face cache ({constants.HF_HUB_CACHE}) "
                f"and no network is used; on a connected machine run: hf download {weights} (then copy "
                "that cache, or set HF_HUB_CACHE to it), or pass the folder that save_pretrained wrote"
            ) from None
    raise ConfigError(f"{model}: no weights folder at {path}; pass a folder written by braindecode's "
                      "save_pretrained, or a Hugging Face repository id (owner/name) in the local cache")


def pretrained_config(model: str, folder: Path) -> dict:
    """``config.json`` of a weights folder, checked: safetensors weights, ``torch.nn`` types only."""
    folder = Path(folder)
    if not (folder / _WEIGHTS).is_file():
        extra = f" (only {_PICKLE}, a pickle, which is not opened)" if (folder / _PICKLE).is_file() else ""
        raise ConfigError(f"{folder}: no {_WEIGHTS}{extra}; {model} weights must be in the safetensors format "
                          "(braindecode's save_pretrained writes it)")
    try:
        config = json.loads((folder / _CONFIG).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{folder}: no {_CONFIG}; it is not a folder written by save_pretrained") from None
    except ValueError as exc:
        raise ConfigError(f"{folder / _CONFIG}: not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{folder / _CONFIG}: not a model configuration")
    _check_types(model, config, str(folder / _CONFIG))
    return config


def _check_types(model: str, config: dict, where: str) -> None:
    """Refuse a configuration naming a class outside ``torch.nn``: braindecode imports what it names."""
    import inspect

    from .lookup import model_class

    cls, _ = model_class(model)
    for name, param in inspect.signature(cls.__init__).parameters.items():
        value = config.get(name)
        if isinstance(value, str) and "." in value and isinstance(param.default, type) \
                and not value.startswith(_SAFE_TYPES):
            raise ConfigError(f"{where}: {name}={value!r} is not a torch.nn class; such a configuration "
                              "would make braindecode import and call it, so it is refused")


def expected_input(model: str, weights: str | Path) -> dict:
    """What the pretrained encoder takes: ``ch_names`` (None when it names none), ``n_chans``,
    ``sfreq`` (Hz), ``n_times`` and ``seconds``. Use ``ch_names`` as the ``harmonise`` template."""
    config = pretrained_config(model, locate_weights(model, weights))
    chs = config.get("chs_info")
    sfreq = config.get("sfreq")
    n_times = config.get("n_times")
    return {"ch_names": [c["ch_name"] for c in chs] if chs else None,
            "n_chans": config.get("n_chans") or (len(chs) if chs else None), "sfreq": sfreq, "n_times": n_times,
            "seconds": n_times / sfreq if n_times and sfreq else None}


def check_contract(model: str, expected: dict, n_chans: int, n_times: int, sfreq: float | None,
                   ch_names: list[str] | None) -> None:
    """Refuse data the encoder was not pretrained for, rather than pad or crop it."""
    problems = []
    want = expected["ch_names"]
    if want and ch_names is not None and list(ch_names) != list(want):
        missing = [c for c in want if c not in ch_names]
        extra = [c for c in ch_names if c not in want]
        problems.append(f"channels differ (missing {missing}, unexpected {extra})" if missing or extra
                        else "channels are in another order")
    if expected["n_chans"] and n_chans != expected["n_chans"]:
        problems.append(f"{n_chans} channels, the encoder takes {expected['n_chans']} (missing ones would be "
                        "zero-padded, so they are refused)")
    if expected["sfreq"] and sfreq is not None and abs(float(sfreq) - float(expected["sfreq"])) > 1e-6:
        problems.append(f"{sfreq:g} Hz, the encoder was pretrained at {expected['sfreq']:g} Hz")
    if expected["n_times"] and n_times != expected["n_times"]:
        problems.append(f"windows of {n_times} samples, the encoder takes {expected['n_times']}"
                        + (f" ({expected['seconds']:g} s)" if expected["seconds"] else ""))
    if problems:
        names = f" onto its channels ({', '.join(want)})" if want else ""
        raise ConfigError(f"{model} (pretrained): " + "; ".join(problems) + f"; add harmonise{names} and resample "
                          f"to {expected['sfreq']:g} Hz to the recipe, and cut windows of its length")


def _check_strategy(strategy: str, blocks: int, rank: int) -> None:
    from ..errors import check_option

    check_option("fine-tuning strategy", strategy, STRATEGIES)
    if strategy == "last-blocks" and (not isinstance(blocks, int) or blocks < 1):
        raise ConfigError(f"finetune_blocks must be a positive integer, got {blocks!r}")
    if strategy == "lora" and (not isinstance(rank, int) or rank < 1):
        raise ConfigError(f"lora_rank must be a positive integer, got {rank!r}")


def _blocks(module):
    """The encoder's repeated blocks: its longest ModuleList of alike modules."""
    import torch

    best = None
    for name, mod in module.named_modules():
        if isinstance(mod, torch.nn.ModuleList) and len(mod) > 1 and "parametrizations" not in name \
                and len({type(m) for m in mod}) == 1 and (best is None or len(mod) > len(best[1])):
            best = (name, mod)
    return best


def _head_names(module) -> set[str]:
    if not hasattr(module, "final_layer"):
        raise ConfigError(f"{type(module).__name__} has no final_layer: its head cannot be told from its encoder")
    return {f"final_layer.{n}" for n, _ in module.final_layer.named_parameters()}


def _apply_strategy(module, model: str, strategy: str, blocks: int, rank: int):
    """Freeze what the strategy keeps; for ``lora``, add the adapters. Returns the module."""
    import torch

    head = _head_names(module)
    if strategy == "full":
        return module
    if strategy == "lora":
        from peft import LoraConfig, inject_adapter_in_model

        targets = [n for n, m in module.named_modules()
                   if isinstance(m, torch.nn.Linear) and not n.startswith("final_layer")]
        if not targets:
            raise ConfigError(f"{model}: no linear layer outside its head for LoRA")
        small = [(n, min(m.in_features, m.out_features)) for n, m in module.named_modules() if n in targets
                 and min(m.in_features, m.out_features) < rank]
        if small:
            name, size = small[0]
            raise ConfigError(f"{model}: lora_rank={rank} is larger than layer {name} ({size} features in its "
                              f"smaller dimension); use lora_rank <= {min(s for _, s in small)}")
        module = inject_adapter_in_model(LoraConfig(r=rank, lora_alpha=rank, target_modules=targets), module)
    keep = set(head)
    if strategy == "last-blocks":
        found = _blocks(module)
        if found is None:
            raise ConfigError(f"{model}: no repeated encoder blocks to unfreeze; use linear-probe or full")
        name, mods = found
        if blocks > len(mods):
            raise ConfigError(f"{model} has {len(mods)} blocks ({name}); finetune_blocks={blocks} is too many")
        first = len(mods) - blocks
        keep |= {f"{name}.{i}.{n}" for i in range(first, len(mods)) for n, _ in mods[i].named_parameters()}
    for n, p in module.named_parameters():
        p.requires_grad_(n in keep or (strategy == "lora" and "lora_" in n))
    return module


def _plain(config: dict) -> dict:
    return {k: v for k, v in config.items() if k != "braindecode_version"}


def check_sensors(model: str, expected: dict, n_times: int, sfreq: float | None, chs_info) -> None:
    """The contract of a sensor-embedded encoder: any channels, each with a position and a type,
    at the pretraining rate, in windows no longer than it takes."""
    if chs_info is None:
        raise ConfigError(f"{model} embeds each sensor from its position and type: fit it on mne.Epochs "
                          "(with a montage), not on arrays")
    from .sensor_transformer import sensor_features

    try:
        sensor_features(chs_info)
    except ValueError as exc:
        raise ConfigError(f"{model} (pretrained): {exc}; add a montage step to the recipe and pick EEG/MEG "
                          "channels") from None
    if expected["sfreq"] and sfreq is not None and abs(float(sfreq) - float(expected["sfreq"])) > 1e-6:
        raise ConfigError(f"{model} (pretrained): {sfreq:g} Hz, the encoder was pretrained at "
                          f"{expected['sfreq']:g} Hz; resample to {expected['sfreq']:g} Hz in the recipe")


def fetched_at_build(model: str, chs_info: list[dict] | None, config: dict) -> dict:
    """Files REVE and STEEGFormer fetch from the Hub when built, found offline first.

    braindecode's REVE downloads its channel-position bank into the MNE data folder when the file
    is missing, and STEEGFormer downloads its channel vocabulary (retrying for about 25 s offline,
    then mapping channel i to vocabulary slot i with a warning). Both are refused in one line when
    the file is not on this machine; STEEGFormer's slots are resolved here from the cached
    vocabulary and passed as ``chan_pos_idx``, so no name is mapped by position and nothing is
    fetched.

    Parameters
    ----------
    model : str
        The foundation model's name.
    chs_info : list of dict | None
        The data's channels (``ch_name`` read), or None where they are not known yet.
    config : dict
        The weights' ``config.json``.

    Returns
    -------
    overrides : dict
        Constructor arguments to add (``chan_pos_idx`` for STEEGFormer given channel names).

    Raises
    ------
    ConfigError
        One line naming the missing file and the command that fetches it, or the channels
        outside STEEGFormer's vocabulary.

    Examples
    --------
    >>> fetched_at_build("CBraMod", None, {})
    {}
    """
    from .. import private_api

    if model == "REVE":
        path = private_api.reve_positions_file()
        if not path.is_file():
            import inspect

            from braindecode.models.reve import RevePositionBank

            url = inspect.signature(RevePositionBank).parameters["url"].default
            raise ConfigError(f"REVE: its channel-position bank is not at {path} and no network is used; on a "
                              f"connected machine download {url} to that file (or set REVE_POSITIONS_PATH, "
                              "MNE's config key braindecode reads, to the folder holding reve_positions.json)")
        return {}
    if model == "STEEGFormer" and chs_info:
        from huggingface_hub import constants, try_to_load_from_cache

        repo, name = private_api.steegformer_vocabulary_source()
        cached = try_to_load_from_cache(repo, name)
        if not isinstance(cached, str):
            raise ConfigError(f"STEEGFormer: its channel vocabulary ({repo}, {name}) is not in the Hugging Face "
                              f"cache ({constants.HF_HUB_CACHE}) and no network is used; on a connected machine "
                              f"run: hf download {repo} {name}")
        slots = {str(n).upper(): i for i, n in enumerate(json.loads(Path(cached).read_text()))}
        if int(config.get("n_chans_pos", len(slots))) != len(slots):
            raise ConfigError(f"STEEGFormer with n_chans_pos={config['n_chans_pos']}: its electrode names are not "
                              f"published (the vocabulary has {len(slots)}), so channels cannot be matched by name")
        names = [ch["ch_name"] for ch in chs_info]
        unknown = [n for n in names if n.upper() not in slots]
        if unknown:
            raise ConfigError(f"STEEGFormer: channels {unknown[:8]} are not in its {len(slots)}-electrode vocabulary"
                              "; map the cap onto its electrodes with harmonise (they would be given other "
                              "electrodes' embeddings)")
        return {"chan_pos_idx": [slots[n.upper()] for n in names]}
    return {}


def _check_labram_order(chs_info) -> None:
    """braindecode's Labram reads arrays as its 128 canonical channels in order, unless ``ch_names`` is
    passed to ``forward`` (a pipeline passes arrays): refuse another cap now, not mid-training."""
    from braindecode.models.labram import LABRAM_CHANNEL_ORDER

    names = [c["ch_name"] for c in chs_info] if chs_info else None
    if names is None or [n.upper() for n in names] != [n.upper() for n in LABRAM_CHANNEL_ORDER]:
        got = f"{len(names)} channels ({', '.join(names[:4])}...)" if names else "no channel names"
        raise ConfigError(f"Labram takes its {len(LABRAM_CHANNEL_ORDER)} channels in braindecode's "
                          f"LABRAM_CHANNEL_ORDER, got {got}; use InterpolatedLaBraM for another cap, or "
                          "harmonise onto those channels in that order")


def load_pretrained(model: str, weights, *, n_outputs: int, n_chans: int, n_times: int,
                    sfreq: float | None, chs_info: list[dict] | None, strategy: str = "full",
                    blocks: int = 1, rank: int = 8):
    """The pretrained encoder through braindecode's ``from_pretrained``, a new head for ``n_outputs``
    classes, and the fine-tuning strategy applied. Returns ``(module, config)``; ``config`` rebuilds
    the architecture with :func:`build_pretrained` (for saved models)."""
    _check_strategy(strategy, blocks, rank)
    folder = locate_weights(model, weights)
    config = pretrained_config(model, folder)
    expected = expected_input(model, folder)
    from .lookup import model_class

    cls, _ = model_class(model)
    overrides = {}
    if getattr(cls, "sensor_agnostic", False):  # weights independent of the cap: this data's sensors
        check_sensors(model, expected, n_times, sfreq, chs_info)
        overrides = {"chs_info": chs_info, "n_chans": n_chans, "n_times": n_times}
    else:
        check_contract(model, expected, n_chans, n_times, sfreq,
                       [c["ch_name"] for c in chs_info] if chs_info else None)
    if model == "Labram":
        _check_labram_order(chs_info)
    overrides.update(fetched_at_build(model, chs_info, config))
    try:
        module = cls.from_pretrained(str(folder), strict=True, **overrides)
        module.reset_head(n_outputs)  # always a new head: the pretrained one answered another task
    except NotImplementedError:  # caught before RuntimeError, its base class
        raise ConfigError(f"{model} cannot take a new head (braindecode has no reset_head for it)") from None
    except RuntimeError as exc:  # torch's load_state_dict under strict=True
        first = str(exc).strip().splitlines()
        raise ConfigError(f"{folder}: the weights do not fit {model} as configured in {_CONFIG}: "
                          f"{' '.join(line.strip() for line in first[:3])}") from None
    except ValueError as exc:  # braindecode refusing these inputs (BENDR's fixed channel order...)
        raise ConfigError(f"{model}: {' '.join(str(exc).split())}") from None
    plain = {**_plain(config), **overrides, "n_outputs": n_outputs}
    return _apply_strategy(module, model, strategy, blocks, rank), plain


def build_pretrained(model: str, config: dict, *, strategy: str = "full", blocks: int = 1, rank: int = 8):
    """The architecture of :func:`load_pretrained` without its weights (a saved model then loads its own)."""
    from braindecode.models.util import resolve_type_kwargs

    from .lookup import model_class

    cls, _ = model_class(model)
    _check_types(model, config, f"the saved {model}")  # a model file is someone else's data too
    if config.get("chan_pos_idx") is None:
        config = {**config, **fetched_at_build(model, config.get("chs_info"), config)}
    kwargs = resolve_type_kwargs(cls, dict(config))
    return _apply_strategy(cls(**kwargs), model, strategy, blocks, rank)
