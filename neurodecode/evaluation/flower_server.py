"""The federation's server on Flower: FedAvg or FedProx over the shared layers, rounds stored as they end.

It runs Flower's own server (``flwr.server.start_server``, gRPC; deprecated
by Flower since 1.13 in favour of SuperLink, kept here because it runs one
real server process without a Flower project or Ray) with Flower's
``FedAvg`` (sample-weighted) or ``FedProx`` strategy, subclassed to:

* store the aggregated shared parameters after every round
  (``round-NNNN.safetensors``, written atomically) with a line in
  ``rounds.jsonl`` (bytes sent each way, wall time, clients, failures), so
  a killed server resumes from its last complete round (stored and
  evaluated by every client that trained in it; what came after is
  dropped and run again);
* record what every client sent (``messages.jsonl``: array shapes, dtypes
  and bytes, example counts, metric names and types) for the privacy check;
* record each client's evaluation metrics every round (score against round);
* wait (up to ``round_timeout``) for all ``clients`` before the first round,
  so that a site slower to start does not miss it (later rounds go on with
  ``min_clients``).

Flower reads ``FLWR_TELEMETRY_ENABLED`` when it is imported: this module's
process entry point sets it to 0 (no traffic leaves the machine but the
clients' own); a caller importing it in its own process sets it first.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..utils import write_atomic_bytes
from .federated_spec import check_federation, dumps, federation_digest, global_network

__all__ = ["serve", "stored_round", "read_records", "STORE_FILES"]

STORE_FILES = ("rounds.jsonl", "messages.jsonl", "evaluations.jsonl")


def read_records(path: Path) -> list[dict]:
    """The complete lines of a JSON-lines file (a kill may leave the last one unfinished)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().split("\n")[:-1]:
        try:
            out.append(json.loads(line))
        except ValueError:
            break
    return out


def stored_round(store: Path, spec: dict) -> tuple[int, list | None]:
    """The last complete round of this federation (its parameters stored and every client that trained in
    it evaluated) and its shared parameters; (0, None) when none."""
    from safetensors.numpy import load_file

    store = Path(store)
    marker = store / "federation.json"
    if not marker.exists() or json.loads(marker.read_text())["digest"] != federation_digest(spec):
        return 0, None
    trained = {r["round"]: set(r["clients"]) for r in read_records(store / "rounds.jsonl")}
    evaluated: dict = {}
    for e in read_records(store / "evaluations.jsonl"):
        evaluated.setdefault(e["round"], set()).add(e["client"])
    done = 0
    while (store / f"round-{done + 1:04d}.safetensors").exists() and done + 1 in trained \
            and trained[done + 1] <= evaluated.get(done + 1, set()):
        done += 1
    if done == 0:
        return 0, None
    arrays = load_file(str(store / f"round-{done:04d}.safetensors"))
    return done, [arrays[f"p{i:04d}"] for i in range(len(arrays))]


def _truncate(store: Path, done: int) -> None:
    """Drop what a killed run stored after round ``done`` (its rounds run again)."""
    for name in STORE_FILES:
        kept = [r for r in read_records(store / name) if r["round"] <= done]
        write_atomic_bytes(store / name, "".join(json.dumps(r) + "\n" for r in kept))
    for path in store.glob("round-*.safetensors"):
        if int(path.stem.split("-")[1]) > done:
            path.unlink()


def _append(path: Path, record: dict) -> None:
    with open(path, "a") as f:  # one line per write: a kill loses at most the line being written
        f.write(json.dumps(record) + "\n")


