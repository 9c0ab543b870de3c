"""An append-only results store that survives ``kill -9``.

One JSON object per line in ``store.jsonl``. A task's rows are appended as
soon as its worker returns them, then an ``end`` record; each append is one
``write`` followed by ``fsync``. Reading keeps, for every task, the rows of
its latest attempt that has an ``end`` record, so a task killed half-way
contributes nothing and its rerun cannot duplicate rows. ``environment``
records describe the setups (versions, CPU, GPU) that rows name by digest. A line cut short by
a kill is always the last one; it is dropped (and cut off before the next
append).
"""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pandas as pd

from ..errors import ConfigError

__all__ = ["ResultStore", "FolderLock"]

STORE_NAME = "store.jsonl"
LOCK_NAME = ".neurodecode.lock"


class FolderLock:
    """An exclusive lock on an output folder, held for the life of one benchmark run.

    It is an advisory ``flock`` on ``<folder>/.neurodecode.lock``, which holds the holder's
    PID. The kernel releases it when its process ends, however it ends, so the lock left
    by a killed run is simply taken over; a second live run gets a :class:`ConfigError`
    naming the holder's PID.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with FolderLock(folder):
    ...     FolderLock(folder).acquire()
    Traceback (most recent call last):
    ...
    neurodecode.errors.ConfigError: ... is in use by another neurodecode run (PID ...); wait for it to end ...
    """

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / LOCK_NAME
        self._fd: int | None = None
        #: PID written by the previous holder when its lock was taken over (a killed run), else None.
        self.stale_pid: int | None = None

    def acquire(self) -> FolderLock:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(f"{self.path.parent} is in use by another neurodecode run (PID {holder}); "
                              "wait for it to end or choose another --output") from None
        previous = os.pread(fd, 32, 0).decode(errors="replace").strip()
        self.stale_pid = int(previous) if previous.isdigit() and int(previous) != os.getpid() else None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)  # an empty file: nobody holds it
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


class ResultStore:
    """Rows of a benchmark, keyed by task, in ``<folder>/store.jsonl``.

    Parameters
    ----------
    folder : str | Path
        Created if needed.

    Examples
    --------
    >>> import tempfile
    >>> store = ResultStore(tempfile.mkdtemp())
    >>> store.add("t1", [{"dataset": "D", "subject": 1, "score": 0.9}], status="ok", seconds=1.0)
    >>> store.done_tasks()
    {'t1'}
    >>> store.rows()["score"].tolist()
    [0.9]
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / STORE_NAME
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a"):
                pass
        except OSError as exc:
            raise ConfigError(f"{self.folder}: output folder is not writable ({exc.strerror}); "
                              "choose another with --output") from None
        if not os.access(self.path, os.W_OK) or not os.access(self.folder, os.W_OK):
            raise ConfigError(f"{self.folder}: output folder is not writable; choose another with --output")

    # -- writing ---------------------------------------------------------------
    def _repair_tail(self) -> None:
        """Cut a last line left unfinished by a kill, so the next append starts a fresh line."""
        size = self.path.stat().st_size
        if size == 0:
            return
        with open(self.path, "rb+") as f:
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return
            f.seek(0)
            data = f.read()
            f.truncate(data.rfind(b"\n") + 1)
            f.flush()
            os.fsync(f.fileno())

    def _append(self, records: list[dict]) -> None:
        blob = "".join(json.dumps(_plain(r), allow_nan=True) + "\n" for r in records).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, blob)
            os.fsync(fd)
        finally:
            os.close(fd)

    def add(self, task: str, rows: list[dict], status: str, seconds: float, message: str = "") -> None:
        """Append one finished attempt of ``task``: its rows, then its ``end`` record.

        Rows are written first and flushed to disk; the ``end`` record follows
        in a second write, so an attempt cut between the two is ignored.
        """
        self._repair_tail()
        attempt = uuid.uuid4().hex
        self._append([{"type": "row", "task": task, "attempt": attempt, "row": r} for r in rows])
        self._append([{"type": "end", "task": task, "attempt": attempt, "status": status,
                       "n_rows": len(rows), "seconds": seconds, "message": message}])

    def add_environment(self, env: dict, digest: str) -> None:
        """Record the environment that rows tagged ``environment=digest`` ran in, once per digest."""
        if digest not in self.environments():
            self._repair_tail()
            self._append([{"type": "environment", "digest": digest, "environment": env}])

    # -- reading ---------------------------------------------------------------
    def _records(self) -> list[dict]:
        lines = self.path.read_bytes().split(b"\n")
        out = []
        for i, line in enumerate(lines[:-1]):  # the part after the last newline is unfinished
            try:
                out.append(json.loads(line))
            except ValueError:
                raise ConfigError(f"{self.path} line {i + 1} is corrupt; move the file away and "
                                  "rerun with --overwrite") from None
        return out

    def _latest(self) -> dict:
        """``{task: (end record, [rows])}`` of each task's latest completed attempt."""
        rows, ends = {}, {}
        for rec in self._records():
            if rec["type"] == "row":
                rows.setdefault(rec["attempt"], []).append(rec["row"])
            elif rec["type"] == "end":
                ends[rec["task"]] = rec
        return {task: (end, rows.get(end["attempt"], [])) for task, end in ends.items()}

    def environments(self) -> dict[str, dict]:
        """``{digest: environment}`` of every environment recorded in the store, oldest first."""
        return {r["digest"]: r["environment"] for r in self._records() if r["type"] == "environment"}

    def done_tasks(self) -> set:
        """Tasks whose latest attempt completed without error."""
        return {t for t, (end, _) in self._latest().items() if end["status"] == "ok"}

    def rows(self) -> pd.DataFrame:
        """Every row of the latest attempt of every task (error rows included, ``error`` set)."""
        rows = [r for _, task_rows in self._latest().values() for r in task_rows]
        return pd.DataFrame(rows)


def _plain(value):
    """JSON-ready copies of NumPy scalars and containers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value
