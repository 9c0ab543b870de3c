"""FASTER (the ``faster`` step, mne-faster) against today's ``bad_channels`` + ``ica`` on PhysionetMI S001.

The same paradigm (LeftRightImagery 8-30 Hz, imagery runs 4, 8, 12), the
same pipelines and MOABB's own within-session evaluation (5-fold ROC-AUC),
with four recipes that all start with a 1-40 Hz band-pass:

* ``bandpass``: nothing else (the reference);
* ``bad_channels+ica``: pyprep's detectors (interpolated), then ICA (Picard,
  15 components) removing ocular (Fp1/Fp2 proxies) and muscle components;
* ``faster``: FASTER's bad channels (interpolated), bad epochs (annotated
  ``BAD_faster``, so MOABB drops the trials over them) and bad ICA components;
* ``faster-no-epochs``: FASTER without its epoch step, so the windows are
  exactly those of the other recipes.

For each recipe it prints what was flagged per run (channels, annotated
seconds, components), the seconds the recipe took, the trials MOABB kept and
the scores; the anchor is the ``bandpass`` row on the same trials.

Run: ``python benchmarks/faster_vs_cleaning.py`` (about 2 minutes on 2 cores;
needs ../shared/data).
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

BAND = {"bandpass": {"l_freq": 1.0, "h_freq": 40.0}}
RECIPES = {
    "bandpass": [BAND],
    "bad_channels+ica": [BAND, {"bad_channels": {}}, {"ica": {"muscle": True}}],
    "faster": [BAND, {"faster": {}}],
    "faster-no-epochs": [BAND, {"faster": {"bad_epochs": False}}],
}
PIPELINES = ("CSP+LDA", "TS+LR", "MDM")


def flagged(recipe_name: str, raws: dict) -> list[dict]:
    """Run the recipe on every run, timing it and listing what its cleaning steps flagged."""
    from neurodecode.preprocessing import Recipe
    from neurodecode.preprocessing.artifacts import BadChannels, Faster

    out = []
    for run, raw in raws.items():
        recipe = Recipe.coerce(RECIPES[recipe_name])
        t0 = time.perf_counter()
        cleaned = recipe.apply_raw(raw.copy().load_data())
        seconds = time.perf_counter() - t0
        filtered = Recipe.coerce([BAND]).apply_raw(raw.copy().load_data())
        bads = []
        if recipe_name.startswith("faster"):
            bads = Faster(interpolate=False, bad_epochs=False, ica=False).apply(filtered.copy()).info["bads"]
        elif recipe_name == "bad_channels+ica":
            bads = BadChannels(interpolate=False).apply(filtered.copy()).info["bads"]
        marked = cleaned.annotations[cleaned.annotations.description == "BAD_faster"]
        out.append({"recipe": recipe_name, "run": run, "seconds": seconds, "bad_channels": ",".join(bads),
                    "bad_epoch_s": float(np.sum(marked.duration)),
                    "changed_rms_uV": float(np.sqrt(np.mean((cleaned.get_data(picks="eeg")
                                                             - filtered.get_data(picks="eeg")) ** 2)) * 1e6)})
    return out


def main() -> None:
    os.environ.setdefault("NEURODECODE_OFFLINE", "1")
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mne_data"
    os.environ.setdefault("NEURODECODE_DATA", str(shared))
    warnings.simplefilter("ignore")
    logging.getLogger("moabb").setLevel(logging.ERROR)
    import mne

    mne.set_log_level("ERROR")
    from neurodecode.datasets import get_dataset
    from neurodecode.evaluation.compare import moabb_groups
    from neurodecode.moabb_api import make_paradigm, offline_rows, subject_data
    from neurodecode.models import get_pipeline
    from neurodecode.preprocessing import with_recipe

    dataset = get_dataset("PhysionetMI", subjects=[1])
    raws = next(iter(subject_data(dataset, 1).values()))
    # the left/right imagery runs
    imagery = {f"R{4 + 2 * int(run):02d}": raw for run, raw in raws.items() if run in ("0", "2", "4")}
    paradigm = make_paradigm("LeftRightImagery", {"fmin": 8, "fmax": 30})
    details, scores = [], []
    with tempfile.TemporaryDirectory() as home:
        os.environ["NEURODECODE_HOME"] = home
        for name in RECIPES:
            details += flagged(name, imagery)
            prepared = with_recipe(paradigm, RECIPES[name], cache=False)
            X, y, _ = prepared.get_data(dataset, subjects=[1])
            for pipe in PIPELINES:
                [(pipelines, extra)] = moabb_groups({pipe: get_pipeline(pipe)})
                rows = offline_rows("within-session", prepared, dataset, pipelines, random_state=42, **extra)
                scores.append({"recipe": name, "pipeline": pipe, "trials": len(y),
                               "roc_auc": float(np.mean([r["score"] for r in rows]))})
    details, scores = pd.DataFrame(details), pd.DataFrame(scores)
    with pd.option_context("display.width", 200, "display.max_colwidth", 60, "display.float_format", "{:.3f}".format):
        print("What each recipe flagged, per imagery run of PhysionetMI S001:")
        print(details.to_string(index=False))
        print("\nWithin-session ROC-AUC (MOABB, 5-fold), same paradigm and pipelines:")
        table = scores.pivot_table(index=["recipe", "trials"], columns="pipeline", values="roc_auc").reset_index()
        reference = table.loc[table["recipe"] == "bandpass", list(PIPELINES)].to_numpy()
        for pipe in PIPELINES:
            table[f"{pipe} vs bandpass"] = table[pipe] - reference[0, list(PIPELINES).index(pipe)]
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
