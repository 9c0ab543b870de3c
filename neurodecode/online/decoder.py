"""Decode a live LSL stream with a model from ``neurodecode train``: the replay's decisions, live."""
from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ChannelMismatchError, ConfigError, StreamError
from ..utils import IDLE, write_atomic_bytes

__all__ = ["OnlineDecoder", "DecisionLog", "read_decisions"]

logger = logging.getLogger("neurodecode.online")

#: unit multipliers (power of ten) that LSL streams declare, by name
_UNIT_POWERS = {"volts": 0, "v": 0, "millivolts": -3, "mv": -3, "microvolts": -6, "uv": -6, "µv": -6,
                "nanovolts": -9, "nv": -9, "tesla": 0, "t": 0, "femtotesla": -15, "ft": -15}


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
                import io

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


class OnlineDecoder:
    """Decode a live LSL stream with a model fitted by :func:`~neurodecode.online.train_model`.

    The stream's channels, rate and units are checked against the model before
    anything else. Each chunk goes through the model's causal recipe with the
    filter states carried over (:class:`~neurodecode.preprocessing.streaming.StreamingRecipe`),
    so the signal equals the whole recording filtered causally at once; the
    samples are then kept as float32, as the run cache keeps them for the
    pseudo-online replay. A decision is made every ``step`` at exact sample
    counts (window ends at ``window + k * step`` samples of the processed
    stream), never at clock ticks, so a live run and its replay decide on the
    same windows.

    Parameters
    ----------
    model : str | Path | SavedModel
        A model file written by ``neurodecode train``.
    stall : float
        Seconds without data before the stream is logged as stalled.

    Examples
    --------
    A live run (``neurodecode replay FILE --name EEG`` in another terminal)::

        decoder = OnlineDecoder("model.ndmodel")
        table = decoder.run("EEG", out="decisions.parquet", duration=60)
    """

    def __init__(self, model, *, stall: float = 1.0):
        from ..models.decision import DecisionSmoother, online_parts, posterior_classes
        from ..models.persistence import SavedModel, load_model

        self.model = model if isinstance(model, SavedModel) else load_model(model)
        meta = self.model.meta.get("online")
        if meta is None:
            raise ConfigError("this model was not fitted for live decoding (no window, step or recipe); "
                              "fit it with neurodecode train")
        self.meta = meta
        self.input_info = meta["input_info"]
        self.classes = posterior_classes(self.model.estimator)
        self._per_window, self._decide = online_parts(self.model.estimator)
        est = self.model.estimator
        self._k = est.k if isinstance(est, DecisionSmoother) else 1  # decisions look back k windows
        #: what the ``label`` channel of the decisions outlet indexes: the posterior classes, then idle
        self.decision_labels = self.classes + ([] if IDLE in self.classes else [IDLE])
        self.stall = float(stall)

    # -- checks --------------------------------------------------------------
    def check_stream(self, sinfo) -> np.ndarray:
        """Columns of the stream that feed the model, in the model's channel order.

        Raises
        ------
        ChannelMismatchError
            Missing channels (extra ones are listed too), another rate, or units other than V/T.
        """
        name = sinfo.name
        names = sinfo.get_channel_names() or []
        wanted = list(self.input_info.ch_names)
        missing = [c for c in wanted if c not in names]
        extra = [c for c in names if c not in wanted]
        if missing:
            raise ChannelMismatchError(f"LSL stream {name!r}", f"{len(missing)} channel(s) the model reads are "
                                       f"missing: {missing}; extra channels in the stream: {extra}")
        if not np.isclose(sinfo.sfreq, self.input_info["sfreq"]):
            raise ChannelMismatchError(f"LSL stream {name!r}", f"samples at {sinfo.sfreq:g} Hz; the model was "
                                       f"trained on {self.input_info['sfreq']:g} Hz")
        cols = np.array([names.index(c) for c in wanted])
        units = sinfo.get_channel_units()
        if units is None:
            logger.warning(f"{name}: the stream declares no units; reading its samples as V (T for MEG)")
        else:
            wrong = {wanted[i]: units[c] for i, c in enumerate(cols) if _power(units[c]) != 0}
            if wrong:
                first = list(wrong.items())[:3]
                raise ChannelMismatchError(f"LSL stream {name!r}", f"{len(wrong)} channel(s) not in V/T "
                                           f"(e.g. {first}); the model reads SI units: scale the stream "
                                           "or declare its units")
        return cols

    # -- decoding ------------------------------------------------------------
    def decisions(self, stream: str, *, duration: float | None = None, n_samples: int | None = None,
                  timeout: float = 10.0, log: DecisionLog | None = None):
        """Yield one record per decision (and per stream event) as the stream arrives.

        Parameters
        ----------
        stream : str
            Name of the LSL stream; its markers are read from ``<stream>-annotations`` if present.
        duration : float | None
            Stop after this many seconds.
        n_samples : int | None
            Stop after this many input samples.
        timeout : float
            Seconds to find the stream.
        log : DecisionLog | None
            Where records are appended as they are made.

        Yields
        ------
        record : dict
            ``event`` (``"decision"``, ``"stall"``, ``"resume"``, ``"nan"``, ``"nan_window"``,
            ``"lost"``), ``sample`` (processed samples so far: the window's end),
            ``input_sample``, ``lsl_time`` (timestamp of the window's last sample),
            ``push_time``, ``latency`` (s, from ``lsl_time`` to the push: it includes the
            wait for the rest of the sample's chunk), ``decoder_latency`` (s, from the
            newest sample's timestamp in the pull that completed the window: the
            decoder's own share), ``prediction``, ``truth``, ``p_<class>``.
        """
        from mne_lsl.lsl import StreamInfo, StreamInlet, StreamOutlet, local_clock, resolve_streams

        from ..preprocessing.streaming import StreamingRecipe
        from ..private_api import lsl_lost_error
        from .lsl import configure, find_stream

        configure()
        log = log if log is not None else DecisionLog()
        markers = _MarkerTruth(stream, self.meta)  # first: the player waits for the data consumer only
        found = find_stream(stream, timeout)
        uid = found.uid
        inlet = StreamInlet(found, recover=False)
        inlet.open_stream(timeout=timeout)
        try:  # the full description (channels, units) comes with the open inlet
            cols = self.check_stream(inlet.get_sinfo(timeout=timeout))
        except ChannelMismatchError:
            inlet.close_stream()
            markers.close()
            raise
        out_info = StreamInfo(f"{stream}-decisions", "Decisions", 1 + len(self.classes), 0.0, "float64",
                              f"neurodecode-{stream}-decisions")
        out_info.set_channel_names(["label", *(f"p_{c}" for c in self.classes)])  # label: index in decision_labels
        outlet = StreamOutlet(out_info)
        recipe = StreamingRecipe(self.meta["recipe"], self.input_info)
        n_len = int(round(self.meta["window"] * recipe.sfreq))
        n_step = int(round(self.meta["step"] * recipe.sfreq))
        buf = np.zeros((len(recipe.ch_names), 0), np.float32)  # processed samples from index buf_start
        buf_start, next_stop = 0, n_len
        ts = np.zeros(0)  # LSL timestamps of input samples from index ts_start
        ts_start = 0
        nan_inputs: list[tuple[int, int]] = []
        history: deque = deque(maxlen=self._k)
        started = last_data = last_check = time.monotonic()
        stalled = False

        def event(kind: str, **fields) -> dict:
            rec = {"event": kind, "sample": int(recipe.n_out), "input_sample": int(recipe.n_in), **fields}
            log.add(rec)
            return rec

        try:
            while True:
                if duration is not None and time.monotonic() - started >= duration:
                    break
                if n_samples is not None and recipe.n_in >= n_samples:
                    break
                try:
                    first, t_first = inlet.pull_sample(timeout=0.1)  # blocks until data, without spinning
                    data, stamps = inlet.pull_chunk(timeout=0.0) if t_first is not None else (None, None)
                    lost = False
                except lsl_lost_error():
                    lost = True
                markers.pull()
                now = time.monotonic()
                if t_first is None and not lost and stalled and now - last_check > 2.0:
                    # liblsl does not always report a closed outlet: look for the stream itself
                    last_check = now
                    lost = not any(s.uid == uid for s in resolve_streams(timeout=0.5, name=stream))
                if lost:
                    yield event("lost")
                    log.flush()
                    raise StreamError(f"LSL stream {stream!r} vanished after {recipe.n_in} samples; "
                                      "the decisions so far are in the log")
                if t_first is None:
                    if not stalled and now - last_data > self.stall:
                        stalled, last_check = True, now
                        logger.warning(f"{stream}: no data for {now - last_data:.1f} s; waiting")
                        yield event("stall", lsl_time=float(ts[-1]) if len(ts) else np.nan)
                    continue
                if stalled:
                    stalled = False
                    logger.warning(f"{stream}: data again after {now - last_data:.1f} s")
                    yield event("resume", gap_s=now - last_data, lsl_time=float(t_first))
                last_data = now
                x = np.vstack([np.asarray(first)[None], np.asarray(data)])[:, cols].T  # copies the buffer
                t_new = np.r_[t_first, stamps]
                if n_samples is not None:
                    x, t_new = x[:, :n_samples - recipe.n_in], t_new[:n_samples - recipe.n_in]
                bad = ~np.isfinite(x).all(axis=0)
                if bad.any():
                    where = recipe.n_in + np.flatnonzero(bad)
                    nan_inputs.append((int(where[0]), int(where[-1])))
                    yield event("nan", first_nan=int(where[0]), last_nan=int(where[-1]), n_nan=int(bad.sum()))
                    x = np.where(bad, 0.0, x)  # filter states stay finite; the windows that see them are skipped
                ts = np.r_[ts, t_new]
                arrival = float(t_new[-1])  # the newest sample's stamp: when this data became available
                buf = np.concatenate([buf, recipe.process(x).astype(np.float32)], axis=1)
                while recipe.n_out >= next_stop:
                    lo, hi = recipe.last_input([next_stop - n_len, next_stop - 1])
                    if any(a <= hi and b >= lo for a, b in nan_inputs):
                        yield event("nan_window", sample=next_stop)
                    else:
                        window = buf[:, next_stop - n_len - buf_start:next_stop - buf_start]
                        P = np.asarray(self._per_window(window[None]), dtype=np.float64)[0]
                        history.append(P)
                        label = self._decide(np.array(history))[-1]
                        stamp = float(ts[hi - ts_start])
                        push = local_clock()
                        outlet.push_sample(np.r_[self.decision_labels.index(label), P])
                        rec = {"event": "decision", "sample": int(next_stop), "input_sample": int(hi + 1),
                               "time": next_stop / recipe.sfreq, "lsl_time": stamp, "push_time": push,
                               "latency": push - stamp, "decoder_latency": push - arrival,
                               "prediction": str(label), "truth": markers.truth(stamp),
                               **{f"p_{c}": float(p) for c, p in zip(self.classes, P)}}
                        log.add(rec)
                        yield rec
                    next_stop += n_step
                keep = next_stop - n_len - buf_start  # samples no later window needs
                if keep > 0:
                    buf, buf_start = buf[:, keep:], buf_start + keep
                oldest = int(recipe.last_input([max(next_stop - n_len, 0)])[0]) - 1
                if oldest > ts_start:
                    ts, ts_start = ts[oldest - ts_start:], oldest
                nan_inputs = [(a, b) for a, b in nan_inputs if b >= oldest]
        finally:
            log.flush()
            inlet.close_stream()
            markers.close()
            del outlet

    def run(self, stream: str, *, out=None, duration: float | None = None, n_samples: int | None = None,
            timeout: float = 10.0) -> pd.DataFrame:
        """Decode until ``duration``, ``n_samples``, Ctrl-C or the stream's loss; return the log.

        The log (``out``: ``.parquet``, with its live ``.jsonl`` beside it) is
        closed cleanly in every case; a lost stream then raises
        :class:`~neurodecode.errors.StreamError`.
        """
        log = DecisionLog(out)
        try:
            for _ in self.decisions(stream, duration=duration, n_samples=n_samples, timeout=timeout, log=log):
                pass
        except KeyboardInterrupt:
            logger.info(f"{stream}: stopped by the user")
        finally:
            table = log.close()
        return table


