"""Federated training across datasets on Flower: settings, splits, the split network, and real Flower server and
client processes on 127.0.0.1 (privacy of what the server receives, a killed client, a killed server, an
unreachable server), bounded in time."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from neurodecode.errors import ConfigError, UnknownNameError
from neurodecode.evaluation import federated as fed
from neurodecode.evaluation.federated import FederatedEvaluation
from neurodecode.evaluation.federated_site import check_site, split_trials
from neurodecode.evaluation.federated_spec import check_federation, global_network
from neurodecode.evaluation.flower_server import stored_round
from neurodecode.models.federated_net import LocalInput, build_global, client_net, shared_names, train_epochs

REPO = Path(__file__).resolve().parents[1]


def site(code: str, *, channels=("C3", "Cz", "C4", "FC3"), sfreq=128.0, n_subjects=2, seed=1, **extra) -> dict:
    params = {"code": code, "n_subjects": n_subjects, "n_sessions": 1, "n_runs": 1, "n_trials": 8,
              "sfreq": sfreq, "channels": list(channels), "random_state": seed}
    return {"code": code, "dataset": {"name": "SyntheticMI", "subjects": list(range(1, n_subjects + 1)),
                                      "params": params},
            "paradigm": {"name": "LeftRightImagery"}, "split": "within-session", "test_size": 0.5, **extra}


SPEC = {"network": {"model": "ShallowFBCSPNet", "model_params": {"n_filters_time": 8, "n_filters_spat": 8},
                    "batch_size": 16},
        "classes": ["left_hand", "right_hand"], "shared": {"n_chans": 4, "sfreq": 64.0, "window": 3.0},
        "rounds": 2, "local_epochs": 1, "round_timeout": 120}


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


# -- settings and bad input -------------------------------------------------------------------------
def test_federation_settings_refused_with_one_line():
    with pytest.raises(UnknownNameError, match="did you mean rounds"):
        check_federation({**SPEC, "rouns": 3})
    with pytest.raises(ConfigError, match="fedprox needs mu > 0"):
        check_federation({**SPEC, "strategy": "fedprox"})
    with pytest.raises(ConfigError, match="min_clients=4 is larger than the 3 client"):
        check_federation({**SPEC, "min_clients": 4}, n_clients=3)
    with pytest.raises(ConfigError, match="share 1 class"):
        check_federation({**SPEC, "classes": ["left_hand"]})
    for bad in (1.0, -0.1, True, "0.2"):
        with pytest.raises(ConfigError, match="validation must be a share in \\[0, 1\\) of each site's training"):
            check_federation({**SPEC, "validation": bad})
    out = check_federation({**SPEC, "strategy": "fedprox", "mu": 0.1})
    assert (out["strategy"], out["mu"], out["fraction_fit"], out["min_clients"]) == ("fedprox", 0.1, 1.0, 2)


def test_site_settings_refused_with_one_line():
    with pytest.raises(UnknownNameError, match="did you mean split"):
        check_site({**site("A"), "splt": "within-session"})
    with pytest.raises(UnknownNameError, match="within-session"):
        check_site({**site("A"), "split": "within"})
    with pytest.raises(ConfigError, match="test_size must be between 0 and 1"):
        check_site({**site("A"), "test_size": 1.5})


def test_one_client_given_twice_and_too_few_clients():
    with pytest.raises(ConfigError, match="client A is given twice"):
        FederatedEvaluation([site("A"), site("A")], SPEC, workdir="unused")
    with pytest.raises(ConfigError, match="at least 2 clients"):
        FederatedEvaluation([site("A")], SPEC, workdir="unused")
    with pytest.raises(ConfigError, match="min_clients=3 is larger than the 2 client"):
        FederatedEvaluation([site("A"), site("B")], {**SPEC, "min_clients": 3}, workdir="unused")


def test_clients_sharing_fewer_than_two_classes_are_named(monkeypatch):
    classes = {"A": ["left_hand", "right_hand"], "B": ["feet", "right_hand"]}
    monkeypatch.setattr(fed, "site_classes", lambda s: classes[s["code"]])
    with pytest.raises(ConfigError, match=r"share 1 class name\(s\) \['right_hand'\].*client B: \['feet', "
                                          r"'right_hand'\]"):
        fed.common_classes([check_site(site("A")), check_site(site("B"))])


def test_a_network_that_cannot_be_split():
    from neurodecode.benchmark.evaluation_types.federated import global_spec
    from neurodecode.models import get_pipeline

    with pytest.raises(ConfigError, match="CSP\\+LDA cannot be split into local and global parts: it must be one "
                                          "braindecode network"):
        global_spec(get_pipeline("CSP+LDA"), "CSP+LDA")
    with pytest.raises(ConfigError, match="cannot be split into local and global parts for a shared space of 4 "
                                          "channels x 8 samples"):
        build_global("ShallowFBCSPNet", n_shared=4, n_times=8, sfreq=64.0, n_outputs=2)
    spec = global_spec(get_pipeline("ShallowConvNet"), "ShallowConvNet")
    assert spec["model"] == "ShallowConvNet" and spec["batch_size"] > 0  # an alias of ShallowFBCSPNet


# -- splits: no test trial in training ----------------------------------------------------------------
def test_splits_keep_test_trials_out_of_training():
    meta = pd.DataFrame({"subject": np.repeat([1, 2, 3, 4], 10), "session": "0", "run": "0"})
    train, test = split_trials(meta, check_site({**site("A"), "split": "within-session", "test_size": 0.3}))
    assert not set(train) & set(test) and len(train) + len(test) == 40
    for s in (1, 2, 3, 4):  # the last 3 of each session, in recording order
        idx = np.flatnonzero(meta["subject"] == s)
        assert list(test[np.isin(test, idx)]) == list(idx[-3:])
    train, test = split_trials(meta, check_site({**site("A"), "split": "cross-subject", "test_subjects": [2]}))
    assert set(meta["subject"][test]) == {2} and 2 not in set(meta["subject"][train])
    with pytest.raises(ConfigError, match=r"test_subjects \[7\] are not among its subjects"):
        split_trials(meta, check_site({**site("A"), "split": "cross-subject", "test_subjects": [7]}))


def test_a_validation_share_comes_from_training_trials_only():
    from neurodecode.evaluation.federated_site import load_site

    spec = check_site(site("A", n_subjects=3))
    whole = load_site(spec, classes=["left_hand", "right_hand"])
    held = load_site(spec, classes=["left_hand", "right_hand"], validation=0.25)
    assert np.array_equal(held.X_test, whole.X_test) and np.array_equal(held.y_test, whole.y_test)
    n_train = len(whole.X_train) // 3
    fit, valid = [], []
    for s in range(3):  # per subject and class, in recording order: the last quarter (rounded up) validates
        rows = np.arange(s * n_train, (s + 1) * n_train)
        last = np.concatenate([rows[whole.y_train[rows] == c][-int(np.ceil(0.25 * (whole.y_train[rows] == c).sum())):]
                               for c in ("left_hand", "right_hand")])
        valid += sorted(last)
        fit += sorted(set(rows) - set(last))
    assert np.array_equal(held.X_valid, whole.X_train[valid]) and np.array_equal(held.y_valid, whole.y_train[valid])
    assert np.array_equal(held.X_train, whole.X_train[fit]) and np.array_equal(held.y_train, whole.y_train[fit])
    assert len(valid) >= 6 and set(held.y_valid) == {"left_hand", "right_hand"}
    assert not ({x.tobytes() for x in held.X_valid} & {x.tobytes() for x in held.X_test})
    assert whole.X_valid.shape[0] == 0
    with pytest.raises(ConfigError, match="client A: a class of a session with \\d+ training trial\\(s\\) cannot be "
                                          "split into training and validation trials; lower validation or give"):
        load_site(spec, classes=["left_hand", "right_hand"], validation=0.9)
    shuffled = load_site({**spec, "shuffle_labels": True}, classes=["left_hand", "right_hand"], validation=0.25)
    assert len(shuffled.X_train) + len(shuffled.X_valid) == len(whole.X_train)  # a lone class's trial trains


def test_the_scored_round_is_the_one_its_site_validates_best_and_test_labels_choose_nothing():
    import dataclasses

    from neurodecode.evaluation.federated_learner import SiteLearner

    spec = check_federation({**SPEC, "validation": 0.25, "scoring": "roc_auc", "local_epochs": 2})
    a = SiteLearner(check_site(site("A")), spec)
    flipped = dataclasses.replace(a.data, y_test=np.random.default_rng(0).permutation(a.data.y_test))
    b = SiteLearner(check_site(site("A")), spec, data=flipped)
    history = {a: [], b: []}
    for r in range(1, 7):
        for learner in (a, b):
            learner.fit_round(None, r)
            history[learner].append(learner.scores(server_round=r)[1])
    valid = [h["valid_score"] for h in history[a]]
    assert np.isfinite(valid).all() and len(set(valid)) > 1  # the rounds differ: the choice is a real one
    for r, h in enumerate(history[a], start=1):
        chosen = 1 + int(np.argmax(valid[:r]))  # the best so far; a tie keeps the earlier round
        assert h["selected_round"] == chosen
        assert h["score"] == history[a][chosen - 1]["round_score"]  # that round's model, exactly
    assert [h["valid_score"] for h in history[b]] == valid  # test labels changed nothing the site chose
    assert [h["selected_round"] for h in history[b]] == [h["selected_round"] for h in history[a]]


def test_pooled_training_scores_the_round_all_sites_validate_best(tmp_path):
    sites = [site("A", seed=1), site("B", channels=("C3", "C4", "CP3", "CP4", "Cz", "Pz"), sfreq=160.0, seed=2)]
    run = FederatedEvaluation(sites, {**SPEC, "rounds": 5, "validation": 0.25, "scoring": "roc_auc"},
                              workdir=tmp_path, modes=("centralized",))
    rows = run.evaluate()
    curve = run.rounds_[run.rounds_["client"] == "A"].sort_values("round")
    valid = curve["valid_score"].tolist()
    assert curve["selected_round"].tolist() == [1 + int(np.argmax(valid[:r])) for r in range(1, 6)]
    assert np.isfinite(valid).all() and set(rows["training"]) == {"centralized"}
    assert (run.rounds_.groupby("round")["valid_score"].nunique() == 1).all()  # one pooled validation set


def test_a_rejoining_site_keeps_its_best_round(tmp_path):
    from neurodecode.evaluation.federated_learner import SiteLearner

    spec = check_federation({**SPEC, "validation": 0.25, "scoring": "roc_auc"})
    first = SiteLearner(check_site(site("A")), spec, state_dir=tmp_path)
    for r in (1, 2, 3):
        first.fit_round(None, r)
        metrics = first.scores(server_round=r)[1]
    again = SiteLearner(check_site(site("A")), spec, state_dir=tmp_path)  # a killed client's restart
    assert again.rounds_done == 3 and again.best[:2] == first.best[:2]
    assert again.scores()[1]["score"] == metrics["score"]


# -- the split network --------------------------------------------------------------------------------
def test_local_layers_map_each_cap_and_rate_into_the_shared_space():
    net = build_global("ShallowFBCSPNet", n_shared=4, n_times=192, sfreq=64.0, n_outputs=2,
                       model_params={"n_filters_time": 8, "n_filters_spat": 8})
    for n_chans, n_times in [(22, 750), (64, 480), (8, 768)]:  # 250, 160 and 256 Hz over 3 s
        model = client_net(net, n_chans, n_times, 4, 192)
        assert model(torch.zeros(3, n_chans, n_times)).shape == (3, 2)
        assert LocalInput(n_chans, n_times, 4, 192)(torch.zeros(1, n_chans, n_times)).shape == (1, 4, 192)
    names = shared_names(net)
    assert names == [n for n, _ in net.named_parameters()]  # parameters only: batch-norm statistics stay local
    assert not any("running" in n for n in names)
    own_head = shared_names(net, personal_head=True)
    assert set(names) - set(own_head) == {"final_layer.conv_classifier.weight", "final_layer.conv_classifier.bias"}


def test_fedprox_term_keeps_weights_near_the_global_ones():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 4, 192)).astype(np.float32), np.arange(32) % 2
    net = build_global("ShallowFBCSPNet", n_shared=4, n_times=192, sfreq=64.0, n_outputs=2,
                       model_params={"n_filters_time": 8, "n_filters_spat": 8})
    start = client_net(net, 4, 192, 4, 192)
    anchor = {k: v.detach().clone() for k, v in start.named_parameters() if k.startswith("network.")}

    def drift(mu):
        model = client_net(net, 4, 192, 4, 192)
        model.load_state_dict(start.state_dict())
        train_epochs(model, X, y, epochs=5, lr=1e-2, mu=mu, anchor=anchor, seed=0)
        return sum(float(((p.detach() - anchor[k]) ** 2).sum()) for k, p in model.named_parameters() if k in anchor)

    assert drift(100.0) < 0.5 * drift(0.0)


# -- real Flower processes on loopback ----------------------------------------------------------------
@pytest.fixture
def federation(tmp_path):
    sites = [site("A", seed=1), site("B", channels=("C3", "C4", "CP3", "CP4", "Cz", "Pz"), sfreq=160.0, seed=2)]
    return FederatedEvaluation(sites, SPEC, workdir=tmp_path / "fed", timeout=240)


@pytest.mark.slow
def test_a_federated_benchmark_sends_only_shared_parameters_and_scalar_metrics(tmp_path):
    """Through the benchmark type: rows of three modes on the same test trials, the leaderboard's gain,
    the report; and every message the server received holds the shared layers' parameters or scalars."""
    from neurodecode.benchmark import run_benchmark
    from neurodecode.benchmark.evaluation_types.federated import rounds_file

    sites = [site("A", seed=1), site("B", channels=("C3", "C4", "CP3", "CP4", "Cz", "Pz"), sfreq=160.0, seed=2)]
    cfg = {"name": "fed", "datasets": [s["dataset"] for s in sites], "paradigm": {"name": "LeftRightImagery"},
           "pipelines": [{"name": "ShallowConvNet", "params": {"model_params": SPEC["network"]["model_params"],
                                                              "batch_size": 16}}],
           "evaluations": [{"type": "federated", "split": "within-session", "test_size": 0.5,
                            "local": {"n_chans": 4, "sfreq": 64.0}, "rounds": 2, "round_timeout": 120,
                            "validation": 0.25}],
           "output": str(tmp_path / "out")}
    result = run_benchmark(cfg, quiet=True)
    rows = result.results
    assert result.failures.empty and set(rows["training"]) == {"local", "federated", "centralized"}
    counts = rows.groupby(["dataset", "training"])["n_test"].first().unstack()
    assert (counts.nunique(axis=1) == 1).all()  # the same test trials in every mode
    assert set(rows.groupby("dataset")["subject"].nunique()) == {2}  # within-session: every subject tests
    board = result.leaderboard.set_index(["dataset", "training"])
    assert board.loc[("A", "federated"), "federated_gain"] == pytest.approx(
        rows[rows.training == "federated"].query("dataset == 'A'")["score"].mean()
        - rows[rows.training == "local"].query("dataset == 'A'")["score"].mean())
    assert np.isnan(board.loc[("A", "local"), "federated_gain"])
    assert (tmp_path / "out" / "federated.csv").exists() and (tmp_path / "out" / rounds_file("federated",
                                                                                             "ShallowConvNet")).exists()
    assert "Federated training across datasets" in result.files["report"].read_text()

    store = tmp_path / "out" / "federated" / "federated_ShallowConvNet" / "store"
    messages = _lines(store / "messages.jsonl")
    network = global_network(check_federation({**SPEC, "network": {"model": "ShallowConvNet", "model_params":
                                                                   SPEC["network"]["model_params"]}}))
    expected = [[list(p.shape), "float32", p.numel() * 4] for _, p in network.named_parameters()]
    fits = [m for m in messages if m["kind"] == "fit"]
    assert len(fits) == 2 * 2  # both clients, every round: every message the server received
    for m in fits:
        assert m["arrays"] == expected  # exactly the shared layers: no local layer, no data, no statistic
        assert m["metrics"] == {"client": "str", "loss": "float"}
    evaluations = [m for m in messages if m["kind"] == "evaluate"]
    assert len(evaluations) == 2 * 2
    for m in evaluations:
        assert m["arrays"] == []
        assert set(m["metrics"].values()) <= {"str", "float", "int"}
        assert {k for k in m["metrics"] if not k.startswith("score:")} == {
            "client", "score", "round_score", "valid_score", "selected_round", "n_test", "n_train"}
    rounds = _lines(store / "rounds.jsonl")
    assert [r["round"] for r in rounds] == [1, 2]
    assert all(r["bytes_up"] == r["bytes_down"] == 2 * sum(e[2] for e in expected) for r in rounds)
    fed_rows = rows[rows["training"] == "federated"]
    assert (fed_rows["bytes_per_round"] == 4 * sum(e[2] for e in expected)).all()


