"""Synthetic MEG: continuous Neuromag-306 recordings from a sphere head model, with a known truth.

The sensors are the real Vectorview geometry (102 magnetometers, 204 planar
gradiometers) of MNE's sample recording, shipped in the package as an
``Info`` file (``resources/meg/neuromag306-info.fif``: channel positions and
the device-to-head transform, without processing history, projectors or HPI
records; BSD-3, from MNE's test data), so no recording is needed.

Sources are current dipoles in a spherical conductor
(:func:`mne.make_sphere_model`, a discrete :func:`mne.setup_volume_source_space`,
:func:`mne.make_forward_solution`): two over the left and right hand areas
of motor cortex and a set of background sources. During imagery of one hand
the mu (~11 Hz) and beta (~21 Hz) rhythm of the contralateral motor source
drops (ERD); idle gaps separate the trials. :func:`mne.simulation.add_ecg`
adds the cardiac field, and sensor noise plus a slow environmental field on
the magnetometers complete the recording.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..private_api import unlocked
from ..utils import resource_path
from .generated import GeneratedDataset, RunTruth
from .waveforms import colored_noise, narrowband

__all__ = ["SyntheticMEG", "neuromag_info"]

_CENTER = np.array([0.0, 0.0, 0.04])  # sphere centre in head coordinates (m)
#: Hand areas of motor cortex (head coordinates, m), 7 cm from the centre.
_MOTOR = {"left": np.array([-0.038, 0.012, 0.098]), "right": np.array([0.038, 0.012, 0.098])}


def neuromag_info():
    """The shipped Neuromag-306 ``mne.Info``: 102 magnetometers and 204 gradiometers.

    Examples
    --------
    >>> info = neuromag_info()
    >>> info.get_channel_types().count("mag"), info.get_channel_types().count("grad")
    (102, 204)
    """
    import mne

    return mne.io.read_info(resource_path("meg", "neuromag306-info.fif"), verbose="error")


class SyntheticMEG(GeneratedDataset):
    """Synthetic motor-imagery MEG on real Neuromag-306 sensors (left/right hand ERD).

    Parameters
    ----------
    n_subjects, n_sessions, n_runs : int
        Dataset size; ``n_trials`` is the number of trials per class and run.
    sfreq : float
        Sampling frequency in Hz.
    snr : float
        Effect size: the contralateral motor rhythm drops by ``1 - 1/(1 + snr)``.
    n_background : int
        Background dipoles (1/f activity and alpha).
    ecg : bool
        Add the cardiac field with :func:`mne.simulation.add_ecg`.
    random_state : int
        Same random_state, bit-identical recordings.

    Examples
    --------
    >>> ds = SyntheticMEG(n_subjects=1, n_trials=2, ecg=False)
    >>> raw, truth = ds.generate_run(1)
    >>> raw.get_channel_types().count("mag"), sorted(set(truth.events["label"]))
    (102, ['left_hand', 'right_hand'])
    """

    _interval = [0, 3]
    _lead, _tail = 2.0, 2.0
    #: Attributes that change the generated signals.
    _generation = ("n_sessions", "n_runs", "n_trials", "sfreq", "snr", "n_background", "ecg", "random_state")

    def __init__(self, *, n_subjects: int = 2, n_sessions: int = 1, n_runs: int = 2, n_trials: int = 10,
                 sfreq: float = 200.0, snr: float = 2.0, n_background: int = 24, ecg: bool = True,
                 random_state: int = 42):
        for name, value in [("n_subjects", n_subjects), ("n_sessions", n_sessions), ("n_runs", n_runs),
                            ("n_trials", n_trials), ("n_background", n_background)]:
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if sfreq < 100:
            raise ConfigError(f"SyntheticMEG: sfreq={sfreq} Hz is too low for beta rhythms; use >= 100 Hz")
        self.n_runs, self.n_trials, self.sfreq, self.snr = n_runs, n_trials, float(sfreq), float(snr)
        self.n_background, self.ecg, self.random_state = n_background, bool(ecg), random_state
        super().__init__(subjects=list(range(1, n_subjects + 1)), sessions_per_subject=n_sessions,
                         events={"left_hand": 1, "right_hand": 2}, code="SyntheticMEG",
                         interval=list(self._interval), paradigm="imagery")
        # MOABB's paradigms pick EEG unless a dataset asks for other types: these are MEG data
        self.return_all_modalities = {"meg": True, "eeg": False}

    def summary(self) -> dict:
        return {"sessions": self.n_sessions, "sfreq": self.sfreq, "channels": 306, "ch_types": ["grad", "mag"]}

    def motor_sensors(self, n_triplets: int = 12, ch_types=("mag", "grad")) -> list[str]:
        """Names of the sensors of the ``n_triplets`` triplets (a magnetometer and its two
        gradiometers) nearest the two motor sources, of the types ``ch_types``: a small montage
        for quick decoding (full 306-channel covariances make tangent-space pipelines slow).

        A paradigm's ``channels`` pick by name, as in MOABB, so give only names of the wanted types.

        Examples
        --------
        >>> names = SyntheticMEG().motor_sensors(2, ch_types="grad")
        >>> len(names), all(n[-1] in "23" for n in names)
        (4, True)
        """
        import mne

        info = neuromag_info()
        dev_head = info["dev_head_t"]["trans"]
        mags = mne.pick_types(info, meg="mag")
        locs = np.array([info["chs"][i]["loc"][:3] for i in mags])
        locs = locs @ dev_head[:3, :3].T + dev_head[:3, 3]  # device -> head coordinates
        dist = np.min([np.linalg.norm(locs - m, axis=1) for m in _MOTOR.values()], axis=0)
        from .channel_types import expand_types

        wanted = set(expand_types(ch_types))
        kinds = dict(zip(info["ch_names"], info.get_channel_types()))
        names = []
        for i in np.argsort(dist)[:n_triplets]:
            stem = info["ch_names"][mags[i]][:-1]  # MEG0111 -> MEG011: its triplet is MEG0111/2/3
            names += [n for n in info["ch_names"]
                      if n.startswith(stem) and len(n) == len(stem) + 1 and kinds[n] in wanted]
        return names

    # -- generation ----------------------------------------------------------
    @cached_property
    def _forward(self) -> tuple[np.ndarray, list[str]]:
        """Fixed-orientation gain (T or T/m per A·m) of the motor and background dipoles."""
        import mne

        info = neuromag_info()
        with unlocked(info):
            info["sfreq"] = self.sfreq
        rng = np.random.default_rng(self.random_state)
        # background sources on a 7 cm shell over the upper half of the sphere
        dirs = rng.normal(size=(self.n_background, 3))
        dirs[:, 2] = np.abs(dirs[:, 2]) + 0.3
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        pos = np.vstack([_MOTOR["left"], _MOTOR["right"], _CENTER + 0.07 * dirs])
        radial = (pos - _CENTER) / np.linalg.norm(pos - _CENTER, axis=1, keepdims=True)
        # tangential orientations (a sphere hides radial currents): across the central sulcus
        ori = np.cross(radial, [0.0, 0.0, 1.0])
        ori[np.linalg.norm(ori, axis=1) < 1e-6] = [1.0, 0.0, 0.0]
        ori /= np.linalg.norm(ori, axis=1, keepdims=True)
        sphere = mne.make_sphere_model(r0=_CENTER, head_radius=0.09, verbose=False)
        src = mne.setup_volume_source_space(pos={"rr": pos, "nn": ori}, sphere=sphere, verbose=False)
        fwd = mne.make_forward_solution(info, trans=None, src=src, bem=sphere, meg=True, eeg=False,
                                        verbose=False)
        fwd = mne.convert_forward_solution(fwd, force_fixed=False, verbose=False)
        gain = fwd["sol"]["data"].reshape(len(info["ch_names"]), -1, 3)
        kept = fwd["src"][0]["vertno"]
        return np.einsum("cij,ij->ci", gain, ori[kept]), info

    def generate_run(self, subject: int, session: int = 0, run: int = 0, clean: bool = False):
        """Generate one continuous run: ``(raw, truth)``; MEG in T and T/m, one annotation per trial."""
        import mne

        if subject not in self.subject_list and subject not in range(1, max(self.subject_list) + 1):
            raise ConfigError(f"{self.code} has subjects {self.subject_list}, not {subject!r}")
        gain, info = self._forward
        subject_rng = np.random.default_rng([self.random_state, subject])
        rng = np.random.default_rng([self.random_state, subject, session, run])
        mu, beta = subject_rng.uniform(10.0, 12.5), subject_rng.uniform(18.0, 24.0)
        labels = rng.permutation(np.repeat(["left_hand", "right_hand"], self.n_trials))
        task = self._interval[1]
        onsets = self._lead + np.concatenate([[0.0], np.cumsum(task + rng.uniform(2.0, 3.0, len(labels)))[:-1]])
        events = pd.DataFrame({"onset": onsets, "label": labels, "duration": float(task)})
        n_times = int(np.ceil((onsets[-1] + task + self._tail) * self.sfreq))
        times = np.arange(n_times) / self.sfreq

        n_src = gain.shape[1]
        sources = 10e-9 * colored_noise(rng, (n_src, n_times), self.sfreq, exponent=1.0)  # A·m
        sources[2:] += 15e-9 * np.stack([narrowband(rng, n_times, self.sfreq, rng.uniform(9, 11.5), 1.0)
                                         for _ in range(n_src - 2)])
        drop = 1.0 - 1.0 / (1.0 + self.snr)
        for k, side in enumerate(("left", "right")):  # right-hand imagery desynchronises the left cortex
            rhythm = narrowband(rng, n_times, self.sfreq, mu, 1.5) + 0.6 * narrowband(rng, n_times, self.sfreq,
                                                                                    beta, 2.0)
            contra = "right_hand" if side == "left" else "left_hand"
            env = self._envelope(events, times, contra)
            sources[k] += 40e-9 * rhythm * (1.0 - drop * env)
        brain = gain @ sources
        types = np.array(info.get_channel_types())
        noise_sd = np.where(types == "mag", 4e-15, 4e-13)  # 4 fT, 4 fT/cm white sensor noise
        noise = noise_sd[:, None] * rng.normal(size=brain.shape)
        environment = np.outer(rng.normal(size=len(types)) * (types == "mag"),
                               200e-15 * np.sin(2 * np.pi * 0.3 * times + rng.uniform(0, 2 * np.pi)))
        data = brain + noise + environment
        with unlocked(info):
            info["sfreq"] = self.sfreq
        raw = mne.io.RawArray(data, info, verbose=False)
        if self.ecg:
            mne.simulation.add_ecg(raw, rng=np.random.default_rng(int(rng.integers(1 << 31))), verbose=False)
        raw.set_annotations(mne.Annotations(onsets, events["duration"].to_numpy(), labels.tolist()))
        events["sample"] = np.round(onsets * self.sfreq).astype(int)
        truth = RunTruth(events[["onset", "sample", "label", "duration"]],
                         pd.DataFrame(columns=["kind", "onset", "duration", "channels"]), self.sfreq,
                         brain if clean else None)
        return raw, truth

    @staticmethod
    def _envelope(events, times, label, ramp: float = 0.3) -> np.ndarray:
        env = np.zeros_like(times)
        for onset, name, duration in events[["onset", "label", "duration"]].itertuples(index=False):
            if name == label:
                env = np.maximum(env, np.minimum(np.clip((times - onset) / ramp, 0, 1),
                                                 np.clip((onset + duration - times) / ramp, 0, 1)))
        return env
