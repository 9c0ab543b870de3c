"""Online decoding over LSL (loopback only): live decisions equal the replay's, incremental filtering,
channel checks, stalls, NaN samples, a vanished stream, the train/online/report-online commands."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import mne
import numpy as np
import pandas as pd
import pytest

from neurodecode.cli import main
from neurodecode.errors import ChannelMismatchError, ConfigError, StreamError
from neurodecode.online import OnlineDecoder, play, read_decisions, report_online, train_model

#: every test here trains a model, runs a benchmark or reads real recordings
pytestmark = pytest.mark.slow

SYNTH = {"n_subjects": 1, "n_sessions": 1, "n_runs": 2, "n_trials": 8, "sfreq": 128, "snr": 2.0, "random_state": 3}
STEP = 0.25


def _synthetic_config(tmp_path) -> dict:
    return {"name": "live", "datasets": [{"name": "SyntheticMI", "params": SYNTH}],
            "paradigm": {"name": "LeftRightImagery", "params": {"fmin": 8, "fmax": 30}},
            "pipelines": ["TS+LR"], "random_state": 0, "output": str(tmp_path / "out"),
            "evaluations": [{"type": "pseudo-online", "window": 1.0, "step": STEP,
                             "smoothing": {"method": "mean", "k": 3}}]}


@pytest.fixture(scope="module")
def synthetic_model(tmp_path_factory):
    """TS+LR (with smoothing) fitted on run 0 of a synthetic subject; run 1 is left to stream."""
    from neurodecode.datasets import SyntheticMI

    tmp = tmp_path_factory.mktemp("model")
    path = train_model(_synthetic_config(tmp), dataset="SyntheticMI", subject=1, pipeline="TS+LR",
                       out=tmp / "tslr.ndmodel", runs=["0"])
    raw, _ = SyntheticMI(**SYNTH).generate_run(1, 0, 1)
    return path, raw


def _push(raw, name: str, *, chunk: int = 16, speed: float = 4.0, pause_at: float | None = None,
          pause: float = 0.0, nan_at: float | None = None, vanish_at: float | None = None,
          info=None, wait: float = 30.0):
    """Push ``raw`` on an LSL outlet from a thread (``speed`` times real time), with a pause, a
    stretch of NaN samples or the outlet's end at the given times (s). Returns the thread."""
    from mne_lsl.lsl import StreamInfo, StreamOutlet

    from neurodecode.online.lsl import configure

    configure()
    info = info or raw.info
    sinfo = StreamInfo(name, "EEG", len(info.ch_names), info["sfreq"], "float64", f"test-{name}")
    sinfo.set_channel_info(info)
    data = raw.get_data().T.copy()
    sf = raw.info["sfreq"]
    if nan_at is not None:
        data[int(nan_at * sf):int(nan_at * sf) + 20] = np.nan

    def run():
        outlet = StreamOutlet(sinfo, chunk)
        outlet.wait_for_consumers(wait)
        paused = False
        for start in range(0, len(data), chunk):
            if vanish_at is not None and start >= vanish_at * sf:
                break
            if pause_at is not None and not paused and start >= pause_at * sf:
                paused = True
                time.sleep(pause)
            outlet.push_chunk(np.ascontiguousarray(data[start:start + chunk]))
            time.sleep(chunk / sf / speed)
        time.sleep(0.5)
        del outlet  # the stream vanishes

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_incremental_causal_filtering_equals_one_shot():
    """Every stateful step, random chunk sizes (1 to 60 samples), against the recipe on the whole run."""
    from neurodecode.datasets import SyntheticMI
    from neurodecode.preprocessing import Recipe
    from neurodecode.preprocessing.streaming import StreamingRecipe

    raw, _ = SyntheticMI(n_subjects=1, n_trials=4, sfreq=250).generate_run(1)
    stim = mne.io.RawArray(np.zeros((1, raw.n_times)), mne.create_info(["STI"], 250.0, ["stim"]), verbose=False)
    raw.add_channels([stim], force_update_info=True)
    recipe = Recipe([{"pick": {"types": ["eeg"]}}, {"notch": {"freqs": [50.0]}},
                     {"bandpass": {"l_freq": 8, "h_freq": 30}}, {"highpass": {"l_freq": 1, "method": "fir"}},
                     {"rereference": {}}, {"resample": {"sfreq": 128}}, {"exp_moving_standardize": {}}]).causal()
    whole = recipe.apply_raw(raw)
    expected = whole.get_data(picks="data")
    online = StreamingRecipe(recipe, raw.info)
    x = raw.get_data()
    cuts = np.cumsum(np.random.default_rng(0).integers(1, 61, size=x.shape[1]))
    cuts = np.r_[0, cuts[cuts < x.shape[1]], x.shape[1]]
    got = np.concatenate([online.process(x[:, a:b]) for a, b in zip(cuts[:-1], cuts[1:])], axis=1)
    assert online.ch_names == whole.copy().pick("data").ch_names and online.sfreq == 128.0
    assert got.shape == expected.shape == (31, int(np.ceil(raw.n_times * 128 / 250)))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10 * np.abs(expected).max())
    with pytest.raises(ConfigError, match="look ahead"):
        StreamingRecipe([{"bandpass": {"l_freq": 8, "h_freq": 30}}], raw.info)


