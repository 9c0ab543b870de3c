"""Federated training across datasets as a benchmark type: every dataset a client, one unit for the whole
federation, local-only, federated and centralized rows on the same test subjects, the federated gain with
MOABB's paired test, and score by mode and against round in the report."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ...errors import ConfigError, UnknownNameError
from ..protocol import GROUP, EvaluationType, ReportContext, Section, Session, board

__all__ = ["FederatedType", "federated_gains", "SETTINGS"]

#: Settings of a federated evaluation.
SETTINGS = ("clients", "split", "test_size", "local", "personal_head", "strategy", "mu", "rounds", "local_epochs",
            "fraction_fit", "min_clients", "round_timeout", "validation", "shuffle_labels", "modes")
#: What each client may set for itself (``clients: {CODE: {...}}``).
CLIENT_SETTINGS = ("resample", "recipe", "split", "test_size", "test_subjects")
_GAIN = ("federated_gain", "p_federated")
_COSTS = ("bytes_per_round", "round_time", "time")


class FederatedType(EvaluationType):
    """``type: federated``: the benchmark's datasets as clients of one federation on Flower
    (:class:`~neurodecode.evaluation.federated.FederatedEvaluation`).

    Examples
    --------
    >>> from neurodecode.benchmark import evaluation_type
    >>> evaluation_type("federated").group_columns
    ('training',)
    """

    name = "federated"
    parameters = SETTINGS
    columns = ("bytes_per_round", "round_time", "time")
    group_columns = ("training",)
    groups_subjects = True
    reads_task_interval = False

    def unit_holds_every_dataset(self, evaluation):
        return True  # one federation serves every client

    def pool(self, evaluation, datasets):
        return tuple(datasets)

    def parse(self, settings, *, where, datasets):
        from ...evaluation.federated import MODES
        from ...evaluation.federated_spec import STRATEGIES

        spec = super().parse(settings, where=where, datasets=datasets)
        label = f"{where}: evaluation {self.name}"
        codes = [d["code"] for d in datasets]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ConfigError(f"{label}: client {twice[0]} is given twice; give each dataset once, or give the "
                              "copies their own code (params: {code: ...})")
        if len(codes) < 2:
            raise ConfigError(f"{label}: a federation needs at least 2 clients (datasets), got {codes}")
        clients = spec.get("clients") or {}
        if not isinstance(clients, dict):
            raise ConfigError(f"{label}: clients must map dataset codes to their settings, got "
                              f"{type(clients).__name__}")
        for code, own in clients.items():
            if code not in codes:
                raise UnknownNameError(f"client in {label}:", code, codes)
            for key in own or {}:
                if key not in CLIENT_SETTINGS:
                    raise UnknownNameError(f"setting of client {code} in {label}:", key, CLIENT_SETTINGS)
        local = {"n_chans": 16, "sfreq": 128.0, "channels": None, **(spec.get("local") or {})}
        unknown = set(local) - {"n_chans", "sfreq", "channels"}
        if unknown:
            raise UnknownNameError(f"local layer setting in {label}:", sorted(unknown)[0],
                                   ("n_chans", "sfreq", "channels"))
        if local["channels"] is not None:
            local["n_chans"] = len(local["channels"])
        out = {"clients": clients, "split": "cross-subject", "test_size": 0.3, "personal_head": False,
               "strategy": "fedavg", "mu": 0.0, "rounds": 10, "local_epochs": 1, "fraction_fit": 1.0,
               "min_clients": 2, "round_timeout": 600.0, "validation": 0.0, "shuffle_labels": False,
               "modes": list(MODES), **spec, "local": local}
        if out["strategy"] not in STRATEGIES:
            raise UnknownNameError(f"strategy in {label}:", out["strategy"], STRATEGIES)
        bad = [m for m in out["modes"] if m not in MODES]
        if bad:
            raise UnknownNameError(f"mode in {label}:", bad[0], MODES)
        if out["min_clients"] > len(codes):
            raise ConfigError(f"{label}: min_clients={out['min_clients']} is larger than the {len(codes)} clients "
                              f"({', '.join(codes)}); lower min_clients or add datasets")
        return out

    def check(self, cfg, evaluation, *, paradigm, datasets, where):
        """Classes every client has, a network that splits, windows each client can feed."""
        label = evaluation["label"]
        try:
            plan = federation_plan(cfg.datasets, cfg.paradigm, cfg.recipe.to_dict(), evaluation, cfg.random_state)
            network_spec(cfg.pipelines, plan["spec"])
        except ConfigError as exc:
            raise ConfigError(f"{where}: evaluation {label}: {str(exc).removeprefix('federated: ')}") from None

    def start(self, task, scratch):
        return _FederationSession(task)

    def chance(self, paradigm, dataset):
        return 0.5  # the rows carry their own

    def leaderboard(self, rows):
        out = board(rows, [*GROUP, *self.group_columns], self.columns)
        gains = federated_gains(rows)
        if out.empty or gains.empty:
            return out
        gains = gains.drop_duplicates(GROUP)[[*GROUP, *_GAIN]].assign(training="federated")
        return out.merge(gains, on=[*GROUP, "training"], how="left")

    def comparable(self, rows):
        """Each training mode as an evaluation of its own."""
        return rows.assign(evaluation=rows["evaluation"] + " | " + rows["training"])

    def tables(self, rows, every):
        return {"federated": federated_gains(rows)}

    def report(self, rows, context: ReportContext):
        from ..figures import federated_figure, file_name

        figures = []
        for (evaluation, pipeline), g in rows.groupby(["evaluation", "pipeline"], sort=False):
            path = Path(context.output) / rounds_file(evaluation, pipeline)
            curves = pd.read_parquet(path) if path.exists() else pd.DataFrame()
            figure = Path(context.figures) / f"federated_{file_name(evaluation)}_{file_name(pipeline)}.png"
            figures.append((f"Score by mode per client, and against round: {pipeline} ({evaluation})",
                            federated_figure(g, curves, f"{pipeline}, {evaluation}", figure)))
        gains = context.tables.get("federated", pd.DataFrame())
        summary = gains.drop_duplicates(GROUP)[[*GROUP, "n_subjects", "federated_mean", "local_mean",
                                                "federated_gain", "p_federated", "test"]] if len(gains) else gains
        costs = rows.groupby(["evaluation", "pipeline", "training"], sort=False)[
            [c for c in _COSTS if c in rows]].mean().reset_index()
        text = ["Each dataset is a client holding its own test subjects. `local`: the client's model trained on "
                "its own data alone; `federated`: Flower server and client processes on 127.0.0.1, only the shared "
                "layers' parameters and scalar metrics sent; `centralized`: every client's training trials pooled "
                "on the channels they share (the upper bound). `federated_gain`: mean per-subject federated minus "
                "local-only; `p_federated`: MOABB's one-sided paired test across that client's test subjects. "
                "`time` is each mode's wall time (s), `bytes_per_round` what the server sent and received per "
                "round."]
        return [Section("Federated training across datasets", text,
                        [("Federated gain over local-only, per client", summary), ("Cost by mode", costs)], figures)]


def rounds_file(evaluation: str, pipeline: str) -> str:
    """Where the score-against-round table of one federation goes, relative to the output folder."""
    from ..figures import file_name

    return f"federated/{file_name(evaluation)}_{file_name(pipeline)}_rounds.parquet"


def federation_plan(datasets: list[dict], paradigm_spec: dict, recipe: dict, evaluation: dict,
                    random_state: int) -> dict:
    """The site specs of every client and the federation spec without its network (checked, nothing loaded)."""
    from ...datasets import get_dataset
    from ...evaluation.federated import common_classes
    from ...evaluation.federated_site import check_site
    from ...moabb_api import make_paradigm

    settings = evaluation["settings"]
    sites = []
    for d in datasets:
        own = dict(settings["clients"].get(d["code"]) or {})
        site = {"code": d["code"], "dataset": {"name": d["name"], "subjects": d["subjects"], "params": d["params"]},
                "paradigm": {"name": paradigm_spec["name"], "params": dict(paradigm_spec.get("params") or {})},
                "recipe": own.pop("recipe", recipe if recipe.get("steps") else None),
                "split": settings["split"], "test_size": settings["test_size"],
                "shuffle_labels": settings["shuffle_labels"], "random_state": random_state, **own}
        sites.append(check_site(site, where=f"client {d['code']}"))
    paradigm = make_paradigm(paradigm_spec["name"], paradigm_spec.get("params") or {})
    tmin = float(getattr(paradigm, "tmin", 0.0) or 0.0)
    lengths = {d["code"]: float(ds.interval[1] - ds.interval[0]) - tmin for d in datasets
               for ds in [get_dataset(d["name"], subjects=d["subjects"], **d["params"])]}
    window = (paradigm.tmax - tmin) if getattr(paradigm, "tmax", None) is not None else min(lengths.values())
    short = {code: length for code, length in lengths.items() if length + 1e-9 < window}
    if short:
        code, length = next(iter(short.items()))
        raise ConfigError(f"federated: client {code}'s trials last {length:g} s and cannot feed the {window:g} s "
                          "windows of its local layer; lower the paradigm's tmax or leave the client out")
    settings_local = settings["local"]
    spec = {"classes": common_classes(sites), "scoring": paradigm.scoring,
            "shared": {"n_chans": int(settings_local["n_chans"]), "sfreq": float(settings_local["sfreq"]),
                       "window": float(window), **({"channels": list(settings_local["channels"])}
                                                   if settings_local.get("channels") else {})},
            **{k: settings[k] for k in ("personal_head", "rounds", "local_epochs", "strategy", "mu", "fraction_fit",
                                        "min_clients", "round_timeout", "validation")},
            "random_state": random_state}
    return {"sites": sites, "spec": spec}


def network_spec(pipelines: list[dict], spec: dict) -> list[dict]:
    """Each pipeline's network as the federation's global part (one line for a pipeline that is not one network)."""
    from ...evaluation.federated_spec import check_federation, global_network
    from ..build import build_pipeline

    out = []
    for entry in pipelines:
        out.append(global_spec(build_pipeline(entry, None), entry["name"]))
        global_network(check_federation({**spec, "network": out[-1]}, where="federated"))  # splits, fits the window
    return out


def global_spec(pipeline, name: str) -> dict:
    """The network settings of a pipeline that is one braindecode network (``DeepClassifier``)."""
    steps = getattr(pipeline, "steps", None)
    final = steps[-1][1] if steps else pipeline
    params = final.get_params(deep=False) if hasattr(final, "get_params") else {}
    if (steps and len(steps) > 1) or "model" not in params or not isinstance(params["model"], str):
        raise ConfigError(f"federated: pipeline {name} cannot be split into local and global parts: it must be one "
                          "braindecode network (a DeepClassifier pipeline such as ShallowConvNet or EEGNet-8,2)")
    return {"model": params["model"], "model_params": dict(params.get("model_params") or {}),
            "lr": float(params["lr"]), "weight_decay": float(params["weight_decay"]),
            "batch_size": int(params["batch_size"])}


class _FederationSession(Session):
    """One federation per pipeline, run at its first task; every client's rows kept for the others."""

    def __init__(self, task):
        self.plan = federation_plan(list(task.pool), task.paradigm, task.recipe, task.evaluation, task.random_state)
        self.sfreq = None
        self.chance = float("nan")
        self._rows: dict = {}

    def evaluate(self, task, pipeline):
        from ...evaluation.federated import FederatedEvaluation
        from ..figures import file_name

        key = task.pipeline["digest"]
        files = {}
        if key not in self._rows:
            name, label = task.pipeline["name"], task.evaluation["label"]
            spec = {**self.plan["spec"], "network": global_spec(pipeline, name)}
            workdir = Path(task.output) / "federated" / f"{file_name(label)}_{file_name(name)}"
            run = FederatedEvaluation(self.plan["sites"], spec, workdir=workdir,
                                      modes=task.evaluation["settings"]["modes"])
            self._rows = {key: run.evaluate().to_dict("records")}
            files = {rounds_file(label, name): run.rounds_}
        rows = [r for r in self._rows[key] if r["dataset"] == task.dataset["code"]
                and str(r["subject"]) == str(task.subject)]
        return rows, files


def federated_gains(rows: pd.DataFrame) -> pd.DataFrame:
    """Federated minus local-only, per client (dataset), pipeline and test subject, with MOABB's one-sided
    paired test that federated is better.

    Returns
    -------
    table : pandas.DataFrame
        ``dataset``, ``evaluation``, ``pipeline``, ``subject``, ``federated``,
        ``local``, ``difference``, and per client ``federated_mean``,
        ``local_mean``, ``federated_gain``, ``p_federated``, ``test``,
        ``n_subjects``.
    """
    from ..paired import paired_effect

    return paired_effect(rows, [], ("federated", "local"),
                         {"a": "federated", "b": "local", "mean_a": "federated_mean", "mean_b": "local_mean",
                          "effect": "federated_gain", "p": "p_federated"})
