"""Training throughput: neurodecode's DeepClassifier against a plain braindecode EEGClassifier.

Both train the same braindecode model on the same windows for the same
number of epochs and batch size, with AdamW at the same learning rate; runs
alternate and repeat, and the median windows/s is reported. Two settings:

* ``bare``: no validation split on either side, so the ratio is the cost of
  our wrapper (input scaling, class weights, cosine schedule, seeding);
* ``full``: both hold out 20 % for validation each epoch, ours with early
  stopping disabled by ``patience > epochs`` so both run every epoch.

    python benchmarks/training_throughput.py --model ShallowFBCSPNet --epochs 5 --device cpu
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time
import warnings

import numpy as np


def _data(n: int, chans: int, times: int, random_state: int = 0):
    rng = np.random.default_rng(random_state)
    y = np.repeat([0, 1], n // 2)
    X = rng.normal(size=(n, chans, times)).astype(np.float32)
    X[y == 1, : chans // 2] *= 1.3  # a variance difference the network can learn
    return X, y


def _plain(args, X, y, valid):
    import torch
    from braindecode import EEGClassifier
    from braindecode.util import set_random_seeds
    from skorch.dataset import ValidSplit

    set_random_seeds(0, cuda=args.device == "cuda")
    clf = EEGClassifier(args.model, optimizer=torch.optim.AdamW, optimizer__lr=1e-3, batch_size=args.batch,
                        max_epochs=args.epochs, train_split=ValidSplit(0.2, stratified=True, random_state=0) if valid
                        else None, device=args.device, verbose=0, classes=[0, 1],
                        iterator_train__shuffle=True, iterator_train__drop_last=False)
    return clf.fit(X, y), clf.predict


def _ours(args, X, y, valid):
    from neurodecode.models import DeepClassifier

    clf = DeepClassifier(args.model, max_epochs=args.epochs, batch_size=args.batch, lr=1e-3,
                         valid_size=0.2 if valid else 0, patience=args.epochs + 1, device=args.device,
                         random_state=0, sfreq=250.0)
    return clf.fit(X, y), clf.predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ShallowFBCSPNet")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--windows", type=int, default=1024)
    parser.add_argument("--chans", type=int, default=22)
    parser.add_argument("--times", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    X, y = _data(args.windows, args.chans, args.times)
    Xte, yte = _data(512, args.chans, args.times, random_state=1)
    print(f"{args.model}, {args.windows} windows x {args.chans} ch x {args.times} samples, "
          f"{args.epochs} epochs, batch {args.batch}, {args.device}")
    for setting, valid in [("bare", False), ("full", True)]:
        rates = {"braindecode": [], "neurodecode": []}
        accuracy = {}
        for _ in range(args.repeats):
            for name, run in [("braindecode", _plain), ("neurodecode", _ours)]:
                start = time.perf_counter()
                _, predict = run(args, X, y, valid)
                wall = time.perf_counter() - start
                trained = len(X) * (0.8 if valid else 1.0) * args.epochs
                rates[name].append(trained / wall)
                accuracy[name] = float(np.mean(predict(Xte) == yte))
        ours, theirs = statistics.median(rates["neurodecode"]), statistics.median(rates["braindecode"])
        print(f"[{setting}] braindecode {theirs:8.1f} windows/s   neurodecode {ours:8.1f} windows/s   "
              f"overhead {100 * (theirs / ours - 1):+.1f} %   test accuracy {accuracy['braindecode']:.3f} vs "
              f"{accuracy['neurodecode']:.3f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
