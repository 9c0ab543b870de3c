"""Saved models that run no code when opened, and refuse data they were not trained for.

A saved model (``*.ndmodel``) is one zip file, written to a temporary
sibling and renamed, so a crash never leaves half a model:

``meta.json``
    The layout the model was trained on (recipe digest, channel names,
    sampling frequency in Hz, window length, label encoding) and, for live
    decoding, the window, step, idle mode and causal recipe.
``input_info.fif``
    The :class:`mne.Info` of the stream a live model reads (units, positions),
    in MNE's FIF format.
``estimator.skops``
    The scikit-learn estimator, written with :mod:`skops.io`. Loading checks
    every type it names against :data:`TRUSTED` first and refuses the file,
    naming the types, if any is not there: nothing is built and no pickle is
    ever read.
``weights/net-<digest>.safetensors``
    The weights of each network in it, in the safetensors format.

:meth:`SavedModel.check` compares incoming windows with the layout before any
prediction. Files of the first format were pickles, which run code when
opened; they are refused with a line that says how to re-save a trusted one
(``neurodecode resave-model``).
"""
from __future__ import annotations

import json
import tempfile
import zipfile
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from ..errors import ConfigError
from ..utils import atomic_write

__all__ = ["save_model", "load_model", "resave_legacy_model", "SavedModel", "TRUSTED", "network_state",
           "network_weights"]

FORMAT = 2
#: Types, beyond skops' own trusted ones (built-ins, NumPy, scikit-learn), that a model file may
#: hold: the steps of the registry's pipelines and networks, and the online wrappers. A file that
#: names any other type is refused before anything in it is built.
TRUSTED = (
    "neurodecode.models.deep.DeepClassifier",
    "neurodecode.models.filterbank.WindowFilterBank",
    "neurodecode.models.filterbank.FilterBankCSP",
    "neurodecode.models.decision.DecisionSmoother",
    "neurodecode.models.decision.IdleThreshold",
    "neurodecode.models.riemann.Covariances",
    "neurodecode.models.riemann.TangentSpace",
    "neurodecode.models.ssvep.CCA",
    "neurodecode.models.ssvep.FBCCA",
    "neurodecode.models.ssvep.TRCA",
    "pyriemann.classification.FgMDM",
    "pyriemann.classification.MDM",
    "pyriemann.estimation.Covariances",
    "pyriemann.estimation.XdawnCovariances",
    "pyriemann.spatialfilters.CSP",
    "pyriemann.spatialfilters.Xdawn",
    "pyriemann.tangentspace.FGDA",
    "pyriemann.tangentspace.TangentSpace",
    "moabb.pipelines.features.ExtendedSSVEPSignal",
    "moabb.pipelines.utils.FilterBank",
    "mne.decoding.transformer.Vectorizer",
    "sklearn.feature_selection._univariate_selection.f_classif",  # SelectKBest's default score function
)
_META, _INFO, _ESTIMATOR, _WEIGHTS = "meta.json", "input_info.fif", "estimator.skops", "weights/"
#: While a model is written: where networks put their weights. While one is read: where they are.
_weights: ContextVar[dict | None] = ContextVar("neurodecode_model_weights", default=None)


@dataclass
class SavedModel:
    """A fitted estimator with the data layout it was trained on.

    Attributes
    ----------
    estimator : scikit-learn estimator
    meta : dict
        ``recipe_digest``, ``ch_names``, ``sfreq`` (Hz), ``n_times``,
        ``classes``, and ``online`` for a model fitted for live decoding.
    """

    estimator: BaseEstimator
    meta: dict

    def check(self, windows) -> None:
        """Raise :class:`~neurodecode.errors.ConfigError` if ``windows`` differ from the training layout.

        Parameters
        ----------
        windows : neurodecode.windows.Windows
            Windows cut with the recipe; ``windows.recipe_digest`` is compared when present.
        """
        m = self.meta
        problems = []
        if list(windows.ch_names) != m["ch_names"]:
            missing = [c for c in m["ch_names"] if c not in windows.ch_names]
            extra = [c for c in windows.ch_names if c not in m["ch_names"]]
            what = f"missing {missing}, unexpected {extra}" if missing or extra else "different order"
            problems.append(f"channels differ ({what}); apply the recipe's harmonise/pick steps")
        if not np.isclose(windows.sfreq, m["sfreq"]):
            problems.append(f"sfreq is {windows.sfreq:g} Hz, the model expects {m['sfreq']:g} Hz; resample")
        if windows.X.shape[-1] != m["n_times"]:
            problems.append(f"windows have {windows.X.shape[-1]} samples, the model expects {m['n_times']} "
                            f"({m['n_times'] / m['sfreq']:g} s)")
        digest = getattr(windows, "recipe_digest", None)
        if m.get("recipe_digest") and digest and digest != m["recipe_digest"]:
            problems.append(f"preprocessed with recipe {digest}, the model was trained after recipe "
                            f"{m['recipe_digest']}; preprocess with the same recipe")
        if problems:
            raise ConfigError("data does not match the saved model: " + "; ".join(problems))

    def predict(self, windows) -> np.ndarray:
        """Check ``windows``, then predict their labels."""
        self.check(windows)
        return self.estimator.predict(windows.X)

    def predict_proba(self, windows) -> np.ndarray:
        """Check ``windows``, then return class probabilities (columns follow ``meta['classes']``)."""
        self.check(windows)
        return self.estimator.predict_proba(windows.X)


