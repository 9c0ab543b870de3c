"""What every party of a federation agrees on: the network, the shared space, the classes, the rounds.

A *federation spec* is plain JSON-able data. The server holds it and sends it
to each client with every round's instructions (one string in Flower's
config), so a site needs only its own data spec
(:mod:`~neurodecode.evaluation.federated_site`).
"""
from __future__ import annotations

import json

from ..errors import ConfigError, UnknownNameError, check_option
from ..utils import digest

__all__ = ["FEDERATION_KEYS", "STRATEGIES", "check_federation", "federation_digest", "global_network", "n_times",
           "shared_positions", "mixing_for"]

STRATEGIES = ("fedavg", "fedprox")
FEDERATION_KEYS = ("network", "shared", "classes", "scoring", "personal_head", "rounds", "local_epochs", "strategy",
                   "mu", "fraction_fit", "min_clients", "clients", "round_timeout", "validation", "random_state")


def check_federation(spec: dict, *, n_clients: int | None = None, where: str = "federation") -> dict:
    """A federation spec with its defaults, checked (one line per problem).

    Examples
    --------
    >>> spec = check_federation({"network": {"model": "ShallowFBCSPNet"}, "classes": ["a", "b"],
    ...                          "shared": {"n_chans": 8, "sfreq": 128.0, "window": 2.0}})
    >>> spec["strategy"], spec["rounds"], n_times(spec)
    ('fedavg', 10, 256)
    """
    for key in spec:
        if key not in FEDERATION_KEYS:
            raise UnknownNameError(f"{where} setting:", key, FEDERATION_KEYS)
    out = {"scoring": "accuracy", "personal_head": False, "rounds": 10, "local_epochs": 1, "strategy": "fedavg",
           "mu": 0.0, "fraction_fit": 1.0, "min_clients": 2, "clients": None, "round_timeout": 600.0,
           "validation": 0.0, "random_state": 42, **spec}
    out["network"] = {"model_params": {}, "lr": 1e-3, "weight_decay": 0.0, "batch_size": 64, **spec["network"]}
    check_option("strategy", out["strategy"], STRATEGIES)
    for key in ("rounds", "local_epochs", "min_clients"):
        if not isinstance(out[key], int) or isinstance(out[key], bool) or out[key] < 1:
            raise ConfigError(f"{where}: {key} must be a positive integer, got {out[key]!r}")
    if isinstance(out["validation"], bool) or not isinstance(out["validation"], (int, float)) \
            or not 0 <= out["validation"] < 1:
        raise ConfigError(f"{where}: validation must be a share in [0, 1) of each site's training trials (0: no "
                          f"round is chosen, the last one is scored), got {out['validation']!r}")
    if not 0 < float(out["fraction_fit"]) <= 1:
        raise ConfigError(f"{where}: fraction_fit must be in (0, 1], got {out['fraction_fit']}")
    if out["strategy"] == "fedprox" and not float(out["mu"]) > 0:
        raise ConfigError(f"{where}: strategy fedprox needs mu > 0 (the proximal term's weight), got {out['mu']}")
    if out["strategy"] == "fedavg" and float(out["mu"]) != 0:
        raise ConfigError(f"{where}: mu={out['mu']} is FedProx's proximal weight; set strategy: fedprox or drop mu")
    if n_clients is not None and out["min_clients"] > n_clients:
        raise ConfigError(f"{where}: min_clients={out['min_clients']} is larger than the {n_clients} client(s); "
                          "lower min_clients or add clients")
    if out["clients"] is not None and (not isinstance(out["clients"], int) or out["clients"] < out["min_clients"]):
        raise ConfigError(f"{where}: clients (how many the first round waits for) must be an integer of at least "
                          f"min_clients={out['min_clients']}, got {out['clients']!r}")
    shared = out.get("shared") or {}
    if shared.get("channels") is not None:
        from ..datasets.montage import standard_positions

        names, known = list(shared["channels"]), standard_positions()
        unknown = [n for n in names if n not in known]
        if unknown:
            raise UnknownNameError(f"{where} shared channel (standard 10-05 names):", unknown[0], list(known))
        shared = out["shared"] = {**shared, "channels": names, "n_chans": len(names)}
    for key in ("n_chans", "sfreq", "window"):
        if not isinstance(shared.get(key), (int, float)) or shared[key] <= 0:
            raise ConfigError(f"{where}: shared.{key} must be a positive number, got {shared.get(key)!r}")
    if len(out.get("classes") or []) < 2:
        raise ConfigError(f"{where}: the clients share {len(out.get('classes') or [])} class(es); decoding needs 2")
    return out


def shared_positions(spec: dict):
    """Positions (m) of the shared space's virtual channels, or None when they are not named."""
    names = spec["shared"].get("channels")
    if not names:
        return None
    import numpy as np

    from ..datasets.montage import standard_positions

    known = standard_positions()
    return np.array([known[n] for n in names], dtype=float)


def n_times(spec: dict) -> int:
    """Samples of a window in the shared space."""
    return int(round(spec["shared"]["window"] * spec["shared"]["sfreq"]))


def federation_digest(spec: dict) -> str:
    """What a stored round belongs to: the spec without the settings a resumed run may change."""
    return digest({k: v for k, v in spec.items()
                   if k not in ("round_timeout", "min_clients", "clients", "fraction_fit")})


def global_network(spec: dict):
    """The global part, built and seeded as every party builds it (the server's round-0 weights)."""
    from ..models.federated_net import build_global

    net = spec["network"]
    return build_global(net["model"], n_shared=int(spec["shared"]["n_chans"]), n_times=n_times(spec),
                        sfreq=float(spec["shared"]["sfreq"]), n_outputs=len(spec["classes"]),
                        model_params=net["model_params"], personal_head=spec["personal_head"],
                        seed=spec["random_state"])


def dumps(spec: dict) -> str:
    return json.dumps(spec, sort_keys=True)


def mixing_for(spec: dict, positions, who: str):
    """The starting weights of a local layer whose sensors sit at ``positions`` (None: random start)."""
    shared = shared_positions(spec)
    if shared is None:
        return None
    import numpy as np

    from ..models.federated_net import position_mixing

    if np.isnan(positions).any():
        raise ConfigError(f"{who} has channels without positions, and the shared space names its channels "
                          f"({', '.join(spec['shared']['channels'])}); set the recordings' montage or give "
                          "local.n_chans instead of local.channels")
    return position_mixing(positions, shared)
