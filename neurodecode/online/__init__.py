"""Online decoding: the model a benchmark chose, fitted once and run on a live Lab Streaming Layer stream.

``train_model`` fits a pipeline as the definition's pseudo-online evaluation
does; ``play`` streams a recording in real time (mne-lsl's ``PlayerLSL``);
``OnlineDecoder`` decodes a stream chunk by chunk with the same causal recipe
and decides at the same sample counts as the replay; ``report_online`` draws
its log. Names load on first use: ``import neurodecode.online`` imports
neither mne-lsl nor torch.
"""
from ..utils import lazy_exports

_EXPORTS = {"train_model": "train", "OnlineDecoder": "decoder", "DecisionLog": "decision_log",
            "read_decisions": "decision_log", "play": "lsl", "find_stream": "lsl", "report_online": "report"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