@pytest.mark.lsl
def test_live_decisions_equal_the_pseudo_online_replay(shared_data, tmp_path):
    """The first 40 s of PhysionetMI S001 R08 played in real time with PlayerLSL over loopback; TS+LR and
    ShallowConvNet, fitted on R04 and R12, decode it at once. Their decisions at each window's end sample
    equal those of the pseudo-online replay of the whole run by the same models, up to that sample:
    labels identical, posteriors within 1e-6 (a decision sees only its window, so the rest of the run
    cannot change it; 40 s of the run's 125 keeps CI short)."""
    from neurodecode.benchmark import load_config
    from neurodecode.benchmark.build import make_paradigm
    from neurodecode.benchmark.evaluation_types.pseudo_online import pseudo_online_evaluation
    from neurodecode.benchmark.tasks import build_tasks
    from neurodecode.datasets import get_dataset
    from neurodecode.evaluation.stream import replay
    from neurodecode.models import load_model
    from neurodecode.online.lsl import recording
    from neurodecode.preprocessing import Recipe

    cfg = {"name": "live-physionet", "datasets": [{"name": "PhysionetMI", "subjects": [1]}],
           "paradigm": {"name": "LeftRightImagery", "params": {"fmin": 8, "fmax": 30}}, "random_state": 0,
           "pipelines": ["TS+LR", {"name": "ShallowConvNet", "params": {"max_epochs": 3, "valid_size": 0}}],
           "evaluations": [{"type": "pseudo-online", "window": 1.0, "step": 0.1, "rest": ["rest"]}],
           "output": str(tmp_path / "out")}
    models = {p: train_model(cfg, dataset="PhysionetMI", subject=1, pipeline=p, out=tmp_path / f"{p}.ndmodel",
                             runs=["0", "2"]) for p in ("TS+LR", "ShallowConvNet")}
    assert load_model(models["TS+LR"]).meta["online"]["runs"] == ["0/0", "0/2"]
    task = build_tasks(load_config(cfg))[0]
    ds = get_dataset("PhysionetMI", subjects=[1])
    ev = pseudo_online_evaluation(task, ds, make_paradigm(task.paradigm), Recipe.coerce(task.recipe),
                                  str(tmp_path))
    [test] = [s for s in ev.streams(ds, 1)["0"] if s.run == "1"]
    n_len, n_step = int(test.sfreq), int(round(0.1 * test.sfreq))
    expected = {p: replay(load_model(m).estimator, test, n_len, n_step, n_timed=None).set_index("stop_sample")
                for p, m in models.items()}

    raw = recording(dataset="PhysionetMI", subject=1, session="0", run="1")  # S001R08
    assert raw.n_times == 20000
    n_played = 6400  # 40 s at 160 Hz: 4 trials and their rests
    raw.crop(tmax=(n_played - 1) / raw.info["sfreq"])
    assert raw.n_times == n_played
    expected = {p: ref[ref.index <= n_played] for p, ref in expected.items()}
    live, errors = {}, []
    # built here, not in the threads: the player waits for its first consumer only, and a decoder
    # still loading its model would connect late and miss the first chunks
    decoders = {p: OnlineDecoder(m) for p, m in models.items()}

    def decode(name):
        try:
            live[name] = decoders[name].run("physionet-R08", n_samples=raw.n_times, timeout=30)
        except Exception as exc:  # noqa: BLE001  (re-raised below, in the test's thread)
            errors.append(exc)

    threads = [threading.Thread(target=decode, args=(p,)) for p in models]
    for t in threads:
        t.start()
    play(raw, "physionet-R08", chunk_size=10, wait=60)  # real time: 40 s
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for name, table in live.items():
        decided = table[table["event"] == "decision"].set_index("sample")
        ref = expected[name]
        assert len(decided) == len(ref) == (n_played - n_len) // n_step + 1  # none dropped, none doubled
        assert decided.index.equals(ref.index)
        assert (decided["prediction"] == ref["prediction"].astype(str)).all(), name
        cols = [c for c in ref.columns if c.startswith("p_")]
        np.testing.assert_allclose(decided[cols].to_numpy(float), ref[cols].to_numpy(float), rtol=0, atol=1e-6)
        assert decided["truth"].isin(["idle", "left_hand", "right_hand"]).all()
        assert (decided["truth"] == ref["truth"]).mean() > 0.95  # markers agree with the replay's truth
        assert (decided["latency"] > 0).all() and decided["latency"].median() < 0.1


