"""Federated training across datasets (after FLEEG), with local-only and centralized baselines on the same tests.

Each client is a dataset held by a site (:mod:`~neurodecode.evaluation.federated_site`):
its own channels, rate and recipe, its own train/test split. Three modes are
scored on each client's test trials:

``local``
    The client's model (its local layer and the global network) trained on its
    own training trials alone, round by round as in the federation.
``federated``
    A real Flower server and one Flower client process per site, on
    127.0.0.1 (:mod:`~neurodecode.evaluation.flower_server`,
    :mod:`~neurodecode.evaluation.flower_client`): FedAvg weighted by samples
    or FedProx over the shared layers only.
``centralized``
    Every client's training trials pooled, on the channels all clients share
    (their intersection; skipped when they share fewer than two), resampled to
    the shared rate, through one input layer and the same global network:
    the upper bound where data may be pooled.

Every mode trains ``rounds`` x ``local_epochs`` epochs from the same initial
global weights, with a fresh optimiser each round. With the spec's
``validation`` share, every mode holds out the last share of each site's
training trials (per class, subject and session) and scores the model of the round
that did best on them: each site's own validation trials for ``local`` and
``federated``, all sites' together for ``centralized``. Without it, the last
round's model is scored.
"""
from __future__ import annotations

import copy
import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..errors import ConfigError, NeurodecodeError
from .federated_site import check_site, load_site, site_classes
from .federated_spec import check_federation
from .metrics import chance_level

__all__ = ["FederatedEvaluation", "MODES", "common_classes", "free_port"]

MODES = ("local", "federated", "centralized")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def curve_point(metrics: dict, training: str, server_round: int) -> dict:
    """One point of score against round: this round's model on the test trials, and with a validation
    share its validation score and the round chosen so far."""
    point = {"client": metrics["client"], "training": training, "round": server_round,
             "score": metrics["round_score"]}
    if "valid_score" in metrics:
        point.update(valid_score=metrics["valid_score"], selected_round=metrics["selected_round"])
    return point


def common_classes(sites: list[dict]) -> list[str]:
    """The class names every client has (at least two), or one line naming the clients that differ."""
    from .cross_dataset import shared_classes

    return shared_classes({s["code"]: site_classes(s) for s in sites}, "federated", "clients", "client ")


