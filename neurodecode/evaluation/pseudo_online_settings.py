"""The settings of a pseudo-online evaluation: their checks, and the stand-in that keys MOABB's store."""
from __future__ import annotations

from ..errors import ConfigError
from ..moabb_api import FixedTransformer
from .splits import SPLITS

__all__ = ["IDLE_MODES", "PseudoOnlineSettings", "check_settings", "check_task_interval"]

IDLE_MODES = ("class", "threshold")


class PseudoOnlineSettings(FixedTransformer):
    """Stands for the data path of a pseudo-online evaluation in MOABB's results store.

    Its repr carries every setting that changes the results, so MOABB's
    results keys change with them.

    Examples
    --------
    >>> PseudoOnlineSettings("window=1.0, step=0.1")
    PseudoOnlineSettings(window=1.0, step=0.1)
    """

    def __init__(self, settings: str):
        super().__init__()
        self.settings = settings

    def __repr__(self) -> str:
        return f"PseudoOnlineSettings({self.settings})"

    def transform(self, X, y=None):
        return X


def check_task_interval(value):
    """``None``, a ``[start, end]`` pair (s after the cue) for every dataset, or ``{code: [start, end]}``.

    Examples
    --------
    >>> check_task_interval({"Kalunga2016": [0, 4]})
    {'Kalunga2016': [0.0, 4.0]}
    """
    if value is None:
        return None
    items = value.items() if isinstance(value, dict) else [(None, value)]
    for code, pair in items:
        where = f"task_interval of {code}" if code else "task_interval"
        if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair)):
            raise ConfigError(f"{where} must be [start, end] in seconds after the cue, got {pair!r}")
        if pair[0] >= pair[1]:
            raise ConfigError(f"{where} starts at {pair[0]:g} s and ends at {pair[1]:g} s: the start must "
                              "come before the end")
    return {str(k): [float(v) for v in p] for k, p in value.items()} if isinstance(value, dict) \
        else [float(v) for v in value]


def check_settings(*, window, step, idle, split, guard, train_step, idle_ratio, train_fraction, gap,
                   smoothing, training="subject", finetune=None) -> None:
    """Raise :class:`~neurodecode.errors.ConfigError` on the first setting that cannot work.

    Examples
    --------
    >>> check_settings(window=1.0, step=0.1, idle="class", split="within-session", guard=0.0,
    ...                train_step=None, idle_ratio=1.0, train_fraction=0.5, gap=None, smoothing=None)
    """
    for name, value in (("window", window), ("step", step), ("train_step", train_step)):
        if value is not None and not (isinstance(value, (int, float)) and value > 0):
            raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")
    if idle not in IDLE_MODES:
        raise ConfigError(f"idle must be one of {IDLE_MODES}, got {idle!r}")
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {SPLITS}, got {split!r}")
    if guard < 0 or idle_ratio <= 0 or (gap is not None and gap < 0):
        raise ConfigError("guard and gap must be >= 0 seconds and idle_ratio > 0")
    if not 0 < train_fraction < 1:
        raise ConfigError(f"train_fraction must be in (0, 1), got {train_fraction!r}")
    if smoothing is not None and (not isinstance(smoothing, dict) or set(smoothing) - {"method", "k"}):
        raise ConfigError(f"smoothing must be {{'method': 'mean' | 'vote', 'k': int}}, got {smoothing!r}")
    from .leave_block_out import TRAININGS

    if training not in TRAININGS:
        from ..errors import UnknownNameError

        raise UnknownNameError("training", str(training), TRAININGS)
    if training != "subject" and split != "within-session":
        raise ConfigError(f"training {training!r} trains on every subject's other runs, a within-session "
                          f"split; with split {split!r} use training 'subject'")
    if training == "two-stage" and (idle != "class" or smoothing):
        raise ConfigError("training 'two-stage' fine-tunes the network itself, so it needs idle 'class' and no "
                          "smoothing")
    if finetune is not None and (not isinstance(finetune, dict) or set(finetune) - {"max_epochs", "lr", "freeze"}):
        raise ConfigError(f"finetune takes max_epochs, lr and freeze (DeepClassifier.fine_tune), got {finetune!r}")
