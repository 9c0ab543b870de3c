"""Saved models that refuse data they were not trained for.

A saved model is one file: a pickle of ``{"meta": ..., "estimator": ...}``,
written to a temporary sibling and renamed, so a crash never leaves half a
model. ``meta`` records the recipe digest, channel names, sampling frequency,
window length and label encoding; :meth:`SavedModel.check` compares
incoming windows with them before any prediction.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from ..errors import ConfigError
from ..utils import write_atomic_bytes

__all__ = ["save_model", "load_model", "SavedModel"]

FORMAT = 1


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


def save_model(estimator: BaseEstimator, path: str | Path, windows, recipe=None, *, online: dict | None = None) -> Path:
    """Save a fitted estimator with the layout of the windows it was trained on.

    Parameters
    ----------
    estimator : scikit-learn estimator
        Fitted.
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
        stream it reads, units and positions included).

    Returns
    -------
    path : Path
    """
    from sklearn.utils.validation import check_is_fitted

    from .. import __version__

    check_is_fitted(estimator)
    digest = getattr(recipe, "digest", recipe) or getattr(windows, "recipe_digest", None)
    meta = {"format": FORMAT, "neurodecode": __version__, "recipe_digest": digest,
            "ch_names": list(windows.ch_names), "sfreq": float(windows.sfreq),
            "n_times": int(windows.X.shape[-1]), "classes": [str(c) for c in getattr(estimator, "classes_", [])]}
    if online is not None:
        meta["online"] = online
    path = Path(path)
    write_atomic_bytes(path, pickle.dumps({"meta": meta, "estimator": estimator},
                                          protocol=pickle.HIGHEST_PROTOCOL))
    return path


def load_model(path: str | Path) -> SavedModel:
    """Load a model written by :func:`save_model`.

    Raises
    ------
    ConfigError
        The file is missing, truncated or not a neurodecode model.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            content = pickle.load(f)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such model file") from exc
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable neurodecode model ({type(exc).__name__}: {exc}); "
                          "save it again with save_model") from exc
    if not isinstance(content, dict) or content.get("meta", {}).get("format") != FORMAT:
        raise ConfigError(f"{path}: not a neurodecode model file (format {FORMAT})")
    return SavedModel(content["estimator"], content["meta"])