@pytest.mark.lsl
def test_wrong_channels_are_refused_before_any_decision(synthetic_model, tmp_path):
    path, raw = synthetic_model
    renamed = raw.copy().rename_channels({"C3": "X3", "C4": "X4"})
    _push(renamed, "wrong-channels", wait=10)
    log = tmp_path / "wrong.parquet"
    with pytest.raises(ChannelMismatchError, match=r"missing: \['C3', 'C4'\]; extra channels in the stream: "
                                                   r"\['X3', 'X4'\]"):
        OnlineDecoder(path).run("wrong-channels", out=log, timeout=10)
    assert len(read_decisions(log)) == 0


@pytest.mark.lsl
def test_pause_and_nan_samples_are_logged_and_decoding_goes_on(synthetic_model, tmp_path):
    path, raw = synthetic_model
    _push(raw, "paused", pause_at=20.0, pause=2.0, nan_at=40.0)
    table = OnlineDecoder(path, stall=1.0).run("paused", out=tmp_path / "paused.parquet", n_samples=raw.n_times)
    events = table["event"].tolist()
    assert events.count("stall") == 1 and events.count("resume") == 1
    nan = table[table["event"] == "nan"]  # one record per chunk that holds NaN samples
    assert 1 <= len(nan) <= 2 and nan["n_nan"].sum() == 20
    assert nan["first_nan"].min() == 40 * 128 and nan["last_nan"].max() == 40 * 128 + 19
    resume = table[table["event"] == "resume"].iloc[0]
    assert 1.8 < resume["gap_s"] < 3.0 and abs(resume["input_sample"] - 20 * 128) <= 16
    decided = table[table["event"] == "decision"]
    n_len, n_step = 128, int(STEP * 128)
    all_stops = np.arange(n_len, raw.n_times + 1, n_step)
    nan_lo, nan_hi = 40 * 128, 40 * 128 + 19
    hit = (all_stops - n_len <= nan_hi) & (all_stops - 1 >= nan_lo)  # windows that see a NaN sample
    assert decided["sample"].tolist() == all_stops[~hit].tolist()  # every other window, after the pause too
    assert (table["event"] == "nan_window").sum() == hit.sum() == 4
    assert pd.read_parquet(tmp_path / "paused.parquet")["event"].tolist() == events


