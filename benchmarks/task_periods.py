"""Kalunga2016 pseudo-online scores with the old truth (MOABB's 2-4 s epoch interval) and the new
one (the trial duration MOABB declares, 6 s from the cue, clipped at the next cue).

The stimulus flickers for the whole trial, so the old truth called most of the stimulation
"idle". Printed per subject: nMCC, idle false-positive rate, false activations per minute and
detection rate under both truths, same pipeline (FB-TS+LR), windows (2 s every 0.1 s) and
seed. Run: ``python benchmarks/task_periods.py [step]`` (about 4 minutes on 2 cores at 0.1 s).
"""
from __future__ import annotations

import logging
import sys
import tempfile
import warnings

import pandas as pd


def main(step: float = 0.1) -> None:
    import mne
    from moabb.paradigms import SSVEP

    from neurodecode.config import apply
    from neurodecode.datasets import get_dataset
    from neurodecode.evaluation import PseudoOnlineEvaluation
    from neurodecode.models import get_pipeline

    apply()
    mne.set_log_level("ERROR")
    logging.getLogger("moabb").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    ds = get_dataset("Kalunga2016")
    ds.subject_list = list(range(1, 10))
    out = []
    for label, task_interval in (("before: epoch interval", list(ds.interval)), ("after: trial duration", None)):
        with tempfile.TemporaryDirectory() as tmp:
            ev = PseudoOnlineEvaluation(SSVEP(fmin=3, fmax=45, n_classes=4, resample=128), [ds], window=2.0,
                                        step=step, rest=["rest"], task_interval=task_interval, hdf5_path=tmp,
                                        random_state=0, timed_windows=20)
            for subject in ds.subject_list:
                rows = pd.DataFrame(ev.evaluate_subject(ds, subject, {"FB-TS+LR": get_pipeline("FB-TS+LR")}))
                out.append(rows.assign(truth=label, subject=subject))
    table = pd.concat(out, ignore_index=True)
    cols = ["score", "idle_fpr", "fa_per_min", "detection_rate", "itr", "itr_window"]
    per_subject = table.groupby(["truth", "subject"])[cols].mean().unstack("truth")
    with pd.option_context("display.width", 250, "display.float_format", "{:.3f}".format):
        print(f"Kalunga2016 1-9, FB-TS+LR, 2 s windows every {step:g} s; task period source per truth: "
              f"{table.groupby('truth')['task_period'].first().to_dict()}")
        print(per_subject.to_string())
        print(table.groupby("truth")[cols].mean().to_string())


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 0.1)
