"""Label efficiency of self-supervised pretraining: score against labelled trials per class.

Protocol (in one run, on the same test trials):

1. Pretrain a SensorTransformer by masked reconstruction (``neurodecode.models.pretraining``)
   twice: with ``mask: tokens`` (the default: half of the (sensor, patch) tokens hidden) and
   with ``mask: time`` (half of the time patches hidden on every sensor at once), on synthetic
   EEG (64- and 22-channel caps), synthetic SSVEP EEG, synthetic MEG (306 sensors) and the
   real Muse P300 recordings of subjects 1-2 (4 electrodes), in 2 s windows without overlap.
   Kalunga2016 and PhysionetMI are held out of pretraining.
2. The control: token-mask pretraining on the same windows with each window's samples
   permuted in time (same sensors, amplitudes and zero-lag covariance, no temporal structure).
3. For each target subject (Kalunga2016 1-9: SSVEP, 4 classes, 8 electrodes; PhysionetMI
   S001: left/right imagery, 64 electrodes), trials in recording order: the second half is
   the test set, the same for every model and shot count; k labelled trials per class are
   the first k of each class in the first half.
4. On those k trials, two fine-tuning strategies of the same architecture:
   - ``full`` (every weight): pretrained (tokens, time), from scratch (random weights) and
     control-pretrained;
   - ``linear-probe`` (a new head on the frozen encoder): pretrained (tokens, time),
     random-init (the untrained encoder, seed 42) and control-pretrained;
   each for ``--steps`` optimiser steps (every k-shot set is one batch), with TS+LR on the
   same trials as a reference for what the split allows. Balanced accuracy on the test
   trials, and on the k training trials (did the network fit them?); MOABB's one-sided
   paired permutation test across Kalunga's 9 subjects (PhysionetMI has one subject: no test).

    python benchmarks/pretraining_label_efficiency.py [--epochs 10] [--steps 200] [--out results/label-efficiency]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _offline import use_shared_data  # noqa: E402

REPO, SHARED = use_shared_data()

SFREQ = 128.0
MODEL = {"patch_size": 32, "embed_dim": 64, "depth": 2, "num_heads": 4}
RECIPE = [{"bandpass": {"l_freq": 1.0, "h_freq": 40.0}}, {"resample": {"sfreq": SFREQ}}]
PRETRAIN_SETS = [
    {"name": "SyntheticMI", "params": {"n_subjects": 4, "montage": "physionetmi", "sfreq": 160, "code": "SynMI-64"}},
    {"name": "SyntheticMI", "params": {"n_subjects": 4, "montage": "bnci2014_001", "code": "SynMI-22"}},
    {"name": "SyntheticSSVEP", "params": {"n_subjects": 4}},
    {"name": "SyntheticMEG", "params": {"n_subjects": 2}},
    {"name": "MuseVisualP300", "subjects": [1, 2]},
]


def pretrain_all(epochs: int, out: Path, reuse: bool = False, masks=("tokens", "time")) -> dict:
    from neurodecode.models.pretraining import pretrain
    from neurodecode.models.sensor_transformer import SensorTransformer

    folders = {}
    encoders = [(mask, mask, "none") for mask in masks] + [("control", "tokens", "shuffled-time")]
    for key, mask, control in encoders:
        folder = out / f"pretrained-{key}"
        if reuse and (folder / "model.safetensors").is_file():
            folders[key] = folder
            print(f"pretraining ({key}): reused {folder}", flush=True)
            continue
        t0 = time.perf_counter()
        result = pretrain({"name": f"label-efficiency-{key}", "datasets": PRETRAIN_SETS,
                           "recipe": RECIPE, "sfreq": SFREQ, "window": 2.0, "step": 2.0, "model": MODEL,
                           "training": {"epochs": epochs, "random_state": 42, "mask": mask}, "control": control,
                           "output": str(folder)})
        folders[key] = result.folder
        # 255/256 is the loss of predicting zero (each channel and window z-scored, unbiased SD)
        print(f"pretraining ({key}): {sum(result.windows.values())} windows {result.windows}, loss "
              f"{result.losses[0]:.4f} -> {result.losses[-1]:.4f}, held-out windows {result.valid_losses[0]:.4f} -> "
              f"{result.valid_losses[-1]:.4f} (predicting zero: about 0.996), {time.perf_counter() - t0:.0f} s",
              flush=True)
    # the untrained encoder, through the same loading path, for the random-init linear probe
    import torch

    torch.manual_seed(42)
    folders["random"] = out / "untrained"
    SensorTransformer(n_outputs=1, n_times=int(2 * SFREQ), sfreq=SFREQ, **MODEL).save_pretrained(folders["random"])
    (folders["random"] / "pytorch_model.bin").unlink(missing_ok=True)
    return folders


def target_epochs(name: str, subject: int):
    """The subject's epochs (positions set) and labels, in recording order."""
    from neurodecode.datasets import get_dataset
    from neurodecode.moabb_api import make_paradigm

    if name == "Kalunga2016":
        paradigm = make_paradigm("SSVEP", {"n_classes": 4, "fmin": 1.0, "fmax": 40.0, "resample": SFREQ})
    else:
        paradigm = make_paradigm("LeftRightImagery", {"fmin": 1.0, "fmax": 40.0, "resample": SFREQ})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        epochs, labels, meta = paradigm.get_data(get_dataset(name), [subject], return_epochs=True)
    epochs = epochs.load_data()
    if not all(np.any(ch["loc"][:3]) for ch in epochs.info["chs"]):
        epochs.set_montage("standard_1005", match_case=False, match_alias=True, on_missing="ignore")
    return epochs, np.asarray(labels)


