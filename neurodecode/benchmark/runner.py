"""Run a benchmark: tasks to workers, rows to the store, then tables and a report."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from time import perf_counter

import pandas as pd

from ..errors import ConfigError, check_option
from .config import load_config
from .store import FolderLock, ResultStore
from .tasks import Task, Unit, build_tasks, build_units, identity, iter_unit, run_unit

__all__ = ["run_benchmark", "BenchmarkResult", "ENGINES", "ENVIRONMENT_NAME"]

ENGINES = ("local", "dask")
#: The file in each output folder that says what the run executed on (versions, CPU, GPU).
ENVIRONMENT_NAME = "environment.json"
#: How many times a unit may lose its worker (killed, out of memory) before it is an error.
LOST_WORKERS = 3
logger = logging.getLogger("neurodecode.benchmark")


@dataclass
class BenchmarkResult:
    """What a benchmark run produced.

    Attributes
    ----------
    results : DataFrame
        Every row (``results.csv``), error rows included.
    leaderboard : DataFrame
    failures : DataFrame
        The error rows: dataset, subject, pipeline, evaluation, error.
    files : dict
        Output name to path.
    n_run, n_skipped : int
        Tasks computed in this run, and tasks found done in the store.
    seconds : float
        Wall time of this run.
    """

    results: pd.DataFrame
    leaderboard: pd.DataFrame
    failures: pd.DataFrame
    files: dict
    n_run: int
    n_skipped: int
    seconds: float


def run_benchmark(config, *, output=None, overwrite: bool = False, engine: str = "local", n_jobs: int = 1,
                  scheduler: str | None = None, quiet: bool = False, report: bool = True) -> BenchmarkResult:
    """Run a benchmark definition to leaderboard CSVs and a report.

    Tasks are (dataset, subject, pipeline, evaluation); a worker runs a unit,
    the tasks of one (dataset, subject, evaluation), loading the subject once
    for all its pipelines. Each finished task's rows go to the append-only
    store in the output folder (see
    :class:`~neurodecode.benchmark.store.ResultStore`), so an interrupted run
    resumes where it stopped. Workers return rows and decisions; only this
    process writes, so remote workers need no access to its disk. A unit whose
    worker dies is run again on another worker, up to 3 times.

    Parameters
    ----------
    config : str | Path | dict | BenchmarkConfig
        See :func:`~neurodecode.benchmark.config.load_config`.
    output : str | Path | None
        Overrides the definition's output folder.
    overwrite : bool
        Recompute tasks already in the store.
    engine : "local" | "dask"
        ``"local"``: this process (``n_jobs=1``) or ``n_jobs`` worker
        processes. ``"dask"``: a ``LocalCluster`` of ``n_jobs`` single-thread
        workers, or the cluster at ``scheduler``.
    n_jobs : int
    scheduler : str | None
        Address of a running Dask scheduler (``tcp://host:8786``).
    quiet : bool
        No progress bar and no per-task lines.
    report : bool
        Also write ``report.md`` and its figures.

    Returns
    -------
    result : BenchmarkResult

    Examples
    --------
    >>> import tempfile
    >>> result = run_benchmark({
    ...     "datasets": [{"name": "SyntheticMI", "params": {"n_subjects": 1, "n_sessions": 1, "sfreq": 128}}],
    ...     "paradigm": "LeftRightImagery", "pipelines": ["CSP+LDA"], "evaluations": ["within-session"],
    ...     "output": tempfile.mkdtemp()}, quiet=True, report=False)
    >>> result.leaderboard[["pipeline", "n_subjects", "rank"]].values.tolist()
    [['CSP+LDA', 1, 1]]
    """
    t0 = perf_counter()
    check_option("engine", engine, ENGINES)
    if not isinstance(n_jobs, int) or n_jobs < 1:
        raise ConfigError(f"n_jobs must be a positive integer, got {n_jobs!r}")
    cfg = load_config(config, output=output)
    store = ResultStore(cfg.output)
    with FolderLock(cfg.output) as lock:
        if lock.stale_pid and not quiet:
            logger.info(f"{cfg.output}: took over the lock of an earlier run (PID {lock.stale_pid}) that ended "
                        "without releasing it")
        return _run(cfg, store, overwrite, engine, n_jobs, scheduler, quiet, report, t0)


def _record_environment(store: ResultStore) -> dict:
    """Write ``environment.json`` (this run's setup) and record it in the store; return it."""
    import json

    from ..environment import current_environment
    from ..utils import write_atomic_bytes

    env, env_digest = current_environment()
    store.add_environment(env, env_digest)
    write_atomic_bytes(store.folder / ENVIRONMENT_NAME, json.dumps({**env, "digest": env_digest}, indent=2) + "\n")
    return env


def _run(cfg, store, overwrite, engine, n_jobs, scheduler, quiet, report, t0) -> BenchmarkResult:
    _record_environment(store)
    parallel = engine == "dask" or n_jobs > 1
    tasks = build_tasks(cfg, threads=1 if parallel else None)
    done = set() if overwrite else store.done_tasks()
    todo = [t for t in tasks if t.id not in done]
    if not quiet:
        logger.info(f"{cfg.name}: {len(tasks)} task(s), {len(tasks) - len(todo)} already in {store.path}, "
                    f"{len(todo)} to run ({engine} engine, {n_jobs} worker(s))")
    _execute(todo, store, engine, n_jobs, scheduler, quiet)
    from .tables import write_tables

    rows = store.rows()
    kinds = {t.id: t.evaluation["type"] for t in tasks}
    if len(rows):
        rows = rows[rows["task"].isin(kinds)].reset_index(drop=True)
        rows["evaluation_type"] = rows["task"].map(kinds)  # also for rows stored before types were recorded
    files, tables = write_tables(rows, cfg.output)
    if report:
        from .report import write_report

        files["report"] = write_report(cfg, tables, cfg.output, environments=store.environments())
    failures = tables["failures"]
    if not quiet:
        logger.info(f"{cfg.name}: wrote {', '.join(str(p) for p in files.values())}")
    if len(failures):  # even when quiet: a failure is never silent
        logger.warning(f"{len(failures)} task(s) failed:")
        for f in failures.itertuples():
            logger.warning(f"  {f.dataset} sub-{f.subject} {f.pipeline} {f.evaluation}: {f.error}")
    return BenchmarkResult(tables["results"], tables["leaderboard"], failures, files, len(todo),
                           len(tasks) - len(todo), perf_counter() - t0)


def _execute(todo: list[Task], store: ResultStore, engine: str, n_jobs: int, scheduler, quiet: bool) -> None:
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from ..evaluation.decision_files import write_decisions

    units = build_units(todo)
    if not quiet and units:
        logger.info(f"{len(units)} unit(s) of (dataset, subject, evaluation), each loaded once for its pipelines")
    runs = _dask(units, n_jobs, scheduler, store) if engine == "dask" else _local(units, n_jobs)
    bar = tqdm(total=len(todo), unit="task", desc="benchmark", disable=quiet or not todo)
    with logging_redirect_tqdm([logging.root, logger]), bar:
        for i, (task, (rows, status, message, files), seconds) in enumerate(runs, 1):
            for relative, table in files.items():  # the driver alone writes, before the store says done
                write_decisions(table, store.folder / relative)
            store.add(task.id, rows, status, seconds, message)
            bar.update()
            if quiet:
                continue
            if status == "ok":
                scores = pd.Series([r["score"] for r in rows], dtype=float)
                logger.info(f"[{i}/{len(todo)}] {task.describe()}: score {scores.mean():.3f} "
                            f"({len(rows)} row(s), {seconds:.1f} s)")
            else:
                logger.warning(f"[{i}/{len(todo)}] {task.describe()}: FAILED {message}")


def _lost(unit: Unit, exc: BaseException):
    """The results of a unit whose worker died more often than it may."""
    message = f"worker lost: {type(exc).__name__}: {exc}".splitlines()[0]
    for task in unit.tasks:
        row = {**identity(task), "score": float("nan"), "error": message}
        yield task, ([row], "error", message, {}), float("nan")


def _local(units: list[Unit], n_jobs: int):
    if n_jobs == 1:  # this process, each pipeline's result as soon as it exists
        for unit in units:
            yield from iter_unit(unit)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    # A worker that dies breaks the whole pool: the units it had not returned go to a fresh
    # pool, each at most LOST_WORKERS times, so one lost worker costs only unfinished units.
    losses = dict.fromkeys((u.id for u in units), 0)
    pending = units
    while pending:
        # spawn: workers must not inherit torch/BLAS thread pools from a fork
        with ProcessPoolExecutor(n_jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(run_unit, u): u for u in pending}
            pending = []
            for future in as_completed(futures):
                unit = futures[future]
                try:
                    results = future.result()
                except BrokenProcessPool as exc:
                    losses[unit.id] += 1
                    if losses[unit.id] <= LOST_WORKERS:
                        logger.warning(f"{unit.describe()}: its worker died; running it again")
                        pending.append(unit)
                    else:
                        yield from _lost(unit, exc)
                    continue
                except Exception as exc:  # noqa: BLE001  (e.g. a result that cannot be pickled)
                    yield from _lost(unit, exc)
                    continue
                yield from results


def _dask(units: list[Unit], n_jobs: int, scheduler: str | None, store: ResultStore):
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise ConfigError("the dask engine needs dask.distributed: pip install 'dask[distributed]'") from exc
    if not units:
        return
    cluster = None
    if scheduler is None:
        import dask

        # Dask's nanny sets MALLOC_TRIM_THRESHOLD_ in its workers, which also pins glibc's mmap
        # threshold: every large NumPy temporary is then mapped and zeroed anew, and generating and
        # filtering signals ran 1.7x slower than in a plain process (benchmarks/benchmark_engines.py)
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            cluster = LocalCluster(n_workers=n_jobs, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
    try:
        client = Client(scheduler or cluster)
    except OSError as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    try:
        from ..environment import current_environment

        # Workers may run elsewhere, on other versions: the store describes each setup its rows name
        for env, env_digest in client.run(current_environment).values():
            store.add_environment(env, env_digest)
        # The scheduler reruns the unit of a worker that dies on another worker, up to its
        # `distributed.scheduler.allowed-failures` times (3 by default), then raises KilledWorker.
        futures = [client.submit(run_unit, u, key=f"neurodecode-{u.id}-{os.getpid()}", pure=False)
                   for u in units]
        by_key = {f.key: u for f, u in zip(futures, units)}
        for future in as_completed(futures):
            unit = by_key[future.key]
            try:
                results = future.result()
            except Exception as exc:  # noqa: BLE001
                yield from _lost(unit, exc)
                continue
            finally:
                future.release()  # the driver has the rows; the cluster's memory can go
            yield from results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