@pytest.mark.slow
def test_a_killed_client_rejoins_and_the_rounds_go_on(tmp_path):
    from neurodecode.evaluation.federated import free_port

    sites = [site("A", seed=1), site("B", seed=2), site("C", seed=3)]
    spec = {**SPEC, "rounds": 12, "local_epochs": 30, "min_clients": 2}
    run = FederatedEvaluation(sites, spec, workdir=tmp_path / "fed", timeout=300)
    address = f"127.0.0.1:{free_port()}"
    server, clients = run.launch(address)
    store, log = run.workdir / "store", run.workdir / "logs" / "C.log"
    try:
        _wait_for(lambda: len(_lines(store / "rounds.jsonl")) >= 1, 180, "round 1")
        clients["C"].send_signal(signal.SIGKILL)  # mid-run: C is evaluating round 1 or fitting round 2
        clients["C"].wait(10)
        killed_after = len(_lines(store / "rounds.jsonl"))
        _wait_for(lambda: len(_lines(store / "rounds.jsonl")) >= killed_after + 1, 120, "a round without C")
        server.send_signal(signal.SIGSTOP)  # hold the rounds while the site restarts its client
        try:
            clients["C"] = run.client("C", address)
            _wait_for(lambda: log.read_text().count("start_client() is deprecated") == 2, 120, "C restarted")
        finally:
            server.send_signal(signal.SIGCONT)
        run.wait(server, clients)
    finally:
        for p in [server, *clients.values()]:
            if p.poll() is None:
                p.kill()
    rounds = _lines(store / "rounds.jsonl")
    assert [r["round"] for r in rounds] == list(range(1, 13)) and all(r["aggregated"] for r in rounds)
    assert sorted(rounds[0]["clients"]) == ["A", "B", "C"]  # the first round waits for every site
    without = [r for r in rounds[killed_after - 1:] if "C" not in r["clients"]]
    assert without and all(sorted(r["clients"]) == ["A", "B"] for r in without)  # the others completed them
    assert "C" in rounds[-1]["clients"]  # C rejoined in a later round, with its own local layer
    assert (run.workdir / "state" / "C.safetensors").exists()


