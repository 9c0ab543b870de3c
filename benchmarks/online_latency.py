"""Live decoding latency over LSL: PhysionetMI S001 R08 replayed in real time on loopback.

TS+LR and ShallowConvNet are fitted on R04 and R12 with ``train_model`` (1 s
windows, a decision every 0.1 s); each then decodes R08 (64 channels, 160 Hz,
125 s) streamed by ``neurodecode``'s PlayerLSL at real-time speed, in its own
process pinned to one CPU core with one BLAS/torch thread (the player runs in
this process, on the other core). The replay pushes ``--chunk-size`` samples at
a time (default 1, as an amplifier sending each sample); with larger chunks the
end-to-end latency also holds the wait for the rest of the chunk (up to
``(chunk - 1) / 160`` s), which the decoder's own latency leaves out.

Printed per pipeline:
- end-to-end latency, from the LSL timestamp of a window's last sample to the
  push of its decision: p50, p99 and max (ms), and the decoder's own latency,
  from the newest sample of the pull that completed the window to the push;
- decisions made, missed (expected minus made) and late (later than one step);
- CPU share of the decoder (its CPU time over its wall time);
- the anchor: the same model's pseudo-online replay of R08 (``replay``, every
  window scored alone and timed), its inference time per window (p50, p99), and
  how the live decisions compare with it (labels equal, largest posterior gap).

Targets: p99 under 20 ms (TS+LR) and 30 ms (ShallowConvNet), no missed decision.
Run: ``python benchmarks/online_latency.py [--chunk-size 1]`` (about 6 minutes; needs ../shared/data).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STEP, WINDOW = 0.1, 1.0
CONFIG = {"name": "latency", "datasets": [{"name": "PhysionetMI", "subjects": [1]}],
          "paradigm": {"name": "LeftRightImagery", "params": {"fmin": 8, "fmax": 30}}, "random_state": 0,
          "pipelines": ["TS+LR", {"name": "ShallowConvNet", "params": {"max_epochs": 20, "valid_size": 0}}],
          "evaluations": [{"type": "pseudo-online", "window": WINDOW, "step": STEP, "rest": ["rest"]}]}


def decoder(model: str, stream: str, n_samples: int, out: str) -> None:
    """The decoder process: one core, one thread."""
    os.sched_setaffinity(0, {1})
    import torch

    torch.set_num_threads(1)
    from neurodecode.online import OnlineDecoder

    dec = OnlineDecoder(model)
    t0, c0 = time.perf_counter(), time.process_time()
    dec.run(stream, out=out, n_samples=n_samples, timeout=60)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    Path(out).with_suffix(".json").write_text(json.dumps({"wall": wall, "cpu": cpu}))


def main(chunk_size: int) -> None:
    os.environ.setdefault("NEURODECODE_LSL_SCOPE", "machine")
    os.sched_setaffinity(0, {0})
    import warnings

    warnings.simplefilter("ignore")
    import mne

    mne.set_log_level("ERROR")
    from neurodecode.benchmark import load_config
    from neurodecode.benchmark.build import make_paradigm
    from neurodecode.benchmark.evaluation_types.pseudo_online import pseudo_online_evaluation
    from neurodecode.benchmark.tasks import build_tasks
    from neurodecode.datasets import get_dataset
    from neurodecode.evaluation.stream import replay
    from neurodecode.models import load_model
    from neurodecode.online import play, read_decisions, train_model
    from neurodecode.online.lsl import recording
    from neurodecode.online.report import latency_summary
    from neurodecode.preprocessing import Recipe

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONWARNINGS": "ignore"}
    raw = recording(dataset="PhysionetMI", subject=1, session="0", run="1")  # S001R08
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = {**CONFIG, "output": str(tmp / "out")}
        task = build_tasks(load_config(cfg))[0]
        ds = get_dataset("PhysionetMI", subjects=[1])
        ev = pseudo_online_evaluation(task, ds, make_paradigm(task.paradigm), Recipe.coerce(task.recipe), str(tmp))
        [test] = [s for s in ev.streams(ds, 1)["0"] if s.run == "1"]
        n_len, n_step = int(round(WINDOW * test.sfreq)), int(round(STEP * test.sfreq))
        expected = (raw.n_times - n_len) // n_step + 1
        print(f"PhysionetMI S001R08 in chunks of {chunk_size} sample(s): {len(raw.ch_names)} channels at "
              f"{raw.info['sfreq']:g} Hz, "
              f"{raw.n_times / raw.info['sfreq']:.0f} s; {WINDOW:g} s windows every {STEP:g} s: "
              f"{expected} decisions expected")
        for name in ("TS+LR", "ShallowConvNet"):
            model = train_model(cfg, dataset="PhysionetMI", subject=1, pipeline=name, out=tmp / f"{name}.ndmodel",
                                runs=["0", "2"])
            anchor = replay(load_model(model).estimator, test, n_len, n_step, n_timed=None).set_index("stop_sample")
            out = tmp / f"{name}.parquet"
            stream = f"latency-{name}"
            proc = subprocess.Popen([sys.executable, __file__, "--decoder", str(model), stream, str(raw.n_times),
                                     str(out)], env=env)
            play(raw, stream, chunk_size=chunk_size, wait=120)
            proc.wait(timeout=300)
            log = read_decisions(out)
            usage = json.loads(out.with_suffix(".json").read_text())
            s = latency_summary(log, STEP)
            live = log[log["event"] == "decision"].set_index("sample")
            common = live.index.intersection(anchor.index)
            cols = [c for c in anchor.columns if c.startswith("p_")]
            equal = (live.loc[common, "prediction"] == anchor.loc[common, "prediction"].astype(str)).mean()
            gap = np.abs(live.loc[common, cols].to_numpy(float) - anchor.loc[common, cols].to_numpy(float)).max()
            infer = anchor["infer_s"].to_numpy() * 1000
            print(f"{name}: end-to-end latency p50 {s['latency_p50_ms']:.1f} ms, p99 {s['latency_p99_ms']:.1f} ms, "
                  f"max {s['latency_max_ms']:.1f} ms (decoder's own: p50 {s['decoder_latency_p50_ms']:.1f}, p99 "
                  f"{s['decoder_latency_p99_ms']:.1f}, max {s['decoder_latency_max_ms']:.1f} ms); {s['decisions']} "
                  f"decisions, {expected - s['decisions']} missed, {s['late']} late; CPU share "
                  f"{usage['cpu'] / usage['wall']:.1%} of one core")
            print(f"  anchor (pseudo-online replay, each window alone): inference p50 "
                  f"{np.percentile(infer, 50):.2f} ms, p99 {np.percentile(infer, 99):.2f} ms; live labels equal "
                  f"{equal:.1%}, largest posterior gap {gap:.1e}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--decoder":
        decoder(*sys.argv[2:4], int(sys.argv[4]), sys.argv[5])
    else:
        import argparse

        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--chunk-size", type=int, default=1, help="samples per push of the replay")
        main(parser.parse_args().chunk_size)