# -- network weights, for DeepClassifier's state --------------------------------------------

def network_state(module) -> bytes | str:
    """The weights of a torch ``module`` in the safetensors format: the bytes themselves, or,
    while a model file is being written, the name of the file entry that holds them."""
    from safetensors.torch import save

    # copies: safetensors refuses tensors that share memory (tied or parametrized weights)
    blob = save({k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()})
    sink = _weights.get()
    if sink is None:
        return blob
    import hashlib

    # named by content: skops may ask for a state more than once, and one network is one entry
    name = f"{_WEIGHTS}net-{hashlib.sha256(blob).hexdigest()[:16]}.safetensors"
    sink[name] = blob
    return name


def network_weights(state: bytes | str, device: str = "cpu") -> dict:
    """The state dict that :func:`network_state` gave (bytes, or a model file's entry name)."""
    from safetensors.torch import load

    if isinstance(state, str):  # a model file's entry: someone else's data, safetensors only
        entries = _weights.get() or {}
        if state not in entries:
            raise ConfigError(f"the model file has no weights entry {state!r}; it is damaged: save it again")
        return {k: v.to(device) for k, v in load(entries[state]).items()}
    if state[:2] == b"PK":  # torch.save's zip, from a model pickled by an earlier version
        import io

        import torch

        return torch.load(io.BytesIO(state), map_location=device, weights_only=True)  # tensors only, no code
    return {k: v.to(device) for k, v in load(state).items()}


@contextmanager
def _weights_entries(entries: dict):
    token = _weights.set(entries)
    try:
        yield entries
    finally:
        _weights.reset(token)


# -- files -------------------------------------------------------------------------------------

