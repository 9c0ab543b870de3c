"""The contract of generated datasets: runs made on demand from a seed, a known truth, no files."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..moabb_api import BaseDataset
from ..utils import digest, progress

__all__ = ["RunTruth", "GeneratedDataset", "generate_subject"]


@dataclass
class RunTruth:
    """Ground truth of one synthetic run.

    Attributes
    ----------
    events : pandas.DataFrame
        One row per trial: ``onset`` (s), ``sample``, ``label``, ``duration`` (s).
    artifacts : pandas.DataFrame
        One row per artifact: ``kind`` (blink, emg, pop), ``onset`` and
        ``duration`` (s), ``channels`` (tuple of names).
    sfreq : float
        Sampling frequency in Hz.
    clean : numpy.ndarray | None
        Brain signal alone (background and task, no artifacts, line noise or
        drift), in V, shape (n_channels, n_times); only when asked for.
    """

    events: pd.DataFrame
    artifacts: pd.DataFrame
    sfreq: float
    clean: np.ndarray | None = field(default=None, repr=False)


class GeneratedDataset(BaseDataset):
    """What every generated dataset shares: runs made on demand from a seed, no files, a cache
    name that digests the generation settings, and ``ground_truth``.

    Subclasses define ``generate_run(subject, session, run, clean=False) -> (raw, RunTruth)``,
    ``n_runs`` and ``_generation`` (the attributes that change the signals).
    """

    _generation: tuple = ()

    # -- MOABB interface ---------------------------------------------------
    def _get_single_subject_data(self, subject):
        return generate_subject(self, subject)

    def data_path(self, subject, path=None, force_update=False, update_path=None, verbose=None):
        """Synthetic data has no files: returns an empty list."""
        return []

    def local_subjects(self) -> list[int]:
        """Every subject is available: they are generated on demand."""
        return list(self.subject_list)

    @property
    def cache_name(self) -> str:
        """The code and a digest of the generation settings, so that caches of preprocessed
        runs never mix recordings generated with other settings.

        >>> from neurodecode.datasets import SyntheticMI
        >>> SyntheticMI(random_state=1).cache_name != SyntheticMI(random_state=2).cache_name
        True
        """
        settings = {k: getattr(self, k) for k in self._generation}
        return f"{self.code}-{digest(settings, length=8)}"

    def ground_truth(self, subject: int, session: int = 0, run: int = 0, clean: bool = False) -> RunTruth:
        """Trial timing, artifact segments (if any) and optionally the clean signal of one run.

        Parameters
        ----------
        subject, session, run : int
            Which run (sessions and runs count from 0).
        clean : bool
            Also return the artifact-free brain signal.

        Returns
        -------
        truth : RunTruth
        """
        return self.generate_run(subject, session, run, clean=clean)[1]


def generate_subject(dataset, subject) -> dict:
    """``{session: {run: raw}}`` of a synthetic subject, generated run by run with a progress bar."""
    out: dict = {}
    runs = [(s, r) for s in range(dataset.n_sessions) for r in range(dataset.n_runs)]
    for session, run in progress(runs, desc=f"{dataset.code} sub-{subject}: generating"):
        out.setdefault(f"{session}", {})[f"{run}"] = dataset.generate_run(subject, session, run)[0]
    return out