@pytest.mark.slow
def test_a_killed_server_resumes_from_its_last_stored_round(federation):
    from neurodecode.evaluation.federated import free_port

    federation.spec = check_federation({**SPEC, "rounds": 4, "local_epochs": 30, "clients": 2})  # ~1 s rounds
    federation.modes = ("federated",)
    store = federation.workdir / "store"
    server, clients = federation.launch(f"127.0.0.1:{free_port()}")
    try:
        _wait_for(lambda: len(_lines(store / "rounds.jsonl")) >= 2, 200, "round 2")
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        for p in clients.values():  # the clients lose their server: exit 2 with one line, in bounded time
            assert p.wait(90) == 2
    finally:
        for p in [server, *clients.values()]:
            if p.poll() is None:
                p.kill()
    done, arrays = stored_round(store, federation.spec)
    assert 1 <= done < 4 and arrays is not None  # the last complete round: stored and evaluated
    rows = federation.evaluate()  # a rerun: only the rounds after the stored one
    rounds = _lines(store / "rounds.jsonl")
    assert [r["round"] for r in rounds] == list(range(1, 5))
    log = (federation.workdir / "logs" / "server.log").read_text()
    assert f"num_rounds={4 - done}" in log
    assert set(rows[rows["training"] == "federated"]["dataset"]) == {"A", "B"}