def split(labels: np.ndarray, shots: list[int]):
    """Test: the second half in recording order. Calibration: the first k trials of each class."""
    half = len(labels) // 2
    test = np.arange(half, len(labels))
    pool = np.arange(half)
    chosen = {}
    for k in shots:
        idx = [i for c in np.unique(labels) for i in pool[labels[pool] == c][:k]]
        if any((labels[pool] == c).sum() < k for c in np.unique(labels)):
            continue
        chosen[k] = np.sort(idx)
    return chosen, test


#: (arm, fine-tuning strategy, weights): the arms compared on every k-shot set
ARMS = (("pretrained", "full", "tokens"), ("pretrained (time)", "full", "time"), ("scratch", "full", None),
        ("control", "full", "control"), ("probe: pretrained", "linear-probe", "tokens"),
        ("probe: pretrained (time)", "linear-probe", "time"), ("probe: random-init", "linear-probe", "random"),
        ("probe: control", "linear-probe", "control"))


def score_models(epochs, labels, folders: dict, shots: list[int], steps: int) -> list[dict]:
    from sklearn.metrics import balanced_accuracy_score

    from neurodecode.models import get_pipeline

    chosen, test = split(labels, shots)
    rows = []
    for k, train in chosen.items():
        assert not set(train) & set(test)  # no test trial in training, ever
        assert len(train) <= 32  # one batch per epoch: max_epochs is the number of optimiser steps
        for arm, strategy, weights in ARMS:
            if weights is not None and weights not in folders:
                continue  # an encoder not pretrained in this run (--masks)
            t0 = time.perf_counter()
            params = ({"model_params": MODEL} if weights is None
                      else {"pretrained": str(folders[weights]), "finetune": strategy})
            clf = get_pipeline("SensorTransformer", max_epochs=steps, valid_size=None, lr=5e-4,
                               batch_size=32, random_state=0, **params)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf.fit(epochs[train], labels[train])
            rows.append({"shots": k, "model": arm, "n_train": len(train), "n_test": len(test),
                         "score": balanced_accuracy_score(labels[test], clf.predict(epochs[test])),
                         "train_score": balanced_accuracy_score(labels[train], clf.predict(epochs[train])),
                         "seconds": time.perf_counter() - t0})
        # a reference on the same trials, to tell a split nothing learns from a network that does not
        reference = get_pipeline("TS+LR").fit(epochs[train].get_data(copy=False), labels[train])
        rows.append({"shots": k, "model": "TS+LR (reference)", "n_train": len(train), "n_test": len(test),
                     "score": balanced_accuracy_score(labels[test],
                                                      reference.predict(epochs[test].get_data(copy=False))),
                     "train_score": float("nan"), "seconds": float("nan")})
    return rows


