"""Decode a live LSL stream with a model from ``neurodecode train``: the replay's decisions, live."""
from __future__ import annotations

import logging
import time
from collections import deque

import numpy as np
import pandas as pd

from ..errors import ChannelMismatchError, ConfigError, StreamError
from ..utils import IDLE, unit_power
from .decision_log import DecisionLog
from .markers import MarkerTruth

__all__ = ["OnlineDecoder"]

logger = logging.getLogger("neurodecode.online")


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
            wrong = {wanted[i]: units[c] for i, c in enumerate(cols) if unit_power(units[c]) != 0}
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
        from mne_lsl.lsl import local_clock

        from ..preprocessing.streaming import StreamingRecipe
        from ..private_api import lsl_lost_error
        from .window_buffer import WindowBuffer

        log = log if log is not None else DecisionLog()
        inlet, uid, cols, outlet, markers = self._connect(stream, timeout)
        recipe = StreamingRecipe(self.meta["recipe"], self.input_info)
        windows = WindowBuffer(recipe, int(round(self.meta["window"] * recipe.sfreq)),
                               int(round(self.meta["step"] * recipe.sfreq)))
        history: deque = deque(maxlen=self._k)
        watch = _Watch(stream, uid, self.stall)
        started = time.monotonic()

        def event(kind: str, **fields) -> dict:
            rec = {"event": kind, "sample": int(recipe.n_out), "input_sample": int(recipe.n_in), **fields}
            log.add(rec)
            return rec

        try:
            while (duration is None or time.monotonic() - started < duration) and \
                    (n_samples is None or recipe.n_in < n_samples):
                try:
                    first, t_first = inlet.pull_sample(timeout=0.1)  # blocks until data, without spinning
                    data, stamps = inlet.pull_chunk(timeout=0.0) if t_first is not None else (None, None)
                    lost = False
                except lsl_lost_error():
                    lost, t_first = True, None
                markers.pull()
                now = time.monotonic()
                if lost or (t_first is None and watch.vanished(now)):
                    yield event("lost")
                    log.flush()
                    raise StreamError(f"LSL stream {stream!r} vanished after {recipe.n_in} samples; "
                                      "the decisions so far are in the log")
                if t_first is None:
                    if watch.stalls(now):
                        yield event("stall", lsl_time=windows.last_stamp())
                    continue
                gap = watch.data(now)
                if gap is not None:
                    yield event("resume", gap_s=gap, lsl_time=float(t_first))
                x = np.vstack([np.asarray(first)[None], np.asarray(data)])[:, cols].T  # copies the buffer
                t_new = np.r_[t_first, stamps]
                if n_samples is not None:
                    x, t_new = x[:, :n_samples - recipe.n_in], t_new[:n_samples - recipe.n_in]
                nan = windows.push(x, t_new)
                if nan is not None:
                    yield event("nan", first_nan=nan[0], last_nan=nan[1], n_nan=nan[2])
                arrival = float(t_new[-1])  # the newest sample's stamp: when this data became available
                for stop, last_input, stamp, window in windows.windows():
                    if window is None:
                        yield event("nan_window", sample=stop)
                        continue
                    rec = self._decide_window(window, history, outlet, stop, last_input, recipe.sfreq,
                                              stamp, arrival, local_clock, markers)
                    log.add(rec)
                    yield rec
        finally:
            log.flush()
            inlet.close_stream()
            markers.close()
            del outlet

    def _connect(self, stream: str, timeout: float):
        """The open inlet and its stream's uid, the columns that feed the model, the decisions outlet
        and the marker truth."""
        from mne_lsl.lsl import StreamInfo, StreamInlet, StreamOutlet

        from .lsl import configure, find_stream

        configure()
        markers = MarkerTruth(stream, self.meta)  # first: the player waits for the data consumer only
        found = find_stream(stream, timeout)
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
        return inlet, found.uid, cols, StreamOutlet(out_info), markers

    def _decide_window(self, window, history: deque, outlet, stop: int, last_input: int, sfreq: float,
                       stamp: float, arrival: float, clock, markers) -> dict:
        """Score one window, decide over the last ``k``, push the decision; return its record."""
        P = np.asarray(self._per_window(window[None]), dtype=np.float64)[0]
        history.append(P)
        label = self._decide(np.array(history))[-1]
        push = clock()
        outlet.push_sample(np.r_[self.decision_labels.index(label), P])
        return {"event": "decision", "sample": int(stop), "input_sample": last_input + 1,
                "time": stop / sfreq, "lsl_time": stamp, "push_time": push,
                "latency": push - stamp, "decoder_latency": push - arrival,
                "prediction": str(label), "truth": markers.truth(stamp),
                **{f"p_{c}": float(p) for c, p in zip(self.classes, P)}}

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


class _Watch:
    """Stall and loss of a data stream, from the times at which pulls return data."""

    def __init__(self, stream: str, uid: str, stall: float):
        self.stream, self.uid, self.stall = stream, uid, stall
        self.stalled = False
        self.last_data = self.last_check = time.monotonic()

    def vanished(self, now: float) -> bool:
        """While stalled, every 2 s: is the stream gone? liblsl does not always report a closed outlet."""
        from mne_lsl.lsl import resolve_streams

        if not self.stalled or now - self.last_check <= 2.0:
            return False
        self.last_check = now
        return not any(s.uid == self.uid for s in resolve_streams(timeout=0.5, name=self.stream))

    def stalls(self, now: float) -> bool:
        """No data in this pull: True (and a warning) when that starts a stall."""
        if self.stalled or now - self.last_data <= self.stall:
            return False
        self.stalled, self.last_check = True, now
        logger.warning(f"{self.stream}: no data for {now - self.last_data:.1f} s; waiting")
        return True

    def data(self, now: float) -> float | None:
        """Data in this pull: the gap in s (and a warning) when it ends a stall, else None."""
        gap, self.last_data = now - self.last_data, now
        if not self.stalled:
            return None
        self.stalled = False
        logger.warning(f"{self.stream}: data again after {gap:.1f} s")
        return gap
