"""The ready benchmark behind ``neurodecode quickstart``, on synthetic data or a dataset on disk."""
from __future__ import annotations

from ..errors import ConfigError
from ..utils import resource_path
from ..yamlio import read_yaml_mapping

__all__ = ["quickstart_config", "QUICKSTART"]

QUICKSTART = resource_path("benchmarks", "quickstart.yml")

#: Per paradigm kind: MOABB paradigm, its settings, classical pipelines and window (s).
_PROFILES = {
    "imagery": ({"fmin": 8, "fmax": 30, "resample": 128}, ["CSP+LDA", "TS+LR", "MDM"], 1.0),
    "ssvep": ({"fmin": 3, "fmax": 45, "resample": 128}, ["TS+LR", "FB-TS+LR", "MDM"], 2.0),
    "p300": ({"fmin": 1, "fmax": 24, "resample": 128}, ["xDAWN+TS+LR", "sLDA", "TS+LR"], None),
}


def quickstart_config(dataset: str | None = None) -> dict:
    """The quickstart benchmark definition; with ``dataset``, the same benchmark on that dataset.

    On a real dataset: its paradigm's usual pipelines plus the network of the
    quickstart, on the first two subjects present on disk (or the first two
    of the dataset when none is, to be downloaded), offline within-session and,
    except for P300, pseudo-online with rest classes as idle.

    Examples
    --------
    >>> quickstart_config()["datasets"][0]["name"]
    'SyntheticMI'
    >>> cfg = quickstart_config("Kalunga2016")
    >>> cfg["paradigm"]["name"], cfg["evaluations"][1]["rest"]
    ('SSVEP', ['rest'])
    """
    spec = read_yaml_mapping(QUICKSTART, "benchmark definition")
    if dataset is None:
        return spec
    from ..datasets import available_subjects, get_dataset

    ds = get_dataset(dataset)
    if ds.paradigm not in _PROFILES:
        raise ConfigError(f"quickstart knows imagery, ssvep and p300 datasets; {ds.code} is {ds.paradigm}")
    params, classical, window = _PROFILES[ds.paradigm]
    events = sorted(ds.event_id)
    if ds.paradigm == "imagery":
        name = "LeftRightImagery" if {"left_hand", "right_hand"} <= set(events) else "MotorImagery"
        if name == "MotorImagery":
            params = {**params, "n_classes": min(4, len(events))}
    elif ds.paradigm == "ssvep":
        name, params = "SSVEP", {**params, "n_classes": len(events)}
    else:
        name = "P300"
    subjects = (available_subjects(ds) or list(ds.subject_list))[:2]
    network = next(p for p in spec["pipelines"] if isinstance(p, dict))
    evaluations = ["within-session"]
    if window is not None:
        trial = float(ds.interval[1] - ds.interval[0])
        evaluations.append({"type": "pseudo-online", "split": "within-session", "window": min(window, trial),
                            "step": 0.25, "rest": [e for e in events if e == "rest"]})
    return {"name": f"quickstart-{ds.code}", "datasets": [{"name": dataset, "subjects": subjects}],
            "paradigm": {"name": name, "params": params}, "pipelines": [*classical, network],
            "evaluations": evaluations, "random_state": spec.get("random_state", 42),
            "output": f"results/quickstart-{ds.code}"}