def test_an_unreachable_server_gives_one_line_and_exit_2(tmp_path):
    from neurodecode.evaluation.federated import free_port

    path = tmp_path / "site.yml"
    path.write_text(json.dumps(site("A")))
    address = f"127.0.0.1:{free_port()}"
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "neurodecode.cli", "federated-client", "--data", str(path),
                           "--server", address, "--wait", "2", "--state", str(tmp_path / "s")],
                          capture_output=True, text=True, timeout=120, env={**os.environ})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"neurodecode: error: client A: no federation server answered at {address} within 2 s; start the "
        "server first, or check the address and port"]
    assert time.monotonic() - t0 < 60


def test_one_unit_holds_every_client():
    from neurodecode.benchmark.config import load_config
    from neurodecode.benchmark.tasks import build_tasks, build_units

    cfg = load_config({"name": "f", "datasets": [site("A")["dataset"], site("B")["dataset"]],
                       "paradigm": {"name": "LeftRightImagery"}, "pipelines": ["ShallowConvNet", "EEGNet-8,2"],
                       "evaluations": [{"type": "federated", "split": "within-session"}], "output": "unused"})
    units = build_units(build_tasks(cfg))
    assert len(units) == 1 and len(units[0].tasks) == 2 * 2 * 2
    assert {t.dataset["code"] for t in units[0].tasks} == {"A", "B"}


