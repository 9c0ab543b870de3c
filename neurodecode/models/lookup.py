"""Network classes by name: every braindecode model, neurodecode's own ``SensorTransformer`` and
``SSVEPDNN``, and the names papers and MOABB use."""
from __future__ import annotations

import inspect
import warnings
from functools import lru_cache

from ..errors import ConfigError, UnknownNameError

__all__ = ["ALIASES", "model_names", "model_class"]

#: Names used in papers and MOABB for braindecode classes, with fixed hyper-parameters.
ALIASES = {
    "ShallowConvNet": ("ShallowFBCSPNet", {}),
    "DeepConvNet": ("Deep4Net", {}),
    "EEGNet-8,2": ("EEGNet", {"F1": 8, "D": 2}),
}


@lru_cache(maxsize=1)
def _models() -> dict:
    import mne

    from ..environment import require

    with warnings.catch_warnings(), mne.utils.use_log_level("ERROR"):  # braindecode's import-time notices
        warnings.simplefilter("ignore")
        require("braindecode")  # torch and torchaudio load first: a broken pair is one clear error
        import braindecode.models as bm
        from braindecode.models.base import EEGModuleMixin

        from .sensor_transformer import SensorTransformer
        from .ssvep_dnn import SSVEPDNN

        found = {n: getattr(bm, n) for n in bm.__all__
                 if inspect.isclass(getattr(bm, n)) and issubclass(getattr(bm, n), EEGModuleMixin)
                 and getattr(bm, n) is not EEGModuleMixin}
        # neurodecode's own, braindecode-style
        return {**found, "SensorTransformer": SensorTransformer, "SSVEPDNN": SSVEPDNN}


def model_names() -> list[str]:
    """Every braindecode model class name, ``SensorTransformer``, ``SSVEPDNN``, and the aliases in
    :data:`ALIASES`."""
    return sorted(_models()) + sorted(ALIASES)


def model_class(name: str):
    """Resolve a braindecode model name or alias to ``(class, fixed_params)``.

    Raises
    ------
    UnknownNameError
        With the closest names, when ``name`` is not a braindecode model.
    """
    if not isinstance(name, str):
        raise ConfigError(f"model must be a braindecode model name, got {type(name).__name__}")
    if name in ALIASES:
        target, fixed = ALIASES[name]
        return _models()[target], dict(fixed)
    models = _models()
    if name not in models:
        raise UnknownNameError("braindecode model", name, model_names())
    return models[name], {}