@pytest.mark.lsl
def test_a_vanished_stream_exits_non_zero_with_a_readable_log(synthetic_model, tmp_path):
    path, raw = synthetic_model
    _push(raw, "vanishing", vanish_at=30.0, speed=2.0)
    log = tmp_path / "vanish.parquet"
    proc = subprocess.run([sys.executable, "-m", "neurodecode.cli", "online", str(path), "--stream", "vanishing",
                           "--out", str(log), "--timeout", "20"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "vanished" in proc.stderr and "Traceback" not in proc.stderr
    table = read_decisions(log)
    assert table["event"].iloc[-1] == "lost"
    decided = table[table["event"] == "decision"]
    assert 25 * 4 <= len(decided) <= (30 * 128 - 128) // 32 + 1  # decisions up to the loss, all kept


@pytest.mark.lsl
def test_train_online_and_report_commands(synthetic_model, tmp_path, capsys):
    from neurodecode.models import load_model

    config = tmp_path / "live.yml"
    import yaml

    config.write_text(yaml.safe_dump(_synthetic_config(tmp_path)))
    model = tmp_path / "cli.ndmodel"
    assert main(["train", str(config), "--dataset", "SyntheticMI", "--subject", "1", "--pipeline", "TS+LR",
                 "--out", str(model), "--runs", "0"]) == 0
    meta = load_model(model).meta["online"]
    assert (meta["window"], meta["step"], meta["idle"], meta["smoothing"]) == (1.0, STEP, "class",
                                                                             {"method": "mean", "k": 3})
    assert meta["classes"] == ["left_hand", "right_hand"] and meta["runs"] == ["0/0"]
    assert meta["input_info"]["sfreq"] == 128 and len(meta["input_info"].ch_names) == 31
    # the CLI model is the fixture's model: the same fit
    from neurodecode.models.decision import online_parts

    X = np.random.default_rng(0).normal(size=(3, 31, 128)).astype(np.float32) * 1e-5
    cli, fixture = (online_parts(load_model(m).estimator)[0](X) for m in (model, synthetic_model[0]))
    assert cli.shape == (3, 3)  # idle, left_hand, right_hand
    np.testing.assert_array_equal(cli, fixture)
    assert main(["train", str(config), "--dataset", "SyntheticMI", "--subject", "1", "--pipeline", "TS+LRR",
                 "--out", str(model)]) == 2
    assert "unknown pipeline 'TS+LRR'" in capsys.readouterr().err
    _, raw = synthetic_model
    player = play(raw, "cli-stream", wait=30, block=False)  # PlayerLSL: data and markers, in real time
    log = tmp_path / "cli.parquet"
    try:
        assert main(["online", str(model), "--stream", "cli-stream", "--out", str(log), "--duration", "8"]) == 0
    finally:
        player.stop()
    table = pd.read_parquet(log)
    decided = table[table["event"] == "decision"]
    assert len(decided) > 20 and decided["truth"].isin(["idle", "left_hand", "right_hand"]).all()
    assert (np.diff(decided["sample"]) == 32).all()
    report = report_online(log, step=STEP)
    text = report.read_text()
    assert "latency_p99_ms" in text and (report.parent / "figures" / "latency.png").exists()
    assert (report.parent / "figures" / "confusion.png").exists()


def test_a_model_without_online_settings_is_refused(tmp_path):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    from neurodecode.models import save_model
    from neurodecode.windows import Windows

    X = np.random.default_rng(0).normal(size=(10, 2, 4))
    clf = LinearDiscriminantAnalysis().fit(X.reshape(10, -1), [0, 1] * 5)
    w = Windows(X, pd.DataFrame({"label": [0, 1] * 5}), ["C3", "C4"], 100.0)
    path = save_model(clf, tmp_path / "plain.ndmodel", w)
    with pytest.raises(ConfigError, match="not fitted for live decoding"):
        OnlineDecoder(path)
    with pytest.raises(StreamError, match="not found within 0.5 s"):
        from neurodecode.online import find_stream

        find_stream("no-such-stream-anywhere", timeout=0.5)