def test_benchmark_settings_refused_before_any_work():
    from neurodecode.benchmark.config import load_config

    base = {"name": "f", "datasets": [site("A")["dataset"], site("B")["dataset"]],
            "paradigm": {"name": "LeftRightImagery"}, "pipelines": ["ShallowConvNet"], "output": "unused"}
    with pytest.raises(ConfigError, match="min_clients=3 is larger than the 2 clients"):
        load_config({**base, "evaluations": [{"type": "federated", "min_clients": 3}]})
    with pytest.raises(UnknownNameError, match="did you mean B"):
        load_config({**base, "evaluations": [{"type": "federated", "clients": {"BB": {"resample": 128}}}]})
    with pytest.raises(ConfigError, match="client A is given twice"):
        load_config({**base, "datasets": [site("A")["dataset"]] * 2, "evaluations": [{"type": "federated"}]})
    with pytest.raises(ConfigError, match=r"^benchmark: evaluation federated: validation must be a share in \[0, 1\)"):
        load_config({**base, "evaluations": [{"type": "federated", "validation": 1.5}]})


@pytest.mark.slow
def test_three_sites_and_a_coordinator_through_the_cli(tmp_path):
    """The README's real-site setup on loopback: ``federated-server`` and three ``federated-client``."""
    import yaml

    from neurodecode.evaluation.federated import free_port

    federation = {"network": "ShallowConvNet", "classes": ["left_hand", "right_hand"], "scoring": "roc_auc",
                  "shared": {"n_chans": 4, "sfreq": 64.0, "window": 3.0}, "rounds": 2, "local_epochs": 1,
                  "clients": 3, "min_clients": 2, "round_timeout": 120}
    (tmp_path / "federation.yml").write_text(yaml.safe_dump(federation))
    address = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "neurodecode.cli"]
    server = subprocess.Popen([*cli, "federated-server", str(tmp_path / "federation.yml"), "--address", address,
                               "--store", str(tmp_path / "store")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    clients = []
    for code, seed in [("lab-a", 1), ("lab-b", 2), ("lab-c", 3)]:
        (tmp_path / f"{code}.yml").write_text(yaml.safe_dump(site(code, seed=seed)))
        clients.append(subprocess.Popen([*cli, "federated-client", "--data", str(tmp_path / f"{code}.yml"),
                                         "--server", address, "--state", str(tmp_path / code)], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        out, err = server.communicate(timeout=300)
        results = [c.communicate(timeout=60) for c in clients]
    finally:
        for p in [server, *clients]:
            if p.poll() is None:
                p.kill()
    assert server.returncode == 0, err
    assert out.strip() == f"federation: 2 round(s) run, 2 in all; rounds, metrics and weights in {tmp_path / 'store'}"
    for code, (c_out, c_err), proc in zip(["lab-a", "lab-b", "lab-c"], results, clients):
        assert proc.returncode == 0, c_err
        assert c_out.strip() == f"client {code}: the federation at {address} ended; its model is in {tmp_path / code}"
    rounds = _lines(tmp_path / "store" / "rounds.jsonl")
    assert [sorted(r["clients"]) for r in rounds] == [["lab-a", "lab-b", "lab-c"]] * 2
    scores = [e for e in _lines(tmp_path / "store" / "evaluations.jsonl") if e["round"] == 2]
    assert sorted(e["client"] for e in scores) == ["lab-a", "lab-b", "lab-c"]
    assert all(0.0 <= e["score"] <= 1.0 for e in scores)


def test_a_client_whose_trials_cannot_feed_the_window_is_named():
    from neurodecode.benchmark.evaluation_types.federated import federation_plan

    datasets = [{**site(c)["dataset"], "code": c} for c in ("A", "B")]
    settings = {"clients": {}, "split": "within-session", "test_size": 0.5, "shuffle_labels": False,
                "local": {"n_chans": 4, "sfreq": 64.0}, "personal_head": False, "rounds": 1, "local_epochs": 1,
                "strategy": "fedavg", "mu": 0.0, "fraction_fit": 1.0, "min_clients": 2, "round_timeout": 60,
                "validation": 0.0}
    with pytest.raises(ConfigError, match="client A's trials last 3 s and cannot feed the 5 s windows"):
        federation_plan(datasets, {"name": "LeftRightImagery", "params": {"tmax": 5.0}}, {"steps": []},
                        {"settings": settings}, 42)
    plan = federation_plan(datasets, {"name": "LeftRightImagery", "params": {}}, {"steps": []},
                           {"settings": settings}, 42)
    assert plan["spec"]["shared"] == {"n_chans": 4, "sfreq": 64.0, "window": 3.0}
    assert plan["spec"]["classes"] == ["left_hand", "right_hand"] and plan["spec"]["scoring"] == "roc_auc"


@pytest.mark.parametrize("model", ["EEGNet-8,2", "Deep4Net", "EEGConformer", "ATCNet"])
def test_any_braindecode_network_serves_as_the_global_part(model):
    net = build_global(model, n_shared=8, n_times=384, sfreq=128.0, n_outputs=3)
    for n_chans, n_times in [(22, 750), (64, 480)]:
        assert client_net(net, n_chans, n_times, 8, 384)(torch.zeros(2, n_chans, n_times)).shape == (2, 3)
    names = shared_names(net, personal_head=True)
    assert names and not any(n.startswith("final_layer.") for n in names)
    assert len(names) < len(shared_names(net))


def test_named_shared_channels_start_every_local_layer_from_sensor_positions():
    from neurodecode.datasets.montage import standard_positions
    from neurodecode.evaluation.federated_spec import mixing_for

    spec = check_federation({**SPEC, "shared": {"channels": ["C3", "Cz", "C4"], "sfreq": 64.0, "window": 3.0}})
    assert spec["shared"]["n_chans"] == 3
    pos = standard_positions()
    for cap in (["FC3", "C3", "CP3", "Cz", "C4", "CP4"], ["C4", "Pz", "C3", "Cz", "O1", "Fz", "T7", "T8"]):
        w = mixing_for(spec, np.array([pos[c] for c in cap]), "client A")
        assert w.shape == (3, len(cap)) and np.allclose(w.sum(1), 1.0)
        assert [cap[i] for i in w.argmax(1)] == ["C3", "Cz", "C4"]  # each virtual channel sits on its electrode
    with pytest.raises(ConfigError, match="client A has channels without positions"):
        mixing_for(spec, np.full((4, 3), np.nan), "client A")
    with pytest.raises(UnknownNameError, match="did you mean C3"):
        check_federation({**SPEC, "shared": {"channels": ["C33"], "sfreq": 64.0, "window": 3.0}})


def test_a_round_counts_as_stored_once_every_client_that_trained_in_it_is_evaluated(tmp_path):
    from safetensors.numpy import save

    from neurodecode.evaluation.federated_spec import federation_digest
    from neurodecode.evaluation.flower_server import STORE_FILES, _truncate, read_records

    spec = check_federation(SPEC)
    (tmp_path / "federation.json").write_text(json.dumps({"digest": federation_digest(spec)}))
    for r in (1, 2):
        (tmp_path / f"round-{r:04d}.safetensors").write_bytes(save({"p0000": np.full(3, r, np.float32)}))
    lines = {"rounds.jsonl": [{"round": r, "clients": ["A", "B"]} for r in (1, 2)],
             "evaluations.jsonl": [{"round": 1, "client": "A"}, {"round": 1, "client": "B"},
                                   {"round": 2, "client": "A"}],  # killed while B evaluated round 2
             "messages.jsonl": [{"round": r} for r in (1, 2)]}
    for name, records in lines.items():
        (tmp_path / name).write_text("".join(json.dumps(x) + "\n" for x in records) + '{"round": 3, "cl')
    done, arrays = stored_round(tmp_path, spec)
    assert done == 1 and arrays[0].tolist() == [1.0, 1.0, 1.0]
    _truncate(tmp_path, done)
    assert all({r["round"] for r in read_records(tmp_path / name)} == {1} for name in STORE_FILES)
    assert sorted(p.name for p in tmp_path.glob("round-*")) == ["round-0001.safetensors"]
    assert stored_round(tmp_path, check_federation({**SPEC, "rounds": 3})) == (0, None)  # another federation
