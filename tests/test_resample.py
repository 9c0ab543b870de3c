"""Causal resampling by any rational ratio: forward only, chunk-invariant, equal to MNE in the passband."""
from __future__ import annotations

import mne
import numpy as np
import pytest
import scipy.signal

from neurodecode.preprocessing import Recipe
from neurodecode.preprocessing.filters import CausalResampler


@pytest.mark.parametrize("fin, fout", [(250.0, 128.0), (160.0, 128.0), (256.0, 128.0), (100.0, 250.0)])
def test_chunks_of_any_size_equal_the_whole_signal_and_upfirdn(fin, fout):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 2000))
    whole = CausalResampler(fin, fout, 3).process(x)
    ref = np.stack([scipy.signal.upfirdn(CausalResampler(fin, fout, 3).h, row,
                                         *(lambda r: (r.up, r.down))(CausalResampler(fin, fout, 3))) for row in x])
    np.testing.assert_allclose(whole, ref[:, :whole.shape[1]], rtol=1e-10, atol=1e-12)
    r = CausalResampler(fin, fout, 3)
    cuts = np.sort(rng.choice(np.arange(1, 2000), size=25, replace=False))
    parts = np.concatenate([r.process(c) for c in np.split(x, cuts, axis=1)], axis=1)
    np.testing.assert_allclose(parts, whole, rtol=1e-10, atol=1e-12)
    assert whole.shape[1] == int(np.ceil(2000 * fout / fin))  # one output per output period begun


def test_output_never_depends_on_the_future():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 1500))
    y = x.copy()
    y[:, 900:] = rng.normal(size=(1, 600))  # change everything from input sample 900 on
    a, b = (CausalResampler(250.0, 128.0, 1).process(v) for v in (x, y))
    r = CausalResampler(250.0, 128.0, 1)
    past = r.last_input(np.arange(a.shape[1])) < 900
    assert np.array_equal(a[:, past], b[:, past]) and not np.allclose(a[:, ~past], b[:, ~past])


def test_matches_mne_zero_phase_resampling_in_the_passband_once_delayed():
    fin, fout, n = 250.0, 128.0, 5000
    t = np.arange(n) / fin
    x = (np.sin(2 * np.pi * 6 * t) + 0.5 * np.sin(2 * np.pi * 23 * t + 1) + 0.3 * np.sin(2 * np.pi * 40 * t))[None]
    r = CausalResampler(fin, fout, 1)
    shifted = r.process(x)[:, r.delay:]  # causal output m + delay is zero-phase output m
    # MNE's zero-phase polyphase resampling (the same filter design, applied forward and centred)
    zero_phase = mne.filter.resample(x, up=fout, down=fin, method="polyphase", verbose=False)
    k = min(shifted.shape[1], zero_phase.shape[1])
    core = slice(200, k - 200)  # away from both edges
    np.testing.assert_allclose(shifted[:, core], zero_phase[:, core], rtol=0, atol=1e-12)
    # and both equal the ideal band-limited signal sampled at 128 Hz, to the passband ripple
    ideal = (np.sin(2 * np.pi * 6 * np.arange(k) / fout) + 0.5 * np.sin(2 * np.pi * 23 * np.arange(k) / fout + 1)
             + 0.3 * np.sin(2 * np.pi * 40 * np.arange(k) / fout))[None]
    assert np.abs(shifted[:, core] - ideal[:, core]).max() < 0.005
    assert r.delay / fout == pytest.approx(10 / 128)


def test_causal_recipe_resamples_250_to_128_hz_and_keeps_events():
    info = mne.create_info(["C3", "C4", "STI"], 250.0, ["eeg", "eeg", "stim"])
    data = np.random.default_rng(3).normal(size=(3, 2500)) * 1e-6
    data[2] = 0
    data[2, [400, 1203, 2001]] = [1, 2, 1]
    raw = mne.io.RawArray(data, info, verbose=False)
    out = Recipe([{"resample": {"sfreq": 128.0}}]).causal().apply_raw(raw)
    assert out.info["sfreq"] == 128.0
    events = mne.find_events(out, shortest_event=0, verbose=False)
    assert events[:, 2].tolist() == [1, 2, 1]
    # each event lands on the first output sample whose input span reaches it: never earlier
    assert np.all(events[:, 0] / 128.0 >= np.array([400, 1203, 2001]) / 250.0)
    assert np.all(events[:, 0] / 128.0 - np.array([400, 1203, 2001]) / 250.0 < 1 / 128.0)