class FederatedEvaluation:
    """Score local-only, federated and centralized training on every client's test trials.

    Parameters
    ----------
    sites : list of dict
        Site specs, one per client (distinct codes).
    spec : dict
        The federation spec (:func:`~neurodecode.evaluation.federated_spec.check_federation`).
    workdir : path
        Where the federation's server store, the sites' states and the
        processes' logs live; a rerun resumes from the stored rounds.
    modes : sequence of str
        Among ``local``, ``federated``, ``centralized``.
    timeout : float | None
        Seconds the whole federation may take (default: rounds x round_timeout + 300).

    Attributes
    ----------
    rounds_ : pandas.DataFrame
        Score against round: ``client``, ``training``, ``round``, ``score``.
    costs_ : dict
        ``federated_time`` (s: the rounds' wall time, each from its instructions
        to its last evaluation, the first round's wait for every client
        included), ``centralized_time``, ``bytes_per_round``, ``round_time``
        (s, mean).
    """

    def __init__(self, sites: list[dict], spec: dict, *, workdir: str | Path, modes=MODES,
                 timeout: float | None = None):
        self.sites = [check_site(s, where=f"client {s.get('code', i)}" if isinstance(s, dict) else f"client {i}")
                      for i, s in enumerate(sites)]
        codes = [s["code"] for s in self.sites]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ConfigError(f"federated: client {twice[0]} is given twice; give each dataset once, or give the "
                              "copies their own code")
        if len(self.sites) < 2:
            raise ConfigError(f"federated: a federation needs at least 2 clients, got {len(self.sites)}")
        unknown = [m for m in modes if m not in MODES]
        if unknown:
            raise ConfigError(f"federated: unknown mode(s) {unknown}; choose from {list(MODES)}")
        spec = {**spec, "clients": spec.get("clients") or len(self.sites)}  # the first round waits for every site
        self.spec = check_federation(spec, n_clients=len(self.sites), where="federated")
        self.modes, self.workdir = tuple(modes), Path(workdir)
        self.timeout = timeout if timeout is not None else self.spec["rounds"] * self.spec["round_timeout"] + 300
        self.rounds_ = None
        self.costs_: dict = {}

    # -- the three modes --------------------------------------------------------------------------
    def evaluate(self):
        """Rows (a DataFrame) of every mode, client and test subject."""
        import pandas as pd

        from ..models.federated_net import ClientNet  # noqa: F401  (fails early without torch)

        in_process = {"local", "centralized"} & set(self.modes)  # the federation's clients read their own
        data = {s["code"]: load_site(s, classes=self.spec["classes"], window=self.spec["shared"]["window"],
                                     validation=self.spec["validation"]) for s in self.sites} if in_process else {}
        rows, curves = [], []
        if "local" in self.modes:
            r, c = self._local(data)
            rows, curves = rows + r, curves + c
        if "centralized" in self.modes:
            r, c = self._centralized(data)
            rows, curves = rows + r, curves + c
        if "federated" in self.modes:
            r, c = self._federated()
            rows, curves = rows + r, curves + c
        self.rounds_ = pd.DataFrame(curves)
        return pd.DataFrame(rows)

    def _rows(self, training: str, metrics: dict, seconds: float, n_train: int) -> list[dict]:
        chance = chance_level(self.spec["scoring"], len(self.spec["classes"]))
        out = []
        for key, value in metrics.items():
            if not key.startswith("score:"):
                continue
            out.append({"dataset": metrics["client"], "subject": int(key.split(":", 1)[1]), "session": "all",
                        "training": training, "score": float(value), "chance": chance, "n_train": n_train,
                        "n_test": int(metrics["n_test"]), "rounds": self.spec["rounds"],
                        "strategy": self.spec["strategy"] if training == "federated" else "", "time": seconds})
        return out

    def _local(self, data) -> tuple[list, list]:
        from .federated_learner import SiteLearner

        rows, curves = [], []
        for site in self.sites:
            t0 = time.perf_counter()
            learner = SiteLearner(site, self.spec, data=data[site["code"]])
            for r in range(1, self.spec["rounds"] + 1):
                learner.fit_round(None, r)
                metrics = learner.scores(server_round=r)[1]
                curves.append(curve_point(metrics, "local", r))
            rows += self._rows("local", metrics, time.perf_counter() - t0, len(learner.y_train))
        return rows, curves

    def template(self, data) -> list[str]:
        """The channels every client has, in the first client's order."""
        first = data[self.sites[0]["code"]].ch_names
        return [c for c in first if all(c in d.ch_names for d in data.values())]

    def _centralized(self, data) -> tuple[list, list]:
        """One model on every client's training trials pooled on the shared channels and rate."""
        import mne

        from ..models.federated_net import client_net, predict_proba, train_epochs
        from .federated_spec import global_network, mixing_for, n_times
        from .metrics import score_probabilities

        channels = self.template(data)
        if len(channels) < 2:  # no template to pool on: the mode has no rows, and says why
            logging.getLogger("neurodecode").warning(
                f"federated: no centralized rows: the clients share {len(channels)} channel(s), and pooling "
                "needs 2")
            return [], []
        sfreq, classes = float(self.spec["shared"]["sfreq"]), list(self.spec["classes"])

        def pooled(d, X):
            X = X[:, [d.ch_names.index(c) for c in channels]].astype(np.float64)
            X = mne.filter.resample(X, up=sfreq, down=d.sfreq, axis=-1, verbose="error") if d.sfreq != sfreq else X
            width = n_times(self.spec)
            X = X[..., :width] if X.shape[-1] >= width else np.pad(X, [(0, 0), (0, 0), (0, width - X.shape[-1])],
                                                                   mode="edge")
            std = float(np.std(d.X_train))  # each client's own scale, as in the other modes
            return (X / (std if std > 0 else 1.0)).astype(np.float32)

        t0 = time.perf_counter()
        X = np.concatenate([pooled(d, d.X_train) for d in data.values()])
        y = np.concatenate([np.searchsorted(classes, d.y_train) for d in data.values()])
        first = data[self.sites[0]["code"]]
        positions = first.positions[[first.ch_names.index(c) for c in channels]]
        net = client_net(global_network(self.spec), len(channels), n_times(self.spec),
                         int(self.spec["shared"]["n_chans"]), n_times(self.spec), seed=self.spec["random_state"],
                         mixing=mixing_for(self.spec, positions, "the pooled channels"))
        spec_net, curves = self.spec["network"], []
        tests = {code: (pooled(d, d.X_test), np.searchsorted(classes, d.y_test)) for code, d in data.items()}
        if self.spec["validation"]:  # every site's validation trials together choose the round
            X_valid = np.concatenate([pooled(d, d.X_valid) for d in data.values()])
            y_valid = np.concatenate([np.searchsorted(classes, d.y_valid) for d in data.values()])
        best = None  # (validation score, round, model)
        for r in range(1, self.spec["rounds"] + 1):
            train_epochs(net, X, y, epochs=self.spec["local_epochs"], lr=spec_net["lr"],
                         weight_decay=spec_net["weight_decay"], batch_size=spec_net["batch_size"],
                         seed=self.spec["random_state"] + r)
            extra = {}
            if self.spec["validation"]:
                valid = score_probabilities(self.spec["scoring"], y_valid, predict_proba(net, X_valid))
                if best is None or valid > best[0]:
                    best = (valid, r, copy.deepcopy(net))
                extra = {"valid_score": valid, "selected_round": best[1]}
            for code, (Xt, yt) in tests.items():
                curves.append({"client": code, "training": "centralized", "round": r, **extra,
                               "score": score_probabilities(self.spec["scoring"], yt, predict_proba(net, Xt))})
        self.costs_["centralized_time"] = seconds = time.perf_counter() - t0
        scored = best[2] if best else net
        rows = []
        for code, d in data.items():
            Xt, yt = tests[code]
            proba = predict_proba(scored, Xt)
            metrics = {"client": code, "n_test": len(yt)}
            for subject in np.unique(d.test_subjects):
                mask = d.test_subjects == subject
                metrics[f"score:{subject}"] = score_probabilities(self.spec["scoring"], yt[mask], proba[mask])
            rows += self._rows("centralized", metrics, seconds, len(y))
        return rows, curves

    # -- the federation on Flower ---------------------------------------------------------------------
    def launch(self, address: str) -> tuple[subprocess.Popen, dict]:
        """Start the server and one client process per site on ``address`` (127.0.0.1:port); return them.

        Each process logs to ``workdir/logs``. The caller waits for them (see :meth:`_federated`).
        """
        self.workdir.mkdir(parents=True, exist_ok=True)
        logs = self.workdir / "logs"
        logs.mkdir(exist_ok=True)
        (self.workdir / "federation.json").write_text(json.dumps(self.spec))
        server = self.process("flower_server", [str(self.workdir / "federation.json"), address,
                                                str(self.workdir / "store")], logs / "server.log")
        clients = {}
        for site in self.sites:
            path = self.workdir / f"site-{site['code']}.json"
            path.write_text(json.dumps(site))
            clients[site["code"]] = self.client(site["code"], address)
        return server, clients

    def client(self, code: str, address: str) -> subprocess.Popen:
        """Start (or restart) the client process of site ``code``."""
        return self.process("flower_client", [str(self.workdir / f"site-{code}.json"), address,
                                              str(self.workdir / "state")], self.workdir / "logs" / f"{code}.log")

    @staticmethod
    def process(module: str, args: list[str], log: Path) -> subprocess.Popen:
        # one torch thread per process: the server and every client share the machine's cores
        env = {**os.environ, "FLWR_TELEMETRY_ENABLED": "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        with open(log, "ab") as out:
            return subprocess.Popen([sys.executable, "-m", f"neurodecode.evaluation.{module}", *args], env=env,
                                    stdout=out, stderr=subprocess.STDOUT)

    def _federated(self) -> tuple[list, list]:
        from .flower_server import read_records, stored_round

        store = self.workdir / "store"
        done, _ = stored_round(store, self.spec)
        if done < self.spec["rounds"] or not self._final(store):
            server, clients = self.launch(f"127.0.0.1:{free_port()}")
            self.wait(server, clients)
        rounds, evaluations = read_records(store / "rounds.jsonl"), read_records(store / "evaluations.jsonl")
        per_round: dict = {}  # each round's wall time, from its instructions to its last evaluation (stored,
        for e in evaluations:  # so a resumed run reports the rounds' time, not the rerun's)
            per_round[e["round"]] = max(per_round.get(e["round"], 0.0), e["round_time"])
        self.costs_["federated_time"] = float(sum(per_round.values()))
        self.costs_["bytes_per_round"] = float(np.mean([r["bytes_up"] + r["bytes_down"] for r in rounds]))
        self.costs_["round_time"] = float(np.mean(list(per_round.values())))
        final = self._final(store)
        missing = sorted({s["code"] for s in self.sites} - set(final))
        if missing:
            raise NeurodecodeError(f"federated: clients {missing} sent no evaluation in the last round; see "
                                   f"{self.workdir / 'logs'}")
        rows = []
        for metrics in final.values():
            n_train = int(metrics.get("n_train", 0))
            for row in self._rows("federated", metrics, self.costs_["federated_time"], n_train):
                rows.append({**row, "bytes_per_round": self.costs_["bytes_per_round"],
                             "round_time": self.costs_["round_time"]})
        curves = [curve_point(e, "federated", e["round"]) for e in evaluations]
        return rows, curves

    def _final(self, store: Path) -> dict:
        """Each client's evaluation metrics in the federation's last round."""
        from .flower_server import read_records

        return {e["client"]: e for e in read_records(store / "evaluations.jsonl") if e["round"] == self.spec["rounds"]}

    def wait(self, server: subprocess.Popen, clients: dict) -> None:
        """Wait for the server to end (bounded by ``timeout``), then for the clients; stop any left."""
        try:
            code = server.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            code = None
        for proc in clients.values():
            try:
                proc.wait(timeout=30 if code == 0 else 1)
            except subprocess.TimeoutExpired:
                proc.kill()
        if code is None:
            server.kill()
            raise NeurodecodeError(f"federated: the federation did not end within {self.timeout:g} s; see "
                                   f"{self.workdir / 'logs'} (a rerun resumes from the last stored round)")
        if code != 0:
            tail = (self.workdir / "logs" / "server.log").read_text(errors="replace").strip().splitlines()[-1:]
            raise NeurodecodeError(f"federated: the server stopped with exit code {code}: {' '.join(tail)}")