def paired(table: pd.DataFrame) -> pd.DataFrame:
    from neurodecode.moabb_api import meta_analysis

    out = []
    for (dataset, k), g in table.groupby(["dataset", "shots"]):
        wide = g.pivot_table(index="subject", columns="model", values="score")
        row = {"dataset": dataset, "shots": k, "n_subjects": len(wide), **{m: wide[m].mean() for m in wide}}
        for model, against in (("pretrained", "scratch"), ("pretrained (time)", "scratch"), ("control", "scratch"),
                               ("probe: pretrained", "probe: random-init"),
                               ("probe: pretrained (time)", "probe: random-init"),
                               ("probe: control", "probe: random-init")):
            if model not in wide:
                continue
            row[f"gain {model}"] = (wide[model] - wide[against]).mean()
            row[f"p {model}"] = (float(meta_analysis.compute_pvals_perm(wide[[model, against]])[0, 1])
                                 if len(wide) > 1 else float("nan"))
        out.append(row)
    return pd.DataFrame(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="pretraining epochs")
    parser.add_argument("--steps", type=int, default=200, help="fine-tuning steps (k-shot sets are one batch)")
    parser.add_argument("--subjects", type=int, nargs="+", default=list(range(1, 10)), help="Kalunga2016 subjects")
    parser.add_argument("--out", default=str(REPO / "results" / "label-efficiency"))
    parser.add_argument("--reuse", action="store_true", help="reuse the pretrained folders already in --out")
    parser.add_argument("--masks", nargs="+", default=["tokens", "time"], choices=["tokens", "time"],
                        help="the pretext masks to pretrain (the control always uses tokens)")
    args = parser.parse_args(argv)
    import mne
    import torch

    mne.set_log_level("ERROR")
    torch.set_num_threads(2)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    folders = pretrain_all(args.epochs, out, args.reuse, args.masks)
    rows = []
    for name, subjects, shots in (("Kalunga2016", args.subjects, [2, 4, 8]), ("PhysionetMI", [1], [3, 6, 10])):
        for subject in subjects:
            epochs, labels = target_epochs(name, subject)
            for row in score_models(epochs, labels, folders, shots, args.steps):
                rows.append({"dataset": name, "subject": subject, **row})
            print(f"{name} subject {subject}: {len(labels)} trials, {len(epochs.ch_names)} channels", flush=True)
            # after every subject, so a stopped run keeps what it measured
            pd.DataFrame(rows).to_csv(out / "label_efficiency.partial.csv", index=False)
    table = pd.DataFrame(rows)
    table.to_csv(out / "label_efficiency.csv", index=False)
    (out / "label_efficiency.partial.csv").unlink(missing_ok=True)
    summary = paired(table)
    summary.to_csv(out / "label_efficiency_summary.csv", index=False)
    with pd.option_context("display.width", 200, "display.float_format", "{:.3f}".format):
        print(summary.to_string(index=False))
        fit = table.pivot_table(index=["dataset", "shots"], columns="model", values="train_score")
        print("balanced accuracy on the k training trials (did each network fit them?):")
        print(fit.to_string())
    (out / "run.json").write_text(json.dumps({"seconds": time.perf_counter() - t0, "argv": sys.argv[1:]}))
    print(f"total {time.perf_counter() - t0:.0f} s; tables in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
