"""What the ``denoise`` step does to decoding: the same benchmark with and without it, paired per subject.

Arms, identical but for the step (each a full ``run_benchmark`` on the same data, random_state and folds):

- ``none``: the base recipe;
- ``eog``: the base recipe + ``denoise: {artifact: eog}``;
- ``both``: the base recipe + ``denoise: {artifact: both}`` (EOG, then EMG).

Pseudo-online evaluations use each recipe's causal variant, so their arms run the ``-causal`` models.

- **PhysionetMI S001** (imagined left/right hand, runs 4, 8, 12; 64 channels resampled to 256 Hz, the rate the
  models were trained at): CSP+LDA, TS+LR and ShallowConvNet; within-session (MOABB) and pseudo-online
  (leave one run out, 1 s windows every 0.25 s, T0 rest as idle).
- **Kalunga2016 1-9** (SSVEP, 8 occipital channels at 256 Hz): FB-TS+LR; within-session and pseudo-online as in
  the shipped ``kalunga2016`` benchmark.

MOABB's one-sided paired permutation test (``compute_pvals_perm``) across subjects, both directions; with one
subject (PhysionetMI) there is no test, and the per-run pseudo-online differences are printed instead.

    python benchmarks/denoise_downstream.py [--out results/denoise-downstream]
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _offline import use_shared_data  # noqa: E402

REPO, SHARED = use_shared_data()

SHALLOW = {"name": "ShallowConvNet", "params": {"max_epochs": 40, "valid_size": 0, "lr": 0.003}}
BENCHES = {
    "PhysionetMI": {
        "datasets": [{"name": "PhysionetMI", "subjects": [1], "params": {"imagined": True, "executed": False}}],
        "paradigm": {"name": "LeftRightImagery", "params": {"fmin": 8, "fmax": 30}},
        "pipelines": ["CSP+LDA", "TS+LR", SHALLOW],
        "evaluations": ["within-session", {"type": "pseudo-online", "split": "within-session", "window": 1.0,
                                           "step": 0.25, "rest": ["rest"]}],
        "base": [{"pick": {"types": ["eeg"]}}, {"resample": {"sfreq": 256.0}}],
    },
    "Kalunga2016": {
        "datasets": [{"name": "Kalunga2016", "subjects": list(range(1, 10))}],
        "paradigm": {"name": "SSVEP", "params": {"fmin": 3, "fmax": 45, "n_classes": 4, "resample": 128}},
        "pipelines": ["FB-TS+LR"],
        "evaluations": ["within-session", {"type": "pseudo-online", "split": "within-session", "window": 2.0,
                                           "step": 0.25, "rest": ["rest"]}],
        "base": [{"pick": {"types": ["eeg"]}}],
    },
}
ARMS = {"none": None, "eog": {"artifact": "eog"}, "both": {"artifact": "both"}}


def run_arm(bench: str, arm: str, out: Path) -> pd.DataFrame:
    from neurodecode.benchmark import run_benchmark

    spec = BENCHES[bench]
    recipe = list(spec["base"]) + ([{"denoise": ARMS[arm]}] if ARMS[arm] else [])
    cfg = {"name": f"{bench}-{arm}", "datasets": spec["datasets"], "paradigm": spec["paradigm"],
           "recipe": {"name": f"{bench}-{arm}", "steps": recipe}, "pipelines": spec["pipelines"],
           "evaluations": spec["evaluations"], "random_state": 42, "output": str(out / f"{bench}-{arm}")}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_benchmark(cfg, quiet=True, report=False)
    rows = result.results.assign(arm=arm, bench=bench)
    print(f"{bench} {arm}: {len(rows)} rows, {len(result.failures)} failures, {time.perf_counter() - t0:.0f} s",
          flush=True)
    if len(result.failures):
        print(result.failures.to_string())
    return rows


def paired(rows: pd.DataFrame) -> pd.DataFrame:
    from moabb.analysis.meta_analysis import compute_pvals_perm

    out = []
    subj = rows.groupby(["bench", "evaluation", "pipeline", "subject", "arm"])["score"].mean().unstack("arm")
    for (bench, evaluation, pipeline), g in subj.groupby(level=[0, 1, 2]):
        for arm in ("eog", "both"):
            pair = g[[arm, "none"]].dropna()
            rec = {"bench": bench, "evaluation": evaluation, "pipeline": pipeline, "arm": arm,
                   "n_subjects": len(pair), "none": pair["none"].mean(), "denoised": pair[arm].mean(),
                   "difference": (pair[arm] - pair["none"]).mean()}
            if len(pair) >= 2:
                rec["p_denoised_higher"] = float(compute_pvals_perm(pair.reset_index(drop=True))[0, 1])
                rec["p_denoised_lower"] = float(compute_pvals_perm(pair[["none", arm]].reset_index(drop=True))[0, 1])
            out.append(rec)
    return pd.DataFrame(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "results" / "denoise-downstream")
    parser.add_argument("--benches", nargs="*", default=list(BENCHES))
    args = parser.parse_args(argv)
    import mne

    mne.set_log_level("ERROR")
    rows = pd.concat([run_arm(b, a, args.out) for b in args.benches for a in ARMS], ignore_index=True)
    rows.to_csv(args.out / "rows.csv", index=False)
    table = paired(rows)
    table.to_csv(args.out / "paired.csv", index=False)
    pd.set_option("display.width", 200)
    print(table.round(4).to_markdown(index=False))
    online = rows[rows.evaluation.str.startswith("pseudo") & (rows.bench == "PhysionetMI")]
    if len(online):
        keys = [c for c in ("pipeline", "subject", "session", "test_run", "run", "fold") if c in online]
        print("\nPhysionetMI pseudo-online, per replayed run:")
        print(online.pivot_table(index=keys, columns="arm", values="score").round(4).to_markdown())
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