class _MarkerTruth:
    """The truth at a time from the marker stream ``<stream>-annotations`` (mne-lsl's one-hot
    annotations: one channel per event name, value = duration in s): the task class whose
    event covers that time, else idle (rest classes are idle)."""

    def __init__(self, stream: str, meta: dict):
        from mne_lsl.lsl import StreamInlet, resolve_streams

        self.events: list[tuple[float, float, str]] = []
        self.classes, self.rest = set(meta["classes"]), set(meta.get("rest", []))
        found = resolve_streams(timeout=1.0, name=f"{stream}-annotations")
        self.inlet = None
        if found:
            self.inlet = StreamInlet(found[0], recover=False)
            self.inlet.open_stream(timeout=5.0)
            self.names = self.inlet.get_sinfo(timeout=5.0).get_channel_names()

    def pull(self) -> None:
        if self.inlet is None:
            return
        try:
            data, stamps = self.inlet.pull_chunk(timeout=0.0)
        except Exception:  # noqa: BLE001  (markers are optional; the data stream reports its own loss)
            self.close()
            return
        for row, t in zip(np.asarray(data), stamps):
            for j in np.flatnonzero(row != 0):
                self.events.append((float(t), max(float(row[j]), 0.0), self.names[j]))

    def truth(self, t: float):
        if self.inlet is None and not self.events:
            return None
        for onset, dur, name in reversed(self.events):
            if onset <= t < onset + dur and name in self.classes and name not in self.rest:
                return name
        return IDLE

    def close(self) -> None:
        if self.inlet is not None:
            self.inlet.close_stream()
            self.inlet = None


def _power(unit) -> int | None:
    """The power of ten of a declared LSL unit (``"0"``, ``"-6"``, ``"microvolts"``...)."""
    text = str(unit).strip().lower()
    try:
        return int(float(text))
    except ValueError:
        return _UNIT_POWERS.get(text)
