"""One site of a federation: its recordings, read and split where they live.

A *site spec* is plain data (what ``neurodecode federated-client --data
site.yml`` reads, and what the benchmark writes for each client it runs):

``code``
    The client's name in results (default the dataset's code).
``dataset``
    ``{name, subjects, params}``, as in a benchmark's ``datasets:``.
``paradigm``
    ``{name, params}``, a MOABB paradigm; the federation fixes the window.
``resample``
    The client's own rate in Hz (None: the paradigm's, else the recording's).
``recipe``
    The client's own preprocessing recipe (steps, or None).
``split``
    ``cross-subject`` (the default: ``test_subjects``, else the last
    ``test_size`` share of the subjects after a seeded shuffle, are held out)
    or ``within-session`` (each subject and session: the first trials in
    recording order train, the last ``test_size`` share test).
``shuffle_labels``
    Permute the training labels (a control: every mode must fall to chance).

The federation's ``validation`` share (its spec, not the site's) splits each
site's training trials once more: in each subject and session, the last
share of each class in recording order is held out to choose the round whose
model is scored, and is never trained on.

Nothing here leaves the site: :class:`SiteData` is what its client trains and
tests on.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, UnknownNameError

__all__ = ["SiteData", "check_site", "load_site", "site_classes", "SITE_KEYS", "SPLITS"]

SITE_KEYS = ("code", "dataset", "paradigm", "resample", "recipe", "split", "test_size", "test_subjects",
             "shuffle_labels", "random_state")
SPLITS = ("cross-subject", "within-session")


@dataclass
class SiteData:
    """A site's trials, split: training windows and labels (class names), validation windows and labels
    (empty without a validation share), test windows, labels and subjects."""

    code: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    test_subjects: np.ndarray
    sfreq: float
    ch_names: list
    positions: np.ndarray  # n_chans x 3 (m), NaN where the recording has none
    X_valid: np.ndarray | None = None
    y_valid: np.ndarray | None = None

    @property
    def n_chans(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_times(self) -> int:
        return self.X_train.shape[2]


def check_site(site: dict, *, where: str = "site") -> dict:
    """A site spec with its defaults, checked before anything loads (one line per problem).

    Examples
    --------
    >>> site = {"dataset": {"name": "SyntheticMI", "subjects": [1, 2]}, "paradigm": {"name": "LeftRightImagery"}}
    >>> check_site(site)["split"]
    'cross-subject'
    """
    if not isinstance(site, dict):
        raise ConfigError(f"{where}: a site is a mapping with dataset and paradigm, got {type(site).__name__}")
    for key in site:
        if key not in SITE_KEYS:
            raise UnknownNameError(f"{where} setting:", key, SITE_KEYS)
    for key in ("dataset", "paradigm"):
        if not isinstance(site.get(key), dict) or "name" not in site[key]:
            raise ConfigError(f"{where}: {key} must be a mapping with a name")
    out = {"resample": None, "recipe": None, "split": "cross-subject", "test_size": 0.3, "test_subjects": None,
           "shuffle_labels": False, "random_state": 42, **site}
    out["dataset"] = {"params": {}, "subjects": None, **site["dataset"]}
    out["paradigm"] = {"params": {}, **site["paradigm"]}
    out.setdefault("code", out["dataset"].get("params", {}).get("code") or out["dataset"]["name"])
    if out["split"] not in SPLITS:
        raise UnknownNameError(f"{where} split:", out["split"], SPLITS)
    if not 0 < float(out["test_size"]) < 1:
        raise ConfigError(f"{where}: test_size must be between 0 and 1 (a share of subjects or trials), "
                          f"got {out['test_size']}")
    if out["resample"] is not None and float(out["resample"]) <= 0:
        raise ConfigError(f"{where}: resample must be a rate in Hz above 0, got {out['resample']}")
    return out


def _reader(site: dict, tmax: float | None):
    from ..datasets import get_dataset, with_channel_types
    from ..moabb_api import make_paradigm
    from ..preprocessing import Recipe, with_recipe

    params = dict(site["paradigm"]["params"])
    if tmax is not None:
        params["tmax"] = tmax
    if site["resample"] is not None:
        params["resample"] = float(site["resample"])
    paradigm = make_paradigm(site["paradigm"]["name"], params)
    dataset = with_channel_types(get_dataset(site["dataset"]["name"], subjects=site["dataset"]["subjects"],
                                             **site["dataset"]["params"]), params.get("ch_types"))
    if site["recipe"]:
        paradigm = with_recipe(paradigm, Recipe.coerce(site["recipe"]))
    return paradigm, dataset


def site_classes(site: dict) -> list[str]:
    """The class names a site's paradigm reads from its dataset (nothing is loaded)."""
    paradigm, dataset = _reader(site, None)
    declared = getattr(paradigm, "events", None)
    return sorted(set(declared) & set(dataset.event_id)) if declared else sorted(paradigm.used_events(dataset))


