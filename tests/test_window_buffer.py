"""The live decoder's window buffer: the same windows, stamps and NaN flags whatever the chunk sizes."""
import mne
import numpy as np
import pytest

from neurodecode.online.window_buffer import WindowBuffer
from neurodecode.preprocessing import Recipe
from neurodecode.preprocessing.streaming import StreamingRecipe

SFREQ = 250.0
RECIPE = [{"bandpass": {"l_freq": 8.0, "h_freq": 30.0, "method": "iir", "order": 4}},
          {"resample": {"sfreq": 125.0}}]


def _cut(x, stamps, sizes):
    info = mne.create_info(["C3", "Cz", "C4"], SFREQ, "eeg")
    buf = WindowBuffer(StreamingRecipe(Recipe(RECIPE).causal(), info), n_len=125, n_step=10)
    out, nans, at = [], [], 0
    for n in sizes:
        span = buf.push(x[:, at:at + n], stamps[at:at + n])
        nans += [] if span is None else [span]
        out += buf.windows()
        at += n
    return out, nans


@pytest.mark.parametrize("sizes", [[1] * 2000, [7] * 285 + [5], [333, 1, 1666], [2000]])
def test_windows_equal_whatever_the_chunks(sizes):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 2000)) * 1e-5
    x[1, 900:905] = np.nan
    stamps = 1000.0 + np.arange(2000) / SFREQ
    whole, nans_whole = _cut(x, stamps, [2000])
    parts, nans = _cut(x, stamps, sizes)
    # windows end every 10 samples at 125 Hz from 125 on, whatever arrived when
    assert [w[0] for w in parts] == list(range(125, 1000 + 1, 10))
    assert [w[:3] for w in parts] == [w[:3] for w in whole]
    # each window's stamp is its newest input sample's: output j of the 250 -> 125 Hz resampler
    # needs input 2j, also when many windows complete in one chunk
    assert all(last == 2 * (stop - 1) and stamp == stamps[last] for stop, last, stamp, _ in parts)
    flagged = [stop for stop, _, _, w in parts if w is None]
    # exactly the windows whose inputs reach 900..904 are flagged
    assert flagged == [stop for stop, *_ in parts if 2 * (stop - 125) <= 904 and 2 * (stop - 1) >= 900]
    assert flagged == [stop for stop, _, _, w in whole if w is None] and len(flagged) == 13
    assert sum(n for *_, n in nans) == sum(n for *_, n in nans_whole) == 5
    for (_, _, _, a), (_, _, _, b) in zip(parts, whole):
        if a is not None:
            np.testing.assert_array_equal(a, b)