def _strategy_class(base):
    """Flower's ``base`` strategy, recording what it receives and storing every round."""
    from flwr.common import parameters_to_ndarrays

    class Recording(base):
        def __init__(self, *, store: Path, offset: int, expected: int | None, wait: float, **kwargs):
            super().__init__(**kwargs)
            self.store, self.offset, self.expected, self.wait = store, offset, expected, wait
            self.started: dict = {}
            self.sent: dict = {}

        def _record(self, server_round, kind, results):
            for proxy, res in results:
                arrays = parameters_to_ndarrays(res.parameters) if kind == "fit" else []
                _append(self.store / "messages.jsonl", {
                    "round": self.offset + server_round, "kind": kind, "node": str(proxy.cid),
                    "arrays": [[list(a.shape), str(a.dtype), int(a.nbytes)] for a in arrays],
                    "num_examples": int(res.num_examples),
                    "loss": float(res.loss) if kind == "evaluate" else None,
                    "metrics": {k: type(v).__name__ for k, v in res.metrics.items()}})
            return sum(int(a.nbytes) for _, r in results if kind == "fit"
                       for a in parameters_to_ndarrays(r.parameters))

        def configure_fit(self, server_round, parameters, client_manager):
            if server_round == 1 and self.expected:  # every site in the first round, if it comes in time
                client_manager.wait_for(self.expected, timeout=int(self.wait))
            self.started[server_round] = time.perf_counter()
            chosen = super().configure_fit(server_round, parameters, client_manager)
            self.sent[server_round] = len(chosen) * sum(a.nbytes for a in parameters_to_ndarrays(parameters))
            return chosen

        def aggregate_fit(self, server_round, results, failures):
            received = self._record(server_round, "fit", results)
            parameters, metrics = super().aggregate_fit(server_round, results, failures)
            n = self.offset + server_round
            if parameters is not None:
                from safetensors.numpy import save

                arrays = parameters_to_ndarrays(parameters)
                write_atomic_bytes(self.store / f"round-{n:04d}.safetensors",
                                   save({f"p{i:04d}": np.ascontiguousarray(a) for i, a in enumerate(arrays)}))
            _append(self.store / "rounds.jsonl", {
                "round": n, "clients": [str(r.metrics.get("client", "")) for _, r in results],
                "n_failures": len(failures), "bytes_down": int(self.sent.get(server_round, 0)),
                "bytes_up": int(received), "fit_time": time.perf_counter() - self.started[server_round],
                "aggregated": parameters is not None})
            return parameters, metrics

        def aggregate_evaluate(self, server_round, results, failures):
            self._record(server_round, "evaluate", results)
            for _, res in results:
                _append(self.store / "evaluations.jsonl", {"round": self.offset + server_round,
                                                           "loss": float(res.loss), **res.metrics,
                                                           "round_time": time.perf_counter()
                                                           - self.started.get(server_round, time.perf_counter())})
            return super().aggregate_evaluate(server_round, results, failures)

    return Recording


def serve(spec: dict, *, address: str, store: str | Path) -> int:
    """Run the federation's remaining rounds on ``address`` (``host:port``); return the rounds run.

    Rounds already in ``store`` for the same spec are not run again: the
    server starts from the last stored parameters.
    """
    from flwr.common import ndarrays_to_parameters
    from flwr.server import ServerConfig, start_server
    from flwr.server.strategy import FedAvg, FedProx

    from ..models.federated_net import get_shared, shared_names

    spec = check_federation(spec)
    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
    done, arrays = stored_round(store, spec)
    if done == 0:
        for name in STORE_FILES:  # a new federation: no lines of another one
            (store / name).unlink(missing_ok=True)
        for path in store.glob("round-*.safetensors"):
            path.unlink()
        write_atomic_bytes(store / "federation.json", json.dumps({"digest": federation_digest(spec), "spec": spec}))
    else:
        _truncate(store, done)
    remaining = spec["rounds"] - done
    if remaining <= 0:
        return 0
    network = global_network(spec)
    names = shared_names(network, personal_head=spec["personal_head"])
    if arrays is None:
        arrays = get_shared(network, names)
    config = {"federation": dumps(spec), "local_epochs": spec["local_epochs"]}
    kwargs = {"fraction_fit": float(spec["fraction_fit"]), "fraction_evaluate": 1.0,
              "min_fit_clients": spec["min_clients"], "min_evaluate_clients": spec["min_clients"],
              "min_available_clients": spec["min_clients"], "accept_failures": True,
              "initial_parameters": ndarrays_to_parameters(arrays),
              "on_fit_config_fn": lambda r: {**config, "round": done + r},
              "on_evaluate_config_fn": lambda r: {**config, "round": done + r}}
    if spec["strategy"] == "fedprox":
        base, kwargs["proximal_mu"] = FedProx, float(spec["mu"])
    else:
        base = FedAvg
    strategy = _strategy_class(base)(store=store, offset=done, expected=spec["clients"],
                                     wait=spec["round_timeout"], **kwargs)
    start_server(server_address=address, strategy=strategy,
                 config=ServerConfig(num_rounds=remaining, round_timeout=float(spec["round_timeout"])))
    return remaining


def main(argv=None) -> int:
    """``python -m neurodecode.evaluation.flower_server SPEC.json ADDRESS STORE`` (what the benchmark starts)."""
    import logging
    import os
    import sys

    os.environ["FLWR_TELEMETRY_ENABLED"] = "0"  # this process's own setting, before Flower is imported
    args = sys.argv[1:] if argv is None else argv
    logging.getLogger("flwr").setLevel(logging.WARNING)
    serve(json.loads(Path(args[0]).read_text()), address=args[1], store=args[2])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
