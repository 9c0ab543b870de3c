"""Train/test splits of streams that never mix a test run into training."""
from __future__ import annotations

from dataclasses import dataclass

from ..moabb_api import SPLITS
from .stream import RunStream

__all__ = ["Fold", "SPLITS", "within_session_folds", "cross_session_folds", "cross_subject_folds"]


@dataclass
class Fold:
    """Streams to train on and the one stream to replay."""

    train: list
    test: RunStream


def within_session_folds(sessions: dict, n_len: int, train_fraction: float, gap: int):
    """Leave-one-run-out in sessions of two or more runs; chronological otherwise.

    A single-run session trains on its first ``train_fraction`` and replays
    what follows a gap of ``gap`` samples (at least one window), so no test
    window shares a sample with a training window.
    """
    for runs in sessions.values():
        if len(runs) >= 2:
            for i, test in enumerate(runs):
                yield Fold(runs[:i] + runs[i + 1:], test)
        elif runs:
            run = runs[0]
            cut = run.begin + int(round(train_fraction * (run.end - run.begin)))
            yield Fold([run.part(run.begin, cut)], run.part(cut + max(gap, n_len), run.end))


def cross_session_folds(sessions: dict):
    """Train on every earlier session, replay each run of a later one (sessions in recording order)."""
    order = list(sessions)
    for k in range(1, len(order)):
        train = [run for s in order[:k] for run in sessions[s]]
        for test in sessions[order[k]]:
            yield Fold(train, test)


def cross_subject_folds(subject, by_subject: dict):
    """Train on every other subject, replay each run of ``subject``."""
    train = [run for s, sessions in by_subject.items() if s != subject
             for runs in sessions.values() for run in runs]
    for runs in by_subject[subject].values():
        for test in runs:
            yield Fold(train, test)
