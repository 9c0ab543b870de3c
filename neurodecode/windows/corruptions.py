"""Planted corruptions of trials, to measure what an anomaly detector finds (with known truth)."""
from __future__ import annotations

import numpy as np

__all__ = ["CORRUPTIONS", "corrupt"]

#: Corruption types: what each does to one trial ``x`` (n_chans, n_times).
CORRUPTIONS = {
    "flat": "one channel held at its first value for half the trial (a disconnected electrode)",
    "clipping": "every channel clipped at 30 % of its peak amplitude (amplifier saturation)",
    "burst": "broadband noise at 5x the trial's SD on a quarter of the channels for 0.3 s",
    "pop": "a step of 10x the channel's SD decaying with a 0.1 s time constant on one channel",
    "swap": "two channels exchanged",
    "sign_flip": "one channel's sign reversed",
    "other_subject": "the trial replaced by a trial of another subject",
}


def corrupt(X: np.ndarray, kind: str, rows: np.ndarray, *, sfreq: float, subjects=None,
            random_state: int = 0) -> np.ndarray:
    """A copy of trials ``X`` (n_trials, n_chans, n_times) with ``kind`` planted in trials ``rows``.

    ``subjects`` (one per trial) is needed for ``"other_subject"``: each
    planted trial gets the signal of a random trial of another subject.
    The swapped and sign-flipped channels are the two (one) of largest SD, so
    the change is never one between near-identical channels.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(4, 3, 50))
    >>> Y = corrupt(X, "sign_flip", np.array([1]), sfreq=50.0)
    >>> [bool(np.array_equal(X[i], Y[i])) for i in range(4)]
    [True, False, True, True]
    """
    if kind not in CORRUPTIONS:
        from ..errors import UnknownNameError

        raise UnknownNameError("corruption", kind, sorted(CORRUPTIONS))
    rng = np.random.default_rng(random_state)
    out = np.array(X, dtype=np.float64, copy=True)
    n_chans, n_times = X.shape[1:]
    for row in np.asarray(rows, dtype=int):
        x = out[row]
        sd = x.std(axis=1)
        if kind == "flat":
            ch, start = rng.integers(n_chans), rng.integers(0, n_times // 2)
            x[ch, start:start + n_times // 2] = x[ch, start]
        elif kind == "clipping":
            limit = 0.3 * np.abs(x).max(axis=1, keepdims=True)
            np.clip(x, -limit, limit, out=x)
        elif kind == "burst":
            n = max(1, int(round(0.3 * sfreq)))
            chans = rng.choice(n_chans, max(1, n_chans // 4), replace=False)
            start = rng.integers(0, max(1, n_times - n))
            x[chans, start:start + n] += 5 * sd[chans, None] * rng.standard_normal((len(chans), min(n, n_times)))
        elif kind == "pop":
            ch, start = rng.integers(n_chans), rng.integers(0, n_times // 2)
            t = np.arange(n_times - start) / sfreq
            x[ch, start:] += 10 * sd[ch] * np.exp(-t / 0.1) * rng.choice([-1, 1])
        elif kind == "swap":
            a, b = np.argsort(sd)[-2:]
            x[[a, b]] = x[[b, a]]
        elif kind == "sign_flip":
            x[np.argmax(sd)] *= -1
        else:
            subjects = np.asarray(subjects)
            others = np.flatnonzero(subjects != subjects[row])
            if not len(others):
                raise ValueError("other_subject needs trials of at least two subjects")
            out[row] = X[rng.choice(others)]
    return out
