"""The decoder's log: decisions and stream events as JSON lines, made durable every second, then parquet."""
from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pandas as pd

from ..errors import ConfigError
from ..utils import write_atomic_bytes

__all__ = ["DecisionLog", "read_decisions"]


class DecisionLog:
    """Decisions and stream events, appended to a JSON-lines file and made durable every second.

    A kill loses at most the records of the last ``flush_every`` seconds; the
    lines before stay readable (:func:`read_decisions`). :meth:`close` also
    writes the table as parquet, atomically.

    Parameters
    ----------
    path : str | Path | None
        ``*.parquet`` (the live log is the ``*.jsonl`` beside it) or ``*.jsonl``;
        None keeps records in memory only.
    flush_every : float
        Seconds between ``fsync`` calls.
    """

    def __init__(self, path=None, flush_every: float = 1.0):
        self.path = None if path is None else Path(path)
        self.records: list[dict] = []
        self.flush_every = flush_every
        self._pending: list[str] = []
        self._last = time.monotonic()
        self._fd = None
        if self.path is not None:
            if self.path.suffix not in (".parquet", ".jsonl"):
                raise ConfigError(f"{self.path}: the decision log must be a .parquet or .jsonl file")
            self.jsonl = self.path.with_suffix(".jsonl")
            self.jsonl.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.jsonl, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)

    def add(self, record: dict) -> None:
        self.records.append(record)
        if self._fd is not None:
            self._pending.append(json.dumps(record, default=float) + "\n")
            if time.monotonic() - self._last >= self.flush_every:
                self.flush()

    def flush(self) -> None:
        if self._fd is not None and self._pending:
            os.write(self._fd, "".join(self._pending).encode())
            os.fsync(self._fd)
            self._pending = []
        self._last = time.monotonic()

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.records)

    def close(self) -> pd.DataFrame:
        """Flush, close the JSON-lines file and write the parquet table; return the table."""
        self.flush()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            if self.path.suffix == ".parquet":
                buf = io.BytesIO()
                self.table().to_parquet(buf, index=False)
                write_atomic_bytes(self.path, buf.getvalue())
        return self.table()


def read_decisions(path) -> pd.DataFrame:
    """A decision log (``.parquet``, or the ``.jsonl`` left by a killed decoder; a cut last line is dropped)."""
    path = Path(path)
    if path.suffix == ".parquet" and path.exists():
        return pd.read_parquet(path)
    live = path.with_suffix(".jsonl")
    if not live.exists():
        raise ConfigError(f"{path}: no such decision log")
    lines = live.read_bytes().split(b"\n")
    return pd.DataFrame([json.loads(line) for line in lines[:-1] if line.strip()])