def load_site(site: dict, *, classes: list[str], window: float | None = None, n_chans: int | None = None,
              validation: float = 0.0) -> SiteData:
    """Read a site's trials of ``classes`` (windows of ``window`` s from the trial start) and split them.

    ``n_chans``, when given (a client rejoining with its local layer), must
    match the channels read. ``validation`` is the share of each class of each
    subject's and session's training trials (the last ones) held out for
    choosing a round.
    """
    paradigm, dataset = _reader(site, None if window is None else (paradigm_tmin(site) + window))
    subjects = list(site["dataset"]["subjects"] or dataset.subject_list)
    X, y, meta = paradigm.get_data(dataset, subjects=subjects, return_epochs=True)
    sfreq = float(X.info["sfreq"])
    ch_names = list(X.ch_names)
    positions = np.array([ch["loc"][:3] for ch in X.info["chs"]], dtype=float)
    positions[~np.isfinite(positions).all(1) | (np.abs(positions).sum(1) == 0)] = np.nan
    data = X.get_data(copy=False).astype(np.float32)
    if window is not None:
        data = data[..., :int(round(window * sfreq))]
    keep = np.isin(y, classes)
    data, y, meta = data[keep], np.asarray(y)[keep], meta[keep].reset_index(drop=True)
    if not np.isfinite(data).all():
        raise ConfigError(f"client {site['code']}: its trials hold NaN or infinite samples; clean the recordings "
                          "or add a recipe step that repairs them")
    if n_chans is not None and data.shape[1] != n_chans:
        raise ConfigError(f"client {site['code']}: its data has {data.shape[1]} channels, and its local layer was "
                          f"built for {n_chans}; keep the site's montage, or start a new federation")
    train, test = split_trials(meta, site)
    labels = np.asarray(y).copy()
    if site["shuffle_labels"]:  # the validation trials' labels too: the control's site knows no true label
        labels[train] = np.random.default_rng(site["random_state"]).permutation(labels[train])
    valid = train[:0]
    if validation:
        fit, valid = last_share(meta.iloc[train].assign(label=labels[train]), validation, site, "validation",
                                by=("subject", "session", "label"))
        train, valid = train[fit], train[valid]
        if len(set(labels[valid])) < 2:
            raise ConfigError(f"client {site['code']}: its validation trials hold {len(set(labels[valid]))} "
                              "class(es), and choosing a round needs 2; give the site more training trials, or "
                              "set validation: 0")
    return SiteData(site["code"], data[train], labels[train], data[test], np.asarray(y)[test],
                    meta["subject"].to_numpy()[test], sfreq, ch_names, positions, data[valid], labels[valid])


def paradigm_tmin(site: dict) -> float:
    return float(site["paradigm"]["params"].get("tmin") or 0.0)


def held_out_subjects(site: dict, subjects: list) -> list:
    """The subjects a cross-subject site holds out (explicit, else a seeded share)."""
    if site["test_subjects"]:
        held = list(site["test_subjects"])
        unknown = sorted(set(held) - set(subjects))
        if unknown:
            raise ConfigError(f"client {site['code']}: test_subjects {unknown} are not among its subjects {subjects}")
    else:
        order = np.random.default_rng(site["random_state"]).permutation(sorted(subjects))
        held = sorted(order[:max(1, math.ceil(site["test_size"] * len(subjects)))].tolist())
    if len(held) >= len(subjects):
        raise ConfigError(f"client {site['code']}: cross-subject needs at least one training and one test subject, "
                          f"and it has {len(subjects)} subject(s); add subjects or use split: within-session")
    return held


def split_trials(meta, site: dict) -> tuple[np.ndarray, np.ndarray]:
    """Training and test trial indices of a site (recording order within each subject and session)."""
    subjects = meta["subject"].to_numpy()
    if site["split"] == "cross-subject":
        held = np.isin(subjects, held_out_subjects(site, sorted(set(subjects.tolist()))))
        return np.flatnonzero(~held), np.flatnonzero(held)
    return last_share(meta, site["test_size"], site, "test")


def last_share(meta, share: float, site: dict, part: str, by=("subject", "session")) -> tuple[np.ndarray, np.ndarray]:
    """Positions (in ``meta``'s order) of the first trials and of the last ``share`` of each group ``by``
    (each subject's session; a validation share also per class, so that every class is validated, and
    a class with one trial in a session keeps it for training)."""
    first, last = [], []
    for idx in meta.reset_index(drop=True).groupby(list(by), sort=False).indices.values():
        if part == "validation" and len(idx) == 1:  # a class's only trial in a session trains
            first.append(idx)
            continue
        n_last = max(1, math.ceil(share * len(idx)))
        if n_last >= len(idx):
            fix = ("lower test_size or use split: cross-subject" if part == "test" else
                   "lower validation or give the site more training trials")
            what = "a session of {} trial(s)" if part == "test" else "a class of a session with {} training trial(s)"
            raise ConfigError(f"client {site['code']}: {what.format(len(idx))} cannot be split into training and "
                              f"{part} trials; {fix}")
        first.append(idx[:-n_last])
        last.append(idx[-n_last:])
    return np.sort(np.concatenate(first)), np.sort(np.concatenate(last or [np.zeros(0, int)]))