def _write(path: Path, meta: dict, estimator) -> Path:
    import mne
    import skops.io as sio

    online = meta.get("online") or {}
    info = online.get("input_info")
    plain = {**meta, "online": {k: v for k, v in online.items() if k != "input_info"}} if online else meta
    try:
        text = json.dumps(plain, indent=1)
    except TypeError as exc:
        raise ConfigError(f"{path}: the model's metadata must be plain data (JSON): {exc}") from None
    with _weights_entries({}) as weights:
        blob = sio.dumps(estimator)
    with tempfile.TemporaryDirectory(prefix="neurodecode-model-") as scratch, atomic_write(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr(_META, text)
            z.writestr(_ESTIMATOR, blob)
            for name, data in weights.items():
                z.writestr(name, data)
            if info is not None:
                fif = Path(scratch) / "input-info.fif"
                mne.io.write_info(fif, info)
                z.write(fif, _INFO)
    return path


def save_model(estimator: BaseEstimator, path: str | Path, windows, recipe=None, *, online: dict | None = None) -> Path:
    """Save a fitted estimator with the layout of the windows it was trained on.

    Parameters
    ----------
    estimator : scikit-learn estimator
        Fitted; made of the registry's steps (see :data:`TRUSTED`), else
        :func:`load_model` refuses the file.
    path : str | Path
        Destination file (conventionally ``*.ndmodel``).
    windows : neurodecode.windows.Windows
        The training windows (only their layout is stored).
    recipe : neurodecode.preprocessing.Recipe | str | None
        The recipe, or its digest, that produced the windows.
    online : dict | None
        What a live decoder needs beyond the layout (see
        :func:`neurodecode.online.train_model`): ``window`` and ``step`` (s),
        ``idle``, ``smoothing``, ``classes``, ``rest``, ``recipe`` (the causal
        recipe as a dict) and ``input_info`` (the :class:`mne.Info` of the
        stream it reads, units and positions included). Plain data, but for
        ``input_info``.

    Returns
    -------
    path : Path
    """
    from sklearn.utils.validation import check_is_fitted

    from ..environment import neurodecode_version

    check_is_fitted(estimator)
    digest = getattr(recipe, "digest", recipe) or getattr(windows, "recipe_digest", None)
    meta = {"format": FORMAT, "neurodecode": neurodecode_version(), "recipe_digest": digest,
            "ch_names": list(windows.ch_names), "sfreq": float(windows.sfreq),
            "n_times": int(windows.X.shape[-1]), "classes": [str(c) for c in getattr(estimator, "classes_", [])]}
    if online is not None:
        meta["online"] = online
    return _write(Path(path), meta, estimator)


def _refuse_legacy(path: Path) -> None:
    head = path.read_bytes()[:1]
    if head == b"\x80":  # pickle protocol 2 and later
        raise ConfigError(f"{path}: a model file of neurodecode's first format, a pickle, which can run code when "
                          "opened, so it is not opened. If it comes from a source you trust, re-save it in the "
                          f"safe format: neurodecode resave-model {path} NEW.ndmodel --trust-pickle; otherwise ask "
                          "for the model again, or retrain it with neurodecode train")
    raise ConfigError(f"{path}: not a readable neurodecode model (not a zip file); save it again with save_model")


def load_model(path: str | Path) -> SavedModel:
    """Load a model written by :func:`save_model`, running nothing that the file names.

    Raises
    ------
    ConfigError
        The file is missing, truncated, not a neurodecode model, of the old
        (pickle) format, or it names a type outside :data:`TRUSTED`.
    """
    import mne
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such model file")
    if not zipfile.is_zipfile(path):
        _refuse_legacy(path)
    try:
        with zipfile.ZipFile(path) as z:
            entries = {n: z.read(n) for n in z.namelist()}
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ConfigError(f"{path}: not a readable neurodecode model ({type(exc).__name__}: {exc}); "
                          "save it again with save_model") from None
    try:
        meta = json.loads(entries[_META])
        blob = entries[_ESTIMATOR]
    except (KeyError, ValueError):
        raise ConfigError(f"{path}: not a neurodecode model file (no {_META} or {_ESTIMATOR})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a neurodecode model file of format {FORMAT} "
                          f"(it says {meta.get('format') if isinstance(meta, dict) else meta!r})")
    try:
        named = sio.get_untrusted_types(data=blob)
    except Exception as exc:  # noqa: BLE001  (skops' own errors for a malformed file)
        raise ConfigError(f"{path}: the estimator in it cannot be read ({type(exc).__name__}: {exc})") from None
    refused = sorted(t for t in named if t not in TRUSTED)
    if refused:
        raise ConfigError(f"{path}: refused, nothing in it was run: it names types neurodecode does not trust "
                          f"({', '.join(refused)}); load only models saved by neurodecode from its registry's "
                          "pipelines")
    with _weights_entries({n: b for n, b in entries.items() if n.startswith(_WEIGHTS)}):
        estimator = sio.loads(blob, trusted=named)
    if "online" in meta:
        if _INFO not in entries:
            raise ConfigError(f"{path}: a live-decoding model without {_INFO}; save it again with neurodecode train")
        with tempfile.TemporaryDirectory(prefix="neurodecode-model-") as scratch:
            fif = Path(scratch) / "input-info.fif"
            fif.write_bytes(entries[_INFO])
            meta["online"]["input_info"] = mne.io.read_info(fif, verbose="error")
    return SavedModel(estimator, meta)


def resave_legacy_model(path: str | Path, out: str | Path, *, trust_pickle: bool = False) -> Path:
    """Re-save a model of the first (pickle) format in the safe format.

    Opening a pickle runs whatever code it names: do this only for a file
    from a source you trust, and say so with ``trust_pickle=True``.

    Parameters
    ----------
    path : str | Path
        The old ``.ndmodel``.
    out : str | Path
        The new model file.
    trust_pickle : bool
        Must be True: the caller vouches for the file.

    Returns
    -------
    out : Path
    """
    import pickle

    path = Path(path)
    if not trust_pickle:
        raise ConfigError(f"{path}: opening a pickle runs the code it names; pass --trust-pickle "
                          "(trust_pickle=True) only for a file from a source you trust")
    if not path.is_file():
        raise ConfigError(f"{path}: no such model file")
    if zipfile.is_zipfile(path):
        raise ConfigError(f"{path}: already in the safe format; nothing to re-save")
    try:
        content = pickle.loads(path.read_bytes())  # noqa: S301  (the caller vouched for this file)
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"{path}: not a readable model pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(content, dict) or not isinstance(content.get("meta"), dict) \
            or content["meta"].get("format") != 1:
        raise ConfigError(f"{path}: not a neurodecode model of the first format")
    return _write(Path(out), {**content["meta"], "format": FORMAT}, content["estimator"])
