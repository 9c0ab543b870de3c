"""The one module that touches private names of other libraries (MNE, mne-lsl, torch, braindecode), each listed in
:data:`PRIVATE` (and :data:`PRIVATE_ATTRIBUTES` for attributes set on instances) with why no public
name does the job; ``tests/test_layout.py`` fails when one of them disappears upstream, and no other
module may use them. MOABB's have their own boundary,
:mod:`neurodecode.moabb_api`."""
from __future__ import annotations

import contextlib
import logging

__all__ = ["PRIVATE", "PRIVATE_ATTRIBUTES", "unlocked", "lsl_lost_error", "tensor_version", "paced_player_class",
           "reve_positions_file", "steegformer_vocabulary_source"]

#: Private names used, and why each is unavoidable.
PRIVATE = {
    "mne:Info._unlock":
        "an Info's sfreq and lowpass have no public setter: a resampled stream (the resample step, its "
        "streaming form, the synthetic MEG recording built on a shipped sensor layout) must say its new rate "
        "without refiltering the data or losing the sensor geometry that mne.create_info would drop",
    "mne_lsl.lsl._utils:LostError":
        "the error mne-lsl raises when a stream's source is lost; mne-lsl does not export it publicly, and a "
        "live decoder must tell a lost stream from any other failure",
    "mne_lsl.player:PlayerLSL._stream":
        "the body of PlayerLSL's streaming loop, the only place to hold the first chunk until a consumer "
        "connects and to push each chunk when its last sample is due; PlayerLSL has no public hook for either",
    "torch:Tensor._version":
        "the in-place modification counter of a tensor; torch has no public way to tell that weights changed "
        "in place (a fine-tune, load_state_dict), which invalidates the merged-kernel copy kept for inference",
    "mne.datasets.utils:_get_path":
        "the folder where braindecode's REVE reads its channel-position bank (its RevePositionBank resolves it "
        "with this function and key REVE_POSITIONS_PATH): REVE downloads the file there, into the MNE data "
        "folder, whenever it is missing, so an offline build must find it there first",
    "braindecode.models.steegformer:_CHANNELS_REPO":
        "the Hugging Face repository of STEEGFormer's channel vocabulary, which braindecode downloads (retrying "
        "for about 25 s offline, then mapping channels by position in the list) when a model is built from "
        "channel names; braindecode has no public name for it",
    "braindecode.models.steegformer:_CHANNELS_FILE":
        "the file of that vocabulary in its repository (see _CHANNELS_REPO)",
}

#: Attributes that a private method above reads on instances, set in the class's own code.
PRIVATE_ATTRIBUTES = {
    "mne_lsl.player:PlayerLSL": ("_outlet", "_outlet_annotations", "_target_timestamp", "_streaming_delay"),
}


def _resolve(target: str):
    import importlib

    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@contextlib.contextmanager
def unlocked(info):
    """``info`` open for the keys MNE keeps read-only (``sfreq``, ``lowpass``); see :data:`PRIVATE`."""
    with info._unlock():
        yield info


def lsl_lost_error() -> type:
    """mne-lsl's ``LostError`` class; see :data:`PRIVATE`."""
    return _resolve("mne_lsl.lsl._utils:LostError")


def tensor_version(tensor) -> int:
    """torch's in-place modification counter of ``tensor``; see :data:`PRIVATE`."""
    return tensor._version


def paced_player_class() -> type:
    """mne-lsl's ``PlayerLSL``, waiting for a consumer and pacing chunks as an amplifier; see :data:`PRIVATE`."""
    import time

    from mne_lsl.lsl import local_clock
    from mne_lsl.player import PlayerLSL

    class Player(PlayerLSL):
        """``PlayerLSL`` that holds its first chunk until a consumer is connected (at most
        ``wait`` seconds), so a decoder started a moment later misses no sample, and that
        pushes each chunk when its last sample's timestamp is reached, as an amplifier does.

        PlayerLSL pushes as soon as it starts (a late inlet would miss the first chunks
        and count samples from another origin), and pushes each chunk one chunk period
        before the timestamp it gives it (latencies would come out negative).
        ``_stream``, the body of PlayerLSL's streaming loop, is overridden; see :data:`PRIVATE`.
        """

        def __init__(self, *args, wait: float = 30.0, **kwargs):
            super().__init__(*args, **kwargs)
            self._wait, self._waited = wait, False

        def _stream(self):
            if not self._waited:
                self._waited = True
                if not self._outlet.wait_for_consumers(self._wait):
                    logging.getLogger("neurodecode.online").warning(
                        f"{self.name}: no consumer after {self._wait:g} s; streaming anyway")
                if self._outlet_annotations is not None:
                    self._outlet_annotations.wait_for_consumers(min(self._wait, 2.0))
                self._target_timestamp = local_clock()
            # PlayerLSL stamps a chunk's last sample one chunk period ahead and pushes it at once;
            # an amplifier delivers a chunk once its last sample is acquired, so wait for that stamp
            lead = self._target_timestamp + self._streaming_delay - local_clock()
            if lead > 0:
                time.sleep(lead)
            return super()._stream()

    return Player


def reve_positions_file():
    """The file braindecode's REVE reads its channel positions from (``Path``); see :data:`PRIVATE`."""
    from mne.datasets.utils import _get_path

    return _get_path(None, "REVE_POSITIONS_PATH", "REVE positions") / "reve_positions.json"


def steegformer_vocabulary_source() -> tuple[str, str]:
    """``(repository, file)`` of STEEGFormer's channel vocabulary on the Hugging Face Hub; see :data:`PRIVATE`."""
    return (_resolve("braindecode.models.steegformer:_CHANNELS_REPO"),
            _resolve("braindecode.models.steegformer:_CHANNELS_FILE"))
