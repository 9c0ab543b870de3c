"""Lab Streaming Layer through mne-lsl: configuration, finding a stream, and replaying a recording.

``NEURODECODE_LSL_SCOPE=machine`` keeps LSL on this machine (loopback
multicast and 127.0.0.1 peers, no IPv6): tests and benchmarks set it. Unset,
liblsl's own configuration applies, so streams from a lab's network are found.
"""
from __future__ import annotations

import logging
import os
import time

import numpy as np

from ..errors import ConfigError, StreamError
from ..private_api import paced_player_class

__all__ = ["configure", "find_stream", "play", "recording"]

logger = logging.getLogger("neurodecode.online")

#: liblsl configuration of NEURODECODE_LSL_SCOPE=machine: resolve and connect on this machine only
_MACHINE = """[ports]
IPv6 = disable
[multicast]
ResolveScope = machine
[lab]
KnownPeers = {127.0.0.1}
[log]
level = -3
"""
_configured = False


def configure() -> None:
    """Apply ``NEURODECODE_LSL_SCOPE`` before the first LSL call (liblsl reads its configuration once)."""
    global _configured
    if _configured:
        return
    scope = os.environ.get("NEURODECODE_LSL_SCOPE", "")
    if scope not in ("", "machine"):
        raise ConfigError(f"NEURODECODE_LSL_SCOPE must be 'machine' or unset, got {scope!r}")
    if scope == "machine":
        from mne_lsl.lsl import set_config_content

        set_config_content(_MACHINE)
    _configured = True


def find_stream(name: str, timeout: float = 10.0, stype: str | None = None):
    """The ``StreamInfo`` of the one LSL stream called ``name`` (and of type ``stype``).

    Raises
    ------
    StreamError
        No such stream within ``timeout`` seconds, with the names that were seen.
    """
    configure()
    from mne_lsl.lsl import resolve_streams

    found = resolve_streams(timeout=timeout, name=name, stype=stype)
    if found:
        return found[0]
    others = sorted({s.name for s in resolve_streams(timeout=min(timeout, 1.0))})
    seen = f"streams seen: {others}" if others else "no stream at all is visible"
    raise StreamError(f"LSL stream {name!r} not found within {timeout:g} s ({seen}); start it first, "
                      "e.g. neurodecode replay FILE --name NAME")


def play(raw, name: str, *, chunk_size: int = 10, repeat: int = 1, wait: float = 30.0, block: bool = True):
    """Stream a recording at real-time speed as an LSL stream, with its events as a marker stream.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Loaded recording; its annotations go out on ``<name>-annotations``
        (mne-lsl's one-hot encoding: one channel per event name, the value is
        the duration in s).
    name : str
        Name of the stream.
    chunk_size : int
        Samples per push.
    repeat : int
        Times the recording is played.
    wait : float
        Seconds to wait for a first consumer before streaming.
    block : bool
        Return when the recording has been played (else at once, with the
        player running: call ``player.stop()``).

    Returns
    -------
    player : mne_lsl.player.PlayerLSL
    """
    configure()
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ConfigError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if not isinstance(repeat, int) or repeat < 1:
        raise ConfigError(f"repeat must be a positive integer, got {repeat!r}")
    player = paced_player_class()(raw, chunk_size=chunk_size, n_repeat=repeat, name=name, wait=wait,
                             annotations=len(raw.annotations) > 0, source_id=f"neurodecode-{name}")
    player.start()
    if block:
        try:
            while player.running:
                time.sleep(0.05)
        finally:
            if player.running:
                player.stop()
    return player


def recording(file=None, *, dataset: str | None = None, subject: int | None = None, session: str | None = None,
              run: str | None = None):
    """The recording to replay: a file (any format :func:`~neurodecode.datasets.readers.read_recording`
    reads), or one run of a dataset subject (the first session and run unless named), with its
    events as annotations (stim-channel events are converted, event durations restored).

    Examples
    --------
    >>> raw = recording(dataset="SyntheticMI", subject=1)
    >>> sorted(set(raw.annotations.description))
    ['left_hand', 'right_hand']
    """
    import mne

    if (file is None) == (dataset is None):
        raise ConfigError("give a recording file or --dataset NAME --subject S, not both or neither")
    if file is not None:
        from ..datasets.readers import read_recording

        raw = read_recording(file)
        where = str(file)
    else:
        from ..datasets import get_dataset
        from ..datasets.durations import restore_event_durations
        from ..moabb_api import declared_trial_duration, subject_data
        from ..utils import natural_key

        if subject is None:
            raise ConfigError(f"--dataset {dataset} needs --subject")
        ds = get_dataset(dataset, subjects=[subject])
        runs = restore_event_durations(ds, subject, subject_data(ds, subject))
        session = str(session) if session is not None else sorted(runs, key=natural_key)[0]
        if session not in runs:
            from ..errors import UnknownNameError

            raise UnknownNameError(f"session of {ds.code} subject {subject}", session, list(runs))
        run = str(run) if run is not None else sorted(runs[session], key=natural_key)[0]
        if run not in runs[session]:
            from ..errors import UnknownNameError

            raise UnknownNameError(f"run of {ds.code} subject {subject} session {session}", run,
                                   list(runs[session]))
        raw, where = runs[session][run], f"{ds.code} subject {subject} session {session} run {run}"
        if len(raw.annotations) == 0 and mne.pick_types(raw.info, meg=False, stim=True).size:
            events = mne.find_events(raw, shortest_event=1, verbose=False)
            names = {v: k for k, v in ds.event_id.items()}
            events = events[np.isin(events[:, 2], list(names))]
            ann = mne.annotations_from_events(events, raw.info["sfreq"], event_desc=names,
                                              first_samp=raw.first_samp, verbose=False)
            # a stim event has no length: give it the trial's (MOABB's declared duration, else the epoch's end)
            ann.duration[:] = declared_trial_duration(ds) or ds.interval[1]
            raw = raw.copy().set_annotations(ann)
    raw.load_data(verbose=False)
    logger.info(f"replaying {where}: {len(raw.ch_names)} channels, {raw.n_times / raw.info['sfreq']:.1f} s "
                f"at {raw.info['sfreq']:g} Hz")
    return raw
