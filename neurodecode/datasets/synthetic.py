"""Deterministic synthetic EEG recordings with known ground truth.

Each run is continuous and generated on its own from ``(random_state, subject,
session, run)``, so datasets of any size never sit in memory together and the
same run is bit-identical whatever else was generated before it.

Signal model, in µV before conversion to volts:

* background: spatially correlated 1/f noise plus a posterior alpha rhythm
  at the subject's individual alpha frequency;
* task: motor imagery ERD/ERS of mu and beta rhythms over the contralateral
  sensorimotor cortex, SSVEP responses at the stimulus frequency and its
  harmonics over occipital channels, or P300 target ERPs over parietal
  channels;
* nuisances: line noise, slow drifts, eye blinks on frontal channels, EMG
  bursts on temporal channels and electrode pops on single channels;
* idle periods of random length between trials.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..moabb_api import any_class_name
from .caps import DEFAULT_CHANNELS, cap_channels
from .generated import GeneratedDataset, RunTruth
from .montage import standard_montage_name, standard_positions
from .waveforms import add_outer, blink_waveform, colored_noise, emg_burst, narrowband, poisson_onsets

__all__ = ["SyntheticMI", "SyntheticSSVEP", "SyntheticP300", "SyntheticSpeller"]

_ARTIFACT_RATES = {"blink": 6.0, "emg": 2.0, "pop": 1.0}  # events per minute


class _SyntheticBase(GeneratedDataset):
    """Shared generator; subclasses add the task signal of one paradigm."""

    _paradigm: str
    _events: dict
    _interval: list
    _generation = ("n_sessions", "n_runs", "n_trials", "channels", "sfreq", "snr", "artifact_rates",
                   "line_freq", "random_state", "generator_version")
    #: Changes when the same settings generate other signals (2: float32, in place), so that
    #: cached preprocessed runs of an earlier generator are not reused.
    generator_version = 2

    def __init__(
        self,
        *,
        n_subjects: int = 2,
        n_sessions: int = 2,
        n_runs: int = 2,
        n_trials: int = 10,
        channels: list[str] | None = None,
        sfreq: float = 250.0,
        snr: float = 1.0,
        artifact_rates: dict | None = None,
        line_freq: float = 50.0,
        random_state: int = 42,
        montage: str | None = None,
        code: str | None = None,
    ) -> None:
        for name, value in [("n_subjects", n_subjects), ("n_sessions", n_sessions),
                            ("n_runs", n_runs), ("n_trials", n_trials)]:
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if sfreq < 2.5 * line_freq:
            raise ConfigError(f"sfreq={sfreq} Hz must exceed 2.5 x line_freq ({line_freq} Hz)")
        rates = dict(_ARTIFACT_RATES)
        unknown = set(artifact_rates or {}) - set(rates)
        if unknown:
            raise ConfigError(
                f"unknown artifact kind(s) {sorted(unknown)}: choose from {sorted(rates)}"
            )
        rates.update(artifact_rates or {})
        self.n_runs, self.n_trials, self.sfreq, self.snr = n_runs, n_trials, float(sfreq), snr
        if montage is not None and channels is not None:
            raise ConfigError("give either channels or montage, not both")
        self.montage = montage
        self.channels = list(channels or (cap_channels(montage) if montage else DEFAULT_CHANNELS))
        self.artifact_rates, self.line_freq, self.random_state = rates, line_freq, random_state
        self._positions  # noqa: B018  (validates channel names now, not at first load)
        with any_class_name():  # a chosen code need not abbreviate the class name
            super().__init__(
                subjects=list(range(1, n_subjects + 1)),
                sessions_per_subject=n_sessions,
                events=dict(self._events),
                code=code or type(self).__name__,
                interval=list(self._interval),
                paradigm=self._paradigm,
            )

    def summary(self) -> dict:
        """Sessions, sampling rate (Hz) and channel count, for listings."""
        return {"sessions": self.n_sessions, "sfreq": self.sfreq, "channels": len(self.channels), "ch_types": ["eeg"]}

    # -- generation ----------------------------------------------------------
    @cached_property
    def _positions(self) -> np.ndarray:
        pos = standard_positions()
        lookup = {name.lower(): name for name in pos}
        missing = [ch for ch in self.channels if ch.lower() not in lookup]
        if missing:
            raise ConfigError(
                f"channels {missing} are not in the standard 10-05 montage; "
                "use 10-20/10-10 names such as C3, Cz, POz"
            )
        return np.array([pos[lookup[ch.lower()]] for ch in self.channels])

    def _pattern(self, center: str | np.ndarray, width: float) -> np.ndarray:
        """Spatial weights decaying with distance (m) from a scalp position."""
        if isinstance(center, str):
            center = standard_positions()[center]
        dist = np.linalg.norm(self._positions - center, axis=1)
        return np.exp(-((dist / width) ** 2))

    def generate_run(self, subject: int, session: int = 0, run: int = 0, clean: bool = False):
        """Generate one continuous run.

        Parameters
        ----------
        subject, session, run : int
            Which run (sessions and runs count from 0).
        clean : bool
            Also keep the artifact-free brain signal in the ground truth.

        Returns
        -------
        raw : mne.io.RawArray
            EEG in V with a standard 10-05 montage and one annotation per
            trial, named after its class.
        truth : RunTruth
            Trial timing, artifact segments, and the clean signal if asked for.
        """
        import mne

        if subject not in self._all_subjects:
            raise ConfigError(f"{self.code} has subjects {self._all_subjects}, not {subject!r}")
        subject_rng = np.random.default_rng([self.random_state, subject])
        rng = np.random.default_rng([self.random_state, subject, session, run])
        traits = {
            "alpha": subject_rng.uniform(9.0, 11.5),
            "mu": subject_rng.uniform(10.0, 12.5),
            "beta": subject_rng.uniform(18.0, 24.0),
            "latency": subject_rng.uniform(0.30, 0.38),
            "shift": subject_rng.normal(size=(3, 3)),  # drawn last: earlier traits keep their values
            "subject": subject,  # for traits of one paradigm only, drawn from their own generator
        }
        events = self._schedule(rng)
        n_times = int(np.ceil((events["onset"].iloc[-1] + self._interval[1] + self._tail) * self.sfreq))
        times = np.arange(n_times) / self.sfreq

        # One float32 array, every component added in place: a 20-minute run of 64 channels
        # peaks near four times its own size, not at a dozen float64 copies.
        data = np.empty((len(self.channels), n_times), np.float32)
        self._background(rng, n_times, traits, out=data)
        self._task(rng, events, times, traits, out=data)
        brain = data * np.float32(1e-6) if clean else None
        self._line_and_drift(rng, times, out=data)
        artifacts = self._artifacts(rng, n_times, out=data)
        data *= np.float32(1e-6)  # µV to V

        info = mne.create_info(self.channels, self.sfreq, ch_types="eeg")
        info["line_freq"] = self.line_freq
        raw = mne.io.RawArray(data, info, verbose=False)  # MNE keeps float64
        del data
        raw.set_montage(standard_montage_name(), match_case=False, verbose=False)
        raw.set_annotations(mne.Annotations(
            events["onset"].to_numpy(), events["duration"].to_numpy(), events["label"].tolist()
        ))
        events["sample"] = np.round(events["onset"] * self.sfreq).astype(int)
        truth = RunTruth(events[["onset", "sample", "label", "duration"]], artifacts, self.sfreq, brain)
        return raw, truth

    _lead = 2.0  # idle seconds before the first trial
    _tail = 2.0  # idle seconds recorded after the last trial ends

    def _schedule(self, rng) -> pd.DataFrame:
        labels = rng.permutation(np.repeat(list(self._events), self.n_trials))
        task = self._interval[1]
        gaps = rng.uniform(2.0, 3.0, size=len(labels))  # idle time after each trial
        onsets = self._lead + np.concatenate([[0.0], np.cumsum(task + gaps)[:-1]])
        return pd.DataFrame({"onset": onsets, "label": labels, "duration": task})

    def _background(self, rng, n_times, traits, out: np.ndarray) -> None:
        """Write the resting background (µV) into ``out``."""
        n_ch = len(self.channels)
        # Volume conduction: neighbouring electrodes see correlated sources.
        dist = np.linalg.norm(self._positions[:, None] - self._positions[None], axis=-1)
        mixing = np.exp(-((dist / 0.04) ** 2))
        mixing /= np.linalg.norm(mixing, axis=1, keepdims=True)
        pink = colored_noise(rng, (n_ch, n_times), self.sfreq, exponent=1.0, dtype=np.float32)
        np.matmul((10.0 * mixing).astype(np.float32), pink, out=out)
        del pink
        alpha = narrowband(rng, n_times, self.sfreq, traits["alpha"], 1.0)
        alpha *= 1.0 + 0.5 * narrowband(rng, n_times, self.sfreq, 0.2, 0.1)  # waxing and waning
        add_outer(out, 6.0 * self._pattern("Oz", 0.08), alpha)

    def _task(self, rng, events, times, traits, out: np.ndarray) -> None:
        """Add the task signal (µV) to ``out``."""
        raise NotImplementedError

    def _line_and_drift(self, rng, times, out: np.ndarray) -> None:
        n_ch = len(self.channels)
        amplitudes, line_phases = rng.uniform(2.0, 6.0, n_ch), rng.uniform(0, 2 * np.pi, n_ch)
        freqs = rng.uniform(0.01, 0.1, (n_ch, 3))
        phases = rng.uniform(0, 2 * np.pi, (n_ch, 3))
        for ch in range(n_ch):  # channel by channel: phases in float64, no (channels, times) temporaries
            wave = amplitudes[ch] * np.sin(2 * np.pi * self.line_freq * times + line_phases[ch])
            for f, phase in zip(freqs[ch], phases[ch]):
                wave += 15.0 * np.sin(2 * np.pi * f * times + phase)
            out[ch] += wave

    def _artifacts(self, rng, n_times, out: np.ndarray) -> pd.DataFrame:
        """Add blinks, muscle bursts and electrode pops (µV) to ``out``; return their table."""
        sf, n_ch = self.sfreq, len(self.channels)
        minutes = n_times / sf / 60.0
        rows = []
        eyes = self._pattern("Fpz", 0.06)
        for onset in poisson_onsets(rng, self.artifact_rates["blink"] * minutes, n_times / sf - 0.5):
            width = rng.uniform(0.05, 0.08)  # s, Gaussian sd: a blink lasts ~0.3-0.4 s
            start, stop = int(onset * sf), min(n_times, int((onset + 8 * width) * sf))
            out[:, start:stop] += rng.uniform(80, 150) * np.outer(eyes, blink_waveform(stop - start, width, sf))
            rows.append(("blink", onset, (stop - start) / sf, self._channels_over(eyes)))
        for onset in poisson_onsets(rng, self.artifact_rates["emg"] * minutes, n_times / sf - 2.0):
            duration = rng.uniform(0.5, 1.5)
            start, stop = int(onset * sf), min(n_times, int((onset + duration) * sf))
            side = self._pattern("T7" if rng.random() < 0.5 else "T8", 0.05)
            burst = emg_burst(rng, stop - start, sf)  # drawn before the amplitude, as it always was
            out[:, start:stop] += rng.uniform(20, 40) * np.outer(side, burst)
            rows.append(("emg", onset, (stop - start) / sf, self._channels_over(side)))
        for onset in poisson_onsets(rng, self.artifact_rates["pop"] * minutes, n_times / sf - 1.0):
            ch = int(rng.integers(n_ch))
            start, stop = int(onset * sf), min(n_times, int((onset + 1.0) * sf))
            decay = np.exp(-np.arange(stop - start) / sf / rng.uniform(0.1, 0.3))
            out[ch, start:stop] += rng.choice([-1, 1]) * rng.uniform(50, 200) * decay
            rows.append(("pop", onset, (stop - start) / sf, (self.channels[ch],)))
        artifacts = pd.DataFrame(rows, columns=["kind", "onset", "duration", "channels"])
        return artifacts.sort_values("onset", ignore_index=True)

    def _channels_over(self, weights: np.ndarray, threshold: float = 0.3) -> tuple:
        return tuple(ch for ch, w in zip(self.channels, weights) if w >= threshold)

    def _envelope(self, events, times, labels, ramp: float = 0.3) -> np.ndarray:
        """1 during trials of the given labels (with smooth edges), 0 elsewhere."""
        env = np.zeros_like(times)
        for onset, label, duration in events[["onset", "label", "duration"]].itertuples(index=False):
            if label in labels:
                rise = np.clip((times - onset) / ramp, 0, 1)
                fall = np.clip((onset + duration - times) / ramp, 0, 1)
                env = np.maximum(env, np.minimum(rise, fall))
        return env


class SyntheticMI(_SyntheticBase):
    """Synthetic motor imagery: left/right hand (and feet) ERD/ERS.

    During imagery of one hand, mu (~11 Hz) and beta (~21 Hz) power drops
    over the contralateral sensorimotor cortex (ERD) and beta rebounds after
    the trial (ERS); feet imagery desynchronises the vertex.

    Parameters
    ----------
    n_subjects, n_sessions, n_runs : int
        Dataset size. ``n_trials`` is the number of trials per class and run.
    channels : list of str | None
        Electrode names of the standard 10-05 montage; default
        :data:`~neurodecode.datasets.caps.DEFAULT_CHANNELS`.
    montage : str | None
        The cap instead of ``channels``: a public dataset's (``"bnci2014_001"``,
        22 channels; ``"physionetmi"``, 64 channels; see :data:`~neurodecode.datasets.caps.CAPS`) or an
        MNE built-in montage (``"biosemi64"``, ``"standard_1020"``...).
    code : str | None
        The dataset's code in results (default the class name); two
        generated datasets in one benchmark need distinct codes.
    sfreq : float
        Sampling frequency in Hz.
    snr : float
        Effect size: 1 gives a 50 % ERD, 2 and above an ~95 % ERD.
    artifact_rates : dict | None
        Events per minute for ``blink``, ``emg`` and ``pop``; 0 disables one.
    line_freq : float
        Power-line frequency in Hz.
    random_state : int
        Seed; the same seed gives bit-identical recordings.
    feet : bool
        Add a ``feet`` class.
    spatial_jitter : float
        Standard deviation (m) of each subject's displacement of the imagery
        sources, as anatomy moves them between people; 0 puts them under C3,
        C4 and Cz for everyone.

    Examples
    --------
    >>> from neurodecode.datasets import SyntheticMI
    >>> raw, truth = SyntheticMI(n_subjects=1, n_trials=2).generate_run(1)
    >>> sorted(set(truth.events["label"]))
    ['left_hand', 'right_hand']
    """

    _paradigm = "imagery"
    _interval = [0, 3]

    _generation = _SyntheticBase._generation + ("feet", "spatial_jitter")

    def __init__(self, *, n_subjects=2, n_sessions=2, n_runs=2, n_trials=10, channels=None,
                 sfreq=250.0, snr=1.0, artifact_rates=None, line_freq=50.0, random_state=42, feet=False, montage=None,
                 code=None, spatial_jitter=0.0):
        self.feet = feet
        self.spatial_jitter = float(spatial_jitter)
        self._events = {"left_hand": 1, "right_hand": 2, **({"feet": 3} if feet else {})}
        super().__init__(n_subjects=n_subjects, n_sessions=n_sessions, n_runs=n_runs, n_trials=n_trials,
                         channels=channels, sfreq=sfreq, snr=snr, artifact_rates=artifact_rates,
                         line_freq=line_freq, random_state=random_state, montage=montage, code=code)

    def _task(self, rng, events, times, traits, out):
        n = len(times)
        erd = min(0.95, 0.5 * self.snr)
        sources = {"C3": ("right_hand",), "C4": ("left_hand",), "Cz": ("feet",)}
        for (site, classes), shift in zip(sources.items(), traits["shift"]):
            center = standard_positions()[site] + self.spatial_jitter * shift
            contra = self._envelope(events, times, classes)
            ipsi = self._envelope(events, times, set(self._events) - set(classes))
            # Beta rebound: power above baseline in the second after the trial.
            shifted = events.assign(onset=events["onset"] + events["duration"], duration=1.0)
            rebound = self._envelope(shifted, times, classes, ramp=0.2)
            mu_gain = 1.0 - erd * contra - 0.2 * erd * ipsi
            beta_gain = mu_gain + 0.5 * erd * rebound
            rhythm = (6.0 * mu_gain * narrowband(rng, n, self.sfreq, traits["mu"], 1.0)
                      + 3.0 * beta_gain * narrowband(rng, n, self.sfreq, traits["beta"], 2.0))
            add_outer(out, self._pattern(center, 0.035), rhythm)


class SyntheticSSVEP(_SyntheticBase):
    """Synthetic SSVEP: responses at 13, 17 and 21 Hz and two harmonics over occipital cortex.

    Parameters are those of :class:`SyntheticMI` (without ``feet``), plus
    ``frequencies``, the stimulation frequencies in Hz. Class names are the
    frequencies, as MOABB's SSVEP paradigm expects.

    Examples
    --------
    >>> from neurodecode.datasets import SyntheticSSVEP
    >>> SyntheticSSVEP(n_subjects=1).event_id
    {'13': 1, '17': 2, '21': 3}
    """

    _paradigm = "ssvep"
    _interval = [0, 3]

    _generation = _SyntheticBase._generation + ("frequencies",)

    def __init__(self, *, n_subjects=2, n_sessions=2, n_runs=2, n_trials=10, channels=None,
                 sfreq=250.0, snr=1.0, artifact_rates=None, line_freq=50.0, random_state=42,
                 frequencies=(13.0, 17.0, 21.0), montage=None, code=None):
        self.frequencies = tuple(frequencies)
        self._events = {f"{f:g}": i + 1 for i, f in enumerate(self.frequencies)}
        super().__init__(n_subjects=n_subjects, n_sessions=n_sessions, n_runs=n_runs, n_trials=n_trials,
                         channels=channels, sfreq=sfreq, snr=snr, artifact_rates=artifact_rates,
                         line_freq=line_freq, random_state=random_state, montage=montage, code=code)

    def _task(self, rng, events, times, traits, out):
        response = np.zeros_like(times)
        for label in self._events:
            env = self._envelope(events.assign(onset=events["onset"] + 0.1), times, (label,), ramp=0.2)
            freq = float(label)
            for k, gain in enumerate((1.0, 0.5, 0.25), start=1):
                if k * freq < self.sfreq / 2:
                    response += gain * env * np.sin(2 * np.pi * k * freq * times + rng.uniform(0, 2 * np.pi))
        add_outer(out, 2.0 * self.snr * self._pattern("Oz", 0.06), response)


class SyntheticSpeller(_SyntheticBase):
    """A synthetic 40-target SSVEP speller shaped like the Tsinghua Benchmark (Wang et al. 2017).

    Joint frequency-phase modulation: target ``k`` (0-39) flickers at
    ``8 + 0.2 k`` Hz with phase ``0.5 pi k`` (mod 2 pi). Each run is a block
    with one trial of every target in random order, a cue (gaze shift) of
    0.5-0.7 s before each, as in the Benchmark's 6 blocks of 9 occipital
    channels at 250 Hz. The response is phase-locked to the stimulus and
    starts after the subject's visual latency (0.12-0.16 s); subjects differ in
    latency, amplitude (x0.5-1.5), harmonic weights and phases, and where over
    occipital cortex the response peaks. Class names are the frequencies, as
    MOABB's SSVEP paradigm expects.

    Parameters are those of :class:`SyntheticMI` (without ``feet``), with
    ``n_runs`` the number of blocks and ``n_trials`` trials per target and block.

    Examples
    --------
    >>> from neurodecode.datasets import SyntheticSpeller
    >>> d = SyntheticSpeller(n_subjects=1)
    >>> len(d.event_id), list(d.event_id)[:3], d.channels[:3]
    (40, ['8', '8.2', '8.4'], ['Pz', 'PO5', 'PO3'])
    """

    _paradigm = "ssvep"
    _interval = [0, 1.5]
    #: the Tsinghua Benchmark's 9 channels
    CHANNELS = ("Pz", "PO5", "PO3", "POz", "PO4", "PO6", "O1", "Oz", "O2")
    FREQUENCIES = tuple(round(8.0 + 0.2 * k, 1) for k in range(40))

    def __init__(self, *, n_subjects=8, n_sessions=1, n_runs=6, n_trials=1, channels=None, sfreq=250.0, snr=1.0,
                 artifact_rates=None, line_freq=50.0, random_state=42, montage=None, code=None):
        self._events = {f"{f:g}": k + 1 for k, f in enumerate(self.FREQUENCIES)}
        if channels is None and montage is None:
            channels = list(self.CHANNELS)
        super().__init__(n_subjects=n_subjects, n_sessions=n_sessions, n_runs=n_runs, n_trials=n_trials,
                         channels=channels, sfreq=sfreq, snr=snr, artifact_rates=artifact_rates,
                         line_freq=line_freq, random_state=random_state, montage=montage, code=code)

    def _schedule(self, rng) -> pd.DataFrame:
        labels = rng.permutation(np.repeat(list(self._events), self.n_trials))
        gaps = rng.uniform(0.5, 0.7, size=len(labels))  # the cue: the gaze moves to the next target
        onsets = self._lead + np.cumsum(gaps) + np.arange(len(labels)) * self._interval[1]
        return pd.DataFrame({"onset": onsets, "label": labels, "duration": self._interval[1]})

    def _background(self, rng, n_times, traits, out: np.ndarray) -> None:
        """The shared background, plus independent sensor noise (2 µV RMS): the Benchmark's 9 channels
        sit within a few cm, and without it their noise would be almost one signal."""
        super()._background(rng, n_times, traits, out)
        out += rng.normal(0.0, 2.0, size=out.shape).astype(np.float32)

    def _task(self, rng, events, times, traits, out):
        own = np.random.default_rng([self.random_state, traits["subject"], 40])  # speller traits, per subject
        latency, gain = own.uniform(0.12, 0.16), own.uniform(0.5, 1.5)
        weights, lags = np.array([1.0, 0.6, 0.35]) * own.uniform(0.7, 1.3, 3), own.uniform(0, 2 * np.pi, 3)
        center = standard_positions()["Oz"] + 0.01 * own.normal(size=3)
        phases = {label: 0.5 * np.pi * (k - 1) for label, k in self._events.items()}
        response = np.zeros_like(times)
        for onset, label in events[["onset", "label"]].itertuples(index=False):
            start = int(np.floor((onset + latency) * self.sfreq))
            stop = min(len(times), int(np.ceil((onset + self._interval[1] + latency) * self.sfreq)))
            t = times[start:stop] - onset - latency
            ramp = np.clip(t / 0.02, 0, 1) * rng.uniform(0.8, 1.2)  # trial-to-trial amplitude
            freq = float(label)
            for h, (w, lag) in enumerate(zip(weights, lags), start=1):
                if h * freq < self.sfreq / 2:
                    response[start:stop] += ramp * w * np.sin(2 * np.pi * h * freq * t + h * phases[label] + lag)
        add_outer(out, 16.0 * gain * self.snr * self._pattern(center, 0.06), response)


class SyntheticP300(_SyntheticBase):
    """Synthetic visual P300 oddball: one target in six flashes.

    A run is ``n_trials`` blocks of 12 flashes every 0.4 s, separated by idle
    periods. Every flash evokes a small visual N1/P2; targets add an N200 and
    a P300 over parietal channels whose latency is the subject's.

    Parameters are those of :class:`SyntheticMI` (without ``feet``);
    ``n_trials`` counts blocks.

    Examples
    --------
    >>> from neurodecode.datasets import SyntheticP300
    >>> sorted(SyntheticP300(n_subjects=1).event_id)
    ['NonTarget', 'Target']
    """

    _paradigm = "p300"
    _interval = [0, 0.8]
    _events = {"Target": 2, "NonTarget": 1}
    _soa = 0.4
    _flashes = 12

    def _schedule(self, rng):
        rows, t = [], self._lead
        for _ in range(self.n_trials):
            labels = rng.permutation(["Target"] * 2 + ["NonTarget"] * (self._flashes - 2))
            rows += [(t + i * self._soa, label) for i, label in enumerate(labels)]
            t += self._flashes * self._soa + rng.uniform(2.0, 3.0)
        return pd.DataFrame(rows, columns=["onset", "label"]).assign(duration=self._interval[1])

    def _task(self, rng, events, times, traits, out):
        visual, parietal, central = (self._pattern(s, w) for s, w in (("Oz", 0.06), ("Pz", 0.07), ("Cz", 0.06)))
        win = np.arange(int(0.8 * self.sfreq)) / self.sfreq

        def bump(latency, width):
            return np.exp(-0.5 * ((win - latency) / width) ** 2)

        evoked = np.outer(visual, -2.0 * bump(0.10, 0.02) + 2.0 * bump(0.18, 0.03))
        target = self.snr * (np.outer(parietal, 5.0 * bump(traits["latency"], 0.07))
                             + np.outer(central, -2.0 * bump(0.22, 0.03)))
        for onset, label in events[["onset", "label"]].itertuples(index=False):
            start = int(round(onset * self.sfreq))
            stop = min(start + len(win), len(times))
            jitter = rng.uniform(0.8, 1.2)  # trial-to-trial amplitude variability
            erp = evoked + jitter * target if label == "Target" else evoked
            out[:, start:stop] += erp[:, : stop - start]
