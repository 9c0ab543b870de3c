"""Cross-dataset evaluation against the same protocol composed by hand from MOABB and pyRiemann.

Source: SyntheticMI on BNCI2014-001's 22-channel cap at 250 Hz; target:
SyntheticMI on PhysionetMI's 64-channel cap at 160 Hz (4 + 4 subjects, as the
shipped ``cross_dataset`` definition). Shots 0, 5, 10, 20; TS+LR and MDM.

* **ours**: ``CrossDatasetEvaluation`` (template ``intersection``: the 22
  channels, 128 Hz, Euclidean alignment, pyRiemann's ``TLClassifier`` with
  the target weighing half, from-scratch baseline), run cache off;
* **anchor**: MOABB's ``LeftRightImagery(channels=<the 22>, resample=128,
  tmax=3)`` for both datasets, MOABB's ``EuclideanAlignment`` per subject,
  pyRiemann's ``TLClassifier``, and the calibration split written out here
  (first k trials per class in recording order; test = after the block).

Each side runs in its own process; the script prints wall time, the ratio,
peak RSS and the largest score difference over all rows.

Run: ``python benchmarks/cross_dataset.py`` (about 1 minute on 2 cores).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings

import numpy as np

A = {"montage": "bnci2014_001", "sfreq": 250, "n_subjects": 4, "n_sessions": 1, "n_runs": 2, "n_trials": 20,
     "snr": 0.8, "spatial_jitter": 0.015, "random_state": 11, "code": "SyntheticMI-22ch"}
B = {"montage": "physionetmi", "sfreq": 160, "n_subjects": 4, "n_sessions": 1, "n_runs": 2, "n_trials": 25,
     "snr": 0.8, "spatial_jitter": 0.015, "random_state": 12, "code": "SyntheticMI-64ch"}
SHOTS, PIPELINES, ZERO_SHOT = [0, 5, 10, 20], ("TS+LR", "MDM"), 10


def ours() -> list[dict]:
    from neurodecode.datasets import SyntheticMI
    from neurodecode.evaluation import CrossDatasetEvaluation
    from neurodecode.moabb_api import make_paradigm
    from neurodecode.models import get_pipeline

    ev = CrossDatasetEvaluation(make_paradigm("LeftRightImagery", {"fmin": 8, "fmax": 30}),
                                [SyntheticMI(**A), SyntheticMI(**B)], source=[A["code"]], target=[B["code"]],
                                sfreq=128, shots=SHOTS, zero_shot_alignment=ZERO_SHOT, cache=False)
    rows = ev.evaluate({p: get_pipeline(p) for p in PIPELINES})
    return rows[["pipeline", "subject", "shots", "training", "score"]].to_dict("records")


def anchor() -> list[dict]:
    from moabb.datasets.preprocessing import EuclideanAlignment
    from moabb.paradigms import LeftRightImagery
    from pyriemann.transfer import TLClassifier, encode_domains
    from sklearn.base import clone
    from sklearn.metrics import get_scorer

    from neurodecode.datasets import SyntheticMI
    from neurodecode.models import get_pipeline

    source, target = SyntheticMI(**A), SyntheticMI(**B)
    paradigm = LeftRightImagery(fmin=8, fmax=30, channels=source.channels, resample=128, tmax=3.0)

    def aligned(X, fit_on):
        return X if len(fit_on) == 0 else EuclideanAlignment(estimator="lwf").fit(fit_on).transform(X)

    X_s, y_s, m_s = paradigm.get_data(source, subjects=source.subject_list)
    X_s = X_s[..., :384]
    for subject in source.subject_list:
        idx = np.flatnonzero(m_s["subject"] == subject)
        X_s[idx] = aligned(X_s[idx], X_s[idx])
    scorer, rows = get_scorer("roc_auc"), []
    for name in PIPELINES:
        pretrained = clone(get_pipeline(name)).fit(X_s, y_s)
        for subject in target.subject_list:
            X, y, _ = paradigm.get_data(target, subjects=[subject])
            X = X[..., :384]
            first = {c: np.flatnonzero(y == c) for c in ("left_hand", "right_hand")}
            block = max(ZERO_SHOT, *(int(first[c][max(SHOTS) - 1]) + 1 for c in first))
            test = np.arange(block, len(y))
            for k in SHOTS:
                cal = np.sort(np.concatenate([first[c][:k] for c in first]))
                Xa = aligned(X, X[cal] if k else X[:ZERO_SHOT])
                models = {"transfer": pretrained}
                if k:
                    n_s, n_t = len(y_s), len(cal)
                    weights = {"source": 0.5 * (n_s + n_t) / n_s, "target": 0.5 * (n_s + n_t) / n_t}
                    Xe, ye = encode_domains(np.concatenate([X_s, Xa[cal]]), np.concatenate([y_s, y[cal]]),
                                            np.repeat(["source", "target"], [n_s, n_t]))
                    models["transfer"] = TLClassifier("target", clone(get_pipeline(name)),
                                                      domain_weight=weights).fit(Xe, ye).estimator
                    models["scratch"] = clone(get_pipeline(name)).fit(Xa[cal], y[cal])
                for training, model in models.items():
                    rows.append({"pipeline": name, "subject": subject, "shots": k, "training": training,
                                 "score": float(scorer(model, Xa[test], y[test]))})
    return rows


def main() -> None:
    if len(sys.argv) > 1:  # one side, in its own process
        import logging

        import mne

        warnings.simplefilter("ignore")
        mne.set_log_level("ERROR")
        logging.getLogger("moabb").setLevel(logging.ERROR)
        from memory import PeakRSS

        with PeakRSS() as peak:
            t0 = time.perf_counter()
            rows = {"ours": ours, "anchor": anchor}[sys.argv[1]]()
            seconds = time.perf_counter() - t0
        print(json.dumps({"rows": rows, "seconds": seconds, "peak_mb": peak.root / 2**20}))
        return
    import pandas as pd

    out = {}
    for side in ("anchor", "ours"):
        done = subprocess.run([sys.executable, __file__, side], capture_output=True, text=True, check=True)
        out[side] = json.loads(done.stdout.strip().splitlines()[-1])
    keys = ["pipeline", "subject", "shots", "training"]
    both = pd.DataFrame(out["ours"]["rows"]).merge(pd.DataFrame(out["anchor"]["rows"]), on=keys,
                                                   suffixes=("_ours", "_anchor"))
    gap = (both["score_ours"] - both["score_anchor"]).abs()
    for side in ("anchor", "ours"):
        print(f"{side:>6}: {out[side]['seconds']:.1f} s, peak RSS {out[side]['peak_mb']:.0f} MB, "
              f"{len(out[side]['rows'])} rows")
    print(f"ratio ours / anchor: {out['ours']['seconds'] / out['anchor']['seconds']:.3f}")
    print(f"rows compared: {len(both)}; identical: {int((gap == 0).sum())}; largest |difference|: {gap.max():.3g}")
    print(both.groupby(["pipeline", "shots", "training"])[["score_ours", "score_anchor"]].mean().round(4))


if __name__ == "__main__":
    main()
