"""Command line: ``neurodecode <command>``.

Heavy libraries are imported inside the commands, so ``neurodecode --help``
stays fast.
"""
from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _cmd_datasets(args) -> int:
    import pandas as pd

    from .datasets import list_datasets

    table = list_datasets(local=args.local)
    if table.empty:
        print("no dataset has subjects on disk" if args.local else "no dataset known")
        return 0
    with pd.option_context("display.max_rows", None, "display.width", 200):
        print(table.to_string(index=False))
    return 0


def _cmd_demo(args) -> int:
    """Within-session CSP+LDA on synthetic motor imagery, through MOABB."""
    import warnings

    from mne.decoding import CSP
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.pipeline import make_pipeline

    from .config import get_config
    from .datasets import SyntheticMI
    from .moabb_api import evaluation_class, make_paradigm

    cfg = get_config()
    dataset = SyntheticMI(n_subjects=args.subjects, n_sessions=1, snr=args.snr, random_state=args.random_state)
    evaluation = evaluation_class("within-session")(
        paradigm=make_paradigm("LeftRightImagery"), datasets=[dataset], overwrite=True, random_state=args.random_state,
        hdf5_path=str(cfg.results_dir / "demo"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = evaluation.process({"CSP+LDA": make_pipeline(CSP(n_components=6, log=True),
                                                               LinearDiscriminantAnalysis())})
    print(results[["dataset", "subject", "session", "pipeline", "score", "samples"]].to_string(index=False))
    print(f"mean ROC-AUC {results['score'].mean():.3f} over {len(results)} sessions")
    return 0


def _cmd_cache(args) -> int:
    from .preprocessing import RunCache

    cache = RunCache()
    if args.action == "clear":
        removed = cache.clear(dataset=args.dataset, digest=args.digest)
        print(f"removed {removed} cached run(s) from {cache.root}")
        return 0
    table = cache.select(dataset=args.dataset, digest=args.digest)
    print(f"cache: {cache.root}")
    if table.empty:
        print("empty")
        return 0
    summary = table.groupby(["dataset", "digest"]).agg(subjects=("subject", "nunique"),
                                                       runs=("run", "size"),
                                                       bytes=("bytes", "sum")).reset_index()
    summary["size"] = summary.pop("bytes").map(_human_bytes)
    print(summary.to_string(index=False))
    print(f"total {_human_bytes(int(table['bytes'].sum()))} in {len(table)} run(s)"
          + (f"; {len(cache.leftovers())} unfinished write(s)" if cache.leftovers() else ""))
    return 0


def _human_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _cmd_audit(args) -> int:
    from pathlib import Path

    from .config import get_config
    from .datasets import available_subjects, get_dataset
    from .errors import ConfigError
    from .preprocessing.audit import audit_dataset
    from .utils import atomic_write

    cfg = get_config()
    if not args.anomaly and (args.sliding or args.recipe or args.folds != 5 or args.epochs != 30
                             or args.reference != "pooled"):
        raise ConfigError("--sliding, --recipe, --folds, --epochs and --reference set the anomaly audit; "
                          "add --anomaly")
    dataset = get_dataset(args.dataset)
    subjects = args.subjects or available_subjects(dataset)
    if not subjects:
        raise ConfigError(f"{dataset.code}: no subject on disk under {cfg.data_root}; "
                          "name subjects with --subjects to download them")
    if args.anomaly:
        return _anomaly_audit(args, dataset, subjects, cfg)
    table = audit_dataset(dataset, subjects=subjects)
    out = Path(args.out) if args.out else cfg.results_dir / "audit" / f"{dataset.code}.csv"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(out) as tmp:
            table.to_csv(tmp, index=False)
    except OSError as exc:
        raise ConfigError(f"{out}: cannot write the audit table ({exc.strerror})") from None
    flagged = {"NaN": table["n_nan"] > 0, "flat": table["n_flat"] > 0,
               "clipped": table["n_clipped"] > 0, "noisy": table["n_noisy"] > 0,
               "events out of range": table["events_out_of_range"] > 0,
               "duplicate": table["duplicate_of"] != ""}
    print(f"{dataset.code}: {len(table)} run(s) of {table['subject'].nunique()} subject(s); "
          f"line noise {table['line_noise_db'].median():.1f} dB at "
          f"{table['line_freq'].iloc[0]:g} Hz (median)")
    for what, mask in flagged.items():
        if mask.any():
            runs = ", ".join(f"{r.subject}/{r.session}/{r.run}" for r in table[mask].itertuples())
            print(f"  {what} channels/runs in {int(mask.sum())} run(s): {runs}")
    for row in table[flagged["duplicate"]].itertuples():
        print(f"  subject {row.subject} session {row.session} run {row.run} duplicates "
              f"{row.duplicate_of} (r={row.duplicate_r:.3f}, shifted {row.duplicate_lag_s:+.1f} s)")
    print(f"table: {out}")
    return 0


def _anomaly_audit(args, dataset, subjects, cfg) -> int:
    from pathlib import Path

    from .errors import ConfigError
    from .evaluation.anomaly import anomaly_audit
    from .evaluation.anomaly_report import save_audit
    from .preprocessing import Recipe

    if args.folds < 2:
        raise ConfigError(f"--folds must be at least 2, got {args.folds}")
    if args.epochs < 0:
        raise ConfigError(f"--epochs must be 0 or more, got {args.epochs}")
    sliding = None
    if args.sliding:
        length, step = args.sliding
        if length <= 0 or step <= 0:
            raise ConfigError(f"--sliding LENGTH STEP must be positive seconds, got {length:g} {step:g}")
        sliding = (length, step)
    out = Path(args.out) if args.out else cfg.results_dir / "audit" / f"{dataset.code}-anomaly"
    recipe = Recipe.from_yaml(args.recipe) if args.recipe else Recipe([{"bandpass": {"l_freq": 1.0, "h_freq": 40.0}}])
    audit = anomaly_audit(dataset, subjects, recipe=recipe, sliding=sliding, folds=args.folds,
                          vae_params={"epochs": args.epochs}, reference=args.reference,
                          random_state=args.random_state, top=args.top)
    try:
        paths = save_audit(audit, out)
    except OSError as exc:
        raise ConfigError(f"{out}: cannot write the anomaly audit ({exc.strerror})") from None
    table = audit.table
    print(f"{dataset.code}: {len(table)} trials of {table['subject'].nunique()} subject(s), {args.folds} "
          f"cross-fitted folds by {table['grouping'].iloc[0]}, {args.reference} reference")
    for det in audit.detectors:
        print(f"  {det}: {int(table[f'{det}_flag'].sum())} trial(s) flagged at alpha 0.05")
    for r in table.nsmallest(min(5, len(table)), "rank").itertuples():
        print(f"  rank {r.rank}: subject {r.subject} session {r.session} run {r.run} at {r.onset:.1f} s, "
              f"score {r.anomaly_score:.3g}, top channel {r.top_channel}")
    print(f"table: {paths['anomalies']}\nreport: {paths['report']}")
    return 0


def _cmd_info(args) -> int:
    from .environment import sys_info

    text, ok = sys_info()
    print(text)
    return 0 if ok else 2


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors are one line (argparse prints the usage, then the error)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


class _Version(argparse.Action):
    """``--version``: computed when asked for, so other commands never run git."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="print the version (and git commit) and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from .environment import version_line

        print(version_line())
        parser.exit()


def _log_to_stderr(quiet: bool) -> None:
    import logging

    logger = logging.getLogger("neurodecode.benchmark")
    for old in list(logger.handlers):  # the stderr of this call, not of an earlier one
        logger.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.WARNING if quiet else logging.INFO)


def _run(config, args) -> int:
    import pandas as pd

    from .benchmark import run_benchmark

    _log_to_stderr(args.quiet)
    result = run_benchmark(config, output=args.output, overwrite=args.overwrite, engine=args.engine,
                           n_jobs=args.n_jobs, scheduler=args.scheduler, quiet=args.quiet)
    board = result.leaderboard
    cols = [c for c in ("dataset", "evaluation", "pipeline", "shots", "training", "data_length", "score_mean",
                        "score_std", "n_subjects", "rank", "score_minus_chance", "nmcc", "accuracy", "itr",
                        "fa_per_min", "detection_rate", "latency_mean", "idle_fpr", "scratch_mean", "transfer_effect",
                        "p_transfer", "two_stage_gain", "p_two_stage", "federated_gain", "p_federated",
                        "bytes_per_round", "round_time")
            if c in board and not board[c].isna().all()]  # columns no evaluation of this run fills stay out
    if result.leaderboard.empty:
        print("no task succeeded: nothing to rank")
    else:
        with pd.option_context("display.max_rows", None, "display.width", 200,
                               "display.float_format", "{:.3f}".format):
            print(result.leaderboard[cols].to_string(index=False))
    folder = result.files["leaderboard"].parent
    print(f"{result.n_run} task(s) run, {result.n_skipped} already done, {len(result.failures)} failed; "
          f"{result.seconds:.0f} s; outputs in {folder}")
    return 1 if len(result.failures) else 0


def _cmd_benchmark(args) -> int:
    return _run(args.config, args)


def _cmd_quickstart(args) -> int:
    from .benchmark.quickstart import quickstart_config

    return _run(quickstart_config(args.dataset), args)


def _log_lines(name: str = "neurodecode.online", quiet: bool = False) -> None:
    """Messages of logger ``name`` to stderr, one plain line each."""
    import logging

    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(logging.WARNING if quiet else logging.INFO)


def _cmd_train(args) -> int:
    from .online import train_model

    path = train_model(args.config, dataset=args.dataset, subject=args.subject, pipeline=args.pipeline,
                       out=args.out, runs=args.runs, evaluation=args.evaluation)
    print(f"model: {path}")
    return 0


def _cmd_replay(args) -> int:
    from .environment import require

    require("mne_lsl")  # liblsl loads before the recording is read
    from .online.lsl import play, recording

    _log_lines()
    raw = recording(args.file, dataset=args.dataset, subject=args.subject, session=args.session, run=args.run)
    print(f"streaming {args.name!r} ({raw.n_times / raw.info['sfreq'] * args.repeat:.0f} s); Ctrl-C stops",
          flush=True)
    try:
        play(raw, args.name, chunk_size=args.chunk_size, repeat=args.repeat, wait=args.wait)
    except KeyboardInterrupt:
        print("stopped")
    return 0


def _cmd_online(args) -> int:
    from .environment import require

    require("mne_lsl")  # liblsl loads before the model is read
    from .online import OnlineDecoder
    from .online.report import latency_summary

    _log_lines()
    decoder = OnlineDecoder(args.model)
    table = decoder.run(args.stream, out=args.out, duration=args.duration, timeout=args.timeout)
    summary = latency_summary(table, decoder.meta["step"])
    print(", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in summary.items())
          + (f"; log: {args.out}" if args.out else ""))
    return 0


def _cmd_federated_client(args) -> int:
    import logging
    import os

    os.environ["FLWR_TELEMETRY_ENABLED"] = "0"  # this process's setting, before Flower is imported
    from .evaluation.flower_client import run_client
    from .yamlio import read_yaml_mapping

    site = read_yaml_mapping(args.data, "site")
    logging.getLogger("flwr").setLevel(logging.ERROR)  # Flower's notice that its gRPC client API is deprecated
    run_client(site, server=args.server, state_dir=args.state, wait=args.wait)
    print(f"client {site.get('code') or site['dataset']['name']}: the federation at {args.server} ended; "
          f"its model is in {args.state}")
    return 0


def _cmd_federated_server(args) -> int:
    import logging
    import os

    os.environ["FLWR_TELEMETRY_ENABLED"] = "0"  # this process's setting, before Flower is imported
    from .benchmark.evaluation_types.federated import global_spec
    from .evaluation.federated_spec import check_federation
    from .evaluation.flower_server import serve
    from .models import get_pipeline
    from .yamlio import read_yaml_mapping

    spec = read_yaml_mapping(args.config, "federation")
    if isinstance(spec.get("network"), str):  # a registry pipeline by name: its network and training settings
        spec["network"] = global_spec(get_pipeline(spec["network"]), spec["network"])
    spec = check_federation(spec, where=str(args.config))
    logging.getLogger("flwr").setLevel(logging.ERROR)  # Flower's notice that start_server is deprecated
    n = serve(spec, address=args.address, store=args.store)
    print(f"federation: {n} round(s) run, {spec['rounds']} in all; rounds, metrics and weights in {args.store}")
    return 0


def _cmd_pretrain(args) -> int:
    from .models.pretraining import pretrain

    _log_lines("neurodecode.pretrain", args.quiet)
    result = pretrain(args.config, output=args.output, verbose=not args.quiet)
    windows = ", ".join(f"{k} {v}" for k, v in result.windows.items())
    # predicting zero scores about 1 on z-scored patches: the held-out loss says whether anything was learned
    held = (f" (held-out windows: {result.valid_losses[0]:.4f} -> {result.valid_losses[-1]:.4f}; predicting zero "
            "scores about 1)" if result.valid_losses else "")
    print(f"pretrained on {sum(result.windows.values())} windows ({windows}); masked reconstruction loss "
          f"{result.losses[0]:.4f} -> {result.losses[-1]:.4f} in {len(result.losses)} epochs{held}, "
          f"{result.seconds:.0f} s; weights: {result.folder}")
    return 0


def _cmd_train_denoiser(args) -> int:
    import numpy as np

    from .errors import ConfigError
    from .preprocessing.denoising.training import train_denoiser

    arrays = {}
    for what, path in (("clean", args.clean), ("artifacts", args.artifacts)):
        try:
            arrays[what] = np.load(path, allow_pickle=False)  # a .npy of numbers only: never runs code
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--{what} {path}: not a readable .npy array ({exc})") from None
    _log_lines("neurodecode.denoise", args.quiet)
    result = train_denoiser(arrays["clean"], arrays["artifacts"], artifact=args.artifact, sfreq=args.sfreq,
                            causal=args.causal, epochs=args.epochs, random_state=args.random_state,
                            trained_on=f"neurodecode train-denoiser on {args.clean} + {args.artifacts}",
                            verbose=not args.quiet)
    path = result.denoiser.save(args.output)
    print(f"{result.denoiser!r}: validation RRMSE_t {min(result.val_rrmse):.4f} at epoch {result.best_epoch}, "
          f"{result.seconds:.0f} s; written to {path}")
    return 0


def _cmd_resave_model(args) -> int:
    from .models.persistence import resave_legacy_model

    print(f"model: {resave_legacy_model(args.old, args.new, trust_pickle=args.trust_pickle)}")
    return 0


def _cmd_report_online(args) -> int:
    from .online import report_online

    print(f"report: {report_online(args.log, args.output, args.step)}")
    return 0


def _add_run_options(p) -> None:
    p.add_argument("--output", help="output folder (default: the definition's 'output')")
    p.add_argument("--overwrite", action="store_true", help="recompute tasks already in the store")
    p.add_argument("--engine", choices=["local", "dask"], default="local")
    p.add_argument("--n-jobs", type=int, default=1, help="worker processes (local) or Dask workers")
    p.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no per-task lines")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``neurodecode`` command."""
    parser = _Parser(prog="neurodecode", description="Decode EEG/MEG: datasets, "
                     "preprocessing, models, offline and pseudo-online benchmarks.")
    parser.add_argument("--verbose", action="store_true", help="show MNE/MOABB logs")
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="versions, which compiled parts load (torch device, liblsl, Dask), "
                                    "and the data and cache roots")
    p.set_defaults(func=_cmd_info)
    p = sub.add_parser("datasets", help="list datasets and the subjects present on disk")
    p.add_argument("--local", action="store_true", help="only datasets with subjects on disk")
    p.set_defaults(func=_cmd_datasets)
    p = sub.add_parser("demo", help="CSP+LDA on synthetic motor imagery (no files, no network)")
    p.add_argument("--subjects", type=int, default=2)
    p.add_argument("--snr", type=float, default=1.0)
    p.add_argument("--random-state", type=int, default=42)
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser("cache", help="show or clear the cache of preprocessed runs")
    p.add_argument("action", choices=["info", "clear"])
    p.add_argument("--dataset", help="only this dataset code")
    p.add_argument("--digest", help="only this recipe digest")
    p.set_defaults(func=_cmd_cache)
    p = sub.add_parser("audit", help="data-quality table of a dataset's runs")
    p.add_argument("dataset", help="dataset name, code or definition file")
    p.add_argument("--subjects", type=int, nargs="+", help="default: all subjects on disk")
    p.add_argument("--out", help="CSV path (default: <home>/results/audit/<code>.csv); with --anomaly a "
                                 "folder (default: <home>/results/audit/<code>-anomaly)")
    p.add_argument("--anomaly", action="store_true",
                   help="score every trial with a cross-fitted VAE (hvEEGNet) and classical detectors")
    p.add_argument("--sliding", type=float, nargs=2, metavar=("LENGTH", "STEP"),
                   help="with --anomaly: score sliding windows (s) instead of trials (data with no events)")
    p.add_argument("--recipe", help="with --anomaly: recipe YAML file to apply before the trials are cut "
                                    "(default: a 1-40 Hz band-pass)")
    p.add_argument("--folds", type=int, default=5, help="with --anomaly: cross-fitting folds (default 5)")
    p.add_argument("--epochs", type=int, default=30, help="with --anomaly: VAE training epochs (default 30)")
    p.add_argument("--top", type=int, default=10, help="with --anomaly: trials drawn in the report (default 10)")
    p.add_argument("--reference", choices=("pooled", "subject"), default="pooled",
                   help="with --anomaly: detectors learn what is normal from all subjects together (pooled, "
                        "default) or one per subject (finds another subject's data)")
    p.add_argument("--random-state", type=int, default=0, help="with --anomaly: the seed (default 0)")
    p.set_defaults(func=_cmd_audit)
    p = sub.add_parser("benchmark", help="run a benchmark YAML to leaderboard CSVs and a report")
    p.add_argument("config", help="benchmark definition (.yml)")
    _add_run_options(p)
    p.set_defaults(func=_cmd_benchmark)
    p = sub.add_parser("quickstart", help="a ready benchmark on synthetic data (no files, no network)")
    p.add_argument("--dataset", help="run it on this dataset instead (e.g. Kalunga2016): its paradigm's "
                                     "pipelines on two of its subjects on disk")
    _add_run_options(p)
    p.set_defaults(func=_cmd_quickstart, output=None)
    p = sub.add_parser("train", help="fit a pipeline for live decoding, as a definition's pseudo-online "
                                     "evaluation fits it")
    p.add_argument("config", help="benchmark definition (.yml or a shipped name) with a pseudo-online evaluation")
    p.add_argument("--dataset", required=True)
    p.add_argument("--subject", type=int, required=True)
    p.add_argument("--pipeline", required=True)
    p.add_argument("--out", required=True, help="model file to write (.ndmodel)")
    p.add_argument("--runs", nargs="+", help="runs to train on (name or session/run; default: all)")
    p.add_argument("--evaluation", help="label of the pseudo-online evaluation, when there are several")
    p.set_defaults(func=_cmd_train)
    p = sub.add_parser("replay", help="stream a recording in real time over LSL, events as markers")
    p.add_argument("file", nargs="?", help="a recording file")
    p.add_argument("--dataset", help="or a dataset...")
    p.add_argument("--subject", type=int, help="...subject")
    p.add_argument("--session", help="(default: the first)")
    p.add_argument("--run", help="(default: the first)")
    p.add_argument("--name", required=True, help="name of the LSL stream")
    p.add_argument("--chunk-size", type=int, default=10, help="samples per push")
    p.add_argument("--repeat", type=int, default=1, help="times the recording is played")
    p.add_argument("--wait", type=float, default=30.0, help="seconds to wait for a consumer before streaming")
    p.set_defaults(func=_cmd_replay)
    p = sub.add_parser("online", help="decode a live LSL stream with a model from neurodecode train")
    p.add_argument("model", help="model file (.ndmodel)")
    p.add_argument("--stream", required=True, help="name of the LSL stream")
    p.add_argument("--out", help="decision log (.parquet; the live .jsonl is written beside it)")
    p.add_argument("--duration", type=float, help="seconds to decode (default: until Ctrl-C)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to find the stream")
    p.set_defaults(func=_cmd_online)
    p = sub.add_parser("federated-client", help="serve one site's data to a federation: trains on the server's "
                       "instructions, sends only shared-layer parameters and scalar metrics")
    p.add_argument("--data", required=True, help="the site's YAML: code, dataset, paradigm, split (see the README)")
    p.add_argument("--server", required=True, help="host:port of the federation's server")
    p.add_argument("--state", default="federated-state", help="folder where the site keeps its model between rounds")
    p.add_argument("--wait", type=float, default=60.0, help="seconds to keep trying to reach the server")
    p.set_defaults(func=_cmd_federated_client)
    p = sub.add_parser("federated-server", help="coordinate a federation: FedAvg or FedProx over the clients' "
                       "shared layers, every round stored (a rerun resumes)")
    p.add_argument("config", help="the federation's YAML: network, shared, classes, rounds... (see the README)")
    p.add_argument("--address", default="0.0.0.0:8080", help="host:port to listen on")
    p.add_argument("--store", default="federation", help="folder for the rounds, weights and messages")
    p.set_defaults(func=_cmd_federated_server)
    p = sub.add_parser("pretrain", help="self-supervised pretraining (masked reconstruction) of a "
                                        "SensorTransformer on unlabelled EEG/MEG recordings")
    p.add_argument("config", help="pretraining definition (.yml or a shipped name)")
    p.add_argument("--output", help="weights folder (default: the definition's 'output')")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    p.set_defaults(func=_cmd_pretrain)
    p = sub.add_parser("train-denoiser", help="train an EOG or EMG denoiser for the 'denoise' recipe step "
                                              "(EEGdenoiseNet protocol: SNR drawn from -7 to 2 dB)")
    p.add_argument("--clean", required=True, help="clean EEG segments, a (n_segments, n_times) .npy array")
    p.add_argument("--artifacts", required=True, help="pure artifact segments, (n_segments, n_times) .npy")
    p.add_argument("--artifact", required=True, choices=["eog", "emg"])
    p.add_argument("--sfreq", required=True, type=float, help="sampling rate of the segments (Hz)")
    p.add_argument("--causal", action="store_true", help="use past samples only (for pseudo-online and online)")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--output", required=True, help="denoiser file to write (.safetensors)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    p.set_defaults(func=_cmd_train_denoiser)
    p = sub.add_parser("resave-model", help="re-save a model file of the first (pickle) format in the safe "
                                            "format; only for a file from a source you trust")
    p.add_argument("old", help="model file of the first format (.ndmodel)")
    p.add_argument("new", help="model file to write")
    p.add_argument("--trust-pickle", action="store_true",
                   help="required: opening a pickle runs the code it names")
    p.set_defaults(func=_cmd_resave_model)
    p = sub.add_parser("report-online", help="timeline, confusion and latency figures of a decision log")
    p.add_argument("log", help="decision log of neurodecode online (.parquet or .jsonl)")
    p.add_argument("--output", help="report folder (default: beside the log)")
    p.add_argument("--step", type=float, help="decision step (s), to count late decisions")
    p.set_defaults(func=_cmd_report_online)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; errors print one line and exit non-zero."""
    args = build_parser().parse_args(argv)
    import logging

    if not args.verbose:
        import mne

        mne.set_log_level("ERROR")
        logging.getLogger("moabb").setLevel(logging.ERROR)
    from .config import exported
    from .environment import diagnose
    from .errors import NeurodecodeError

    try:
        with exported():  # MNE and MOABB read the data root and provider from the environment
            return args.func(args)
    except NeurodecodeError as exc:
        print(f"neurodecode: error: {exc}", file=sys.stderr)
        return 2
    except (ImportError, OSError) as exc:  # a compiled library that fails to load, wherever it is imported
        broken = diagnose(exc)
        if broken is None:
            raise
        print(f"neurodecode: error: {broken}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into head
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("neurodecode: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
