"""A site's Flower client: the federation's instructions in, shared parameters and scalar metrics out.

Flower's ``NumPyClient`` around a :class:`~neurodecode.evaluation.federated_learner.SiteLearner`,
connected with Flower's ``start_client`` (gRPC; deprecated by Flower since
1.13 in favour of SuperNode, kept for the same reason as the server's). The
site reads its own data when the first instruction arrives (the window and
classes come from the federation spec the server sends).

An unreachable server gives :class:`~neurodecode.errors.StreamError` after
``wait`` seconds, never a hang.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import StreamError
from .federated_site import check_site
from .federated_spec import federation_digest

__all__ = ["run_client", "reachable"]


def _client_class():
    from flwr.client import NumPyClient

    class SiteClient(NumPyClient):
        """A site's client (see the module docstring)."""

        def __init__(self, site: dict, state_dir):
            self.site, self.state_dir, self.learner = site, state_dir, None

        def _ready(self, config):
            from .federated_learner import SiteLearner

            spec = json.loads(config["federation"])
            if self.learner is None or federation_digest(self.learner.spec) != federation_digest(spec):
                self.learner = SiteLearner(self.site, spec, state_dir=self.state_dir)
            return self.learner

        def get_parameters(self, config):
            return [] if self.learner is None else self.learner.shared()

        def fit(self, parameters, config):
            learner = self._ready(config)
            loss = learner.fit_round(parameters, int(config["round"]), mu=float(config.get("proximal_mu", 0.0)))
            return learner.shared(), int(len(learner.y_train)), {"client": self.site["code"], "loss": loss}

        def evaluate(self, parameters, config):
            learner = self._ready(config)
            loss, metrics = learner.scores(parameters, server_round=int(config["round"]))
            return loss, metrics["n_test"], metrics

    return SiteClient



def reachable(address: str, wait: float) -> bool:
    """Whether something accepts TCP connections at ``host:port`` within ``wait`` seconds (Flower's
    gRPC client gives up at once on a refused connection; a site may start before its server)."""
    import socket
    import time

    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + wait
    while True:
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=max(0.1, min(2.0, wait))):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.25)


def run_client(site: dict, *, server: str, state_dir: str | Path, wait: float = 60.0) -> None:
    """Serve one site until the server ends the federation.

    Parameters
    ----------
    site : dict
        A site spec (:mod:`~neurodecode.evaluation.federated_site`).
    server : str
        ``host:port`` of the federation's server.
    state_dir : path
        Where the site keeps its model between rounds.
    wait : float
        Seconds to keep trying to reach the server before giving up.
    """
    site = check_site(site, where=f"client {site.get('code', '?')}" if isinstance(site, dict) else "client")
    if not reachable(server, wait):
        raise StreamError(f"client {site['code']}: no federation server answered at {server} within {wait:g} s; "
                          "start the server first, or check the address and port")
    from flwr.client import start_client

    client = _client_class()(site, Path(state_dir)).to_client()
    try:
        start_client(server_address=server, client=client, insecure=True, max_wait_time=wait)
    except SystemExit as exc:  # Flower exits when it gives up connecting
        if exc.code not in (0, None):
            raise StreamError(f"client {site['code']}: no federation server answered at {server} within {wait:g} s; "
                              "start the server first, or check the address and port") from None
    except Exception as exc:  # noqa: BLE001  (gRPC's errors on a refused or dropped connection)
        raise StreamError(f"client {site['code']}: the connection to {server} failed "
                          f"({type(exc).__name__}); check that the server runs and the port is reachable") from None


def main(argv=None) -> int:
    """``python -m neurodecode.evaluation.flower_client SITE.json SERVER STATE_DIR`` (what the benchmark starts)."""
    import logging
    import os
    import sys

    os.environ["FLWR_TELEMETRY_ENABLED"] = "0"  # this process's own setting, before Flower is imported
    args = sys.argv[1:] if argv is None else argv
    logging.getLogger("flwr").setLevel(logging.WARNING)
    try:
        run_client(json.loads(Path(args[0]).read_text()), server=args[1], state_dir=args[2])
    except StreamError as exc:
        print(f"neurodecode: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
