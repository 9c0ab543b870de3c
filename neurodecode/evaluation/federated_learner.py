"""What one client does with its data in a federation round, and in the local-only baseline.

:class:`SiteLearner` holds a site's split data and its model (local layer,
global network, and with ``personal_head`` its own head). Each round it
takes the server's shared parameters, trains ``local_epochs`` (with FedProx's
proximal term when the server asks for it), and returns only the shared
parameters and scalar metrics. Its data, scale and local layers never leave
it. Its model is saved after every round under ``state_dir``, so a client
killed mid-run rejoins with its own local layers.

With the federation's ``validation`` share, the site scores each round's
model on its own validation trials and keeps the best one so far (ties keep
the earlier round); its test metrics are that model's. The test trials never
choose anything.
"""
from __future__ import annotations

import copy
import zlib
from pathlib import Path

import numpy as np

from ..utils import write_atomic_bytes
from .federated_site import SiteData, load_site
from .federated_spec import federation_digest, global_network, mixing_for, n_times
from .metrics import score_probabilities

__all__ = ["SiteLearner"]


class SiteLearner:
    """One site's model and data under a federation spec (see the module docstring).

    Parameters
    ----------
    site : dict
        A checked site spec (:func:`~neurodecode.evaluation.federated_site.check_site`).
    spec : dict
        A checked federation spec.
    state_dir : path | None
        Where the site keeps its model between rounds (None: in memory only).
    data : SiteData | None
        Already loaded trials (else they are read here).
    """

    def __init__(self, site: dict, spec: dict, *, state_dir: str | Path | None = None, data: SiteData | None = None):
        from ..models.federated_net import client_net, shared_names

        self.site, self.spec = site, spec
        self.data = data if data is not None else load_site(site, classes=spec["classes"],
                                                            window=spec["shared"]["window"],
                                                            validation=spec["validation"])
        self.classes = list(spec["classes"])
        self.y_train = np.searchsorted(self.classes, self.data.y_train)
        self.y_test = np.searchsorted(self.classes, self.data.y_test)
        self.y_valid = np.searchsorted(self.classes, self.data.y_valid) if spec["validation"] else None
        std = float(np.std(self.data.X_train))
        self.scale = 1.0 / std if std > 0 else 1.0  # a statistic of the site's data: it stays here
        network = global_network(spec)
        self.names = shared_names(network, personal_head=spec["personal_head"])
        seed = spec["random_state"] + zlib.crc32(site["code"].encode()) % 10_000
        self.net = client_net(network, self.data.n_chans, self.data.n_times, int(spec["shared"]["n_chans"]),
                              n_times(spec), seed=seed,
                              mixing=mixing_for(spec, self.data.positions, f"client {site['code']}"))
        self.state = Path(state_dir) / f"{site['code']}.safetensors" if state_dir else None
        self.best_state = self.state.with_name(f"{site['code']}-best.safetensors") if state_dir else None
        self.best = None  # (validation score, round, model) of the best round so far
        self.rounds_done = self._restore()

    # -- state kept at the site ---------------------------------------------------------------
    def _restore(self) -> int:
        if self.state is None or not self.state.exists():
            return 0
        meta = self._load(self.state, self.net)
        if meta is None:
            return 0
        if self.best_state.exists():
            best = copy.deepcopy(self.net)
            best_meta = self._load(self.best_state, best)
            if best_meta is not None:
                self.best = (float(best_meta["valid_score"]), int(best_meta["round"]), best)
        return int(meta["round"])

    def _load(self, path: Path, net) -> dict | None:
        """Load ``path`` into ``net`` if it belongs to this federation; its metadata, else None."""
        from safetensors.torch import load_file, safe_open

        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
        if meta.get("federation") != federation_digest(self.spec):
            return None
        net.load_state_dict(load_file(str(path)))
        return meta

    def _save(self, server_round: int, net=None, path: Path | None = None, **extra: str) -> None:
        if self.state is None:
            return
        from safetensors.torch import save

        self.state.parent.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().contiguous() for k, v in (net or self.net).state_dict().items()}
        write_atomic_bytes(path or self.state, save(tensors, metadata={
            "federation": federation_digest(self.spec), "round": str(server_round), **extra}))

    # -- a round ------------------------------------------------------------------------------
    def shared(self) -> list[np.ndarray]:
        from ..models.federated_net import get_shared

        return get_shared(self.net.network, self.names)

    def fit_round(self, arrays, server_round: int, *, mu: float = 0.0) -> float:
        """Load the server's ``arrays``, train ``local_epochs``; return the last epoch's mean loss."""
        import torch

        from ..models.federated_net import set_shared, train_epochs

        if arrays is not None:
            set_shared(self.net.network, self.names, arrays)
        anchor = {f"network.{n}": torch.as_tensor(np.asarray(a)) for n, a in zip(self.names, arrays)} \
            if mu > 0 and arrays is not None else None
        net = self.spec["network"]
        loss = train_epochs(self.net, self.data.X_train * self.scale, self.y_train, epochs=self.spec["local_epochs"],
                            lr=net["lr"], weight_decay=net["weight_decay"], batch_size=net["batch_size"], mu=mu,
                            anchor=anchor, seed=self.spec["random_state"] + server_round)
        self._save(server_round)
        return loss

    def scores(self, arrays=None, *, server_round: int | None = None) -> tuple[float, dict]:
        """Test loss and scalar metrics of the model this round leaves (``arrays``: the server's shared
        parameters).

        ``score`` (over the test trials) and ``score:<subject>`` (per test
        subject) are the scored model's: with a validation share, the best
        round's so far (``selected_round``, ``valid_score``), else this
        round's. ``round_score`` is this round's model on the test trials,
        for the score-against-round curve.
        """
        import torch

        from ..models.federated_net import predict_proba, set_shared

        if arrays is not None:
            set_shared(self.net.network, self.names, arrays)
        scoring = self.spec["scoring"]
        proba = predict_proba(self.net, self.data.X_test * self.scale)
        metrics = {"client": self.site["code"], "round_score": score_probabilities(scoring, self.y_test, proba),
                   "n_test": int(len(self.y_test)), "n_train": int(len(self.y_train))}
        if self.y_valid is not None:
            valid = score_probabilities(scoring, self.y_valid,
                                        predict_proba(self.net, self.data.X_valid * self.scale))
            if server_round is not None and (self.best is None or valid > self.best[0]):
                self.best = (valid, server_round, copy.deepcopy(self.net))
                self._save(server_round, self.best[2], self.best_state, valid_score=repr(valid))
            best = self.best or (valid, server_round, self.net)
            metrics.update(valid_score=float(valid), selected_round=int(best[1] or 0))
            proba = predict_proba(best[2], self.data.X_test * self.scale)
        loss = float(torch.nn.functional.nll_loss(torch.log(torch.as_tensor(proba).clamp_min(1e-12)),
                                                  torch.as_tensor(self.y_test)))
        metrics["score"] = score_probabilities(scoring, self.y_test, proba)
        for subject in np.unique(self.data.test_subjects):
            mask = self.data.test_subjects == subject
            metrics[f"score:{subject}"] = score_probabilities(scoring, self.y_test[mask], proba[mask])
        return loss, metrics
