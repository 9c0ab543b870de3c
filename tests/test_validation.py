"""Every mistake in a benchmark definition stops it before any task: one line, exit status 2."""
from __future__ import annotations

import pytest
import yaml

from neurodecode.benchmark.store import FolderLock
from neurodecode.cli import main

MI = {"name": "SyntheticMI", "params": {"n_subjects": 2, "n_sessions": 1, "n_runs": 2, "sfreq": 128}}
PARADIGM = {"name": "LeftRightImagery", "params": {"fmin": 8, "fmax": 30}}


def _run(tmp_path, capsys, **changes):
    spec = {"datasets": [MI], "paradigm": PARADIGM, "pipelines": ["CSP+LDA"], "evaluations": ["within-session"],
            "output": str(tmp_path / "out")}
    spec.update(changes)
    path = tmp_path / "bench.yml"
    path.write_text(yaml.safe_dump(spec))
    code = main(["benchmark", str(path), "--quiet"])
    err = capsys.readouterr().err.strip()
    return code, err


BAD = [
    ({"paradigm": {"name": "LeftRightImagery", "params": {"fmin": 8, "fmax": 300}}},
     "paradigm LeftRightImagery fmax=300 Hz is at or above half SyntheticMI's rate of 128 Hz"),
    ({"paradigm": {"name": "LeftRightImagery", "params": {"fmin": 8, "fmax": 100, "resample": 128}},
      "datasets": [{"name": "SyntheticMI", "params": {"n_subjects": 2, "sfreq": 250}}]},
     "fmax=100 Hz is at or above half the paradigm's resample rate of 128 Hz"),
    ({"recipe": [{"lowpass": {"h_freq": 80.0}}]}, "recipe step lowpass h_freq=80 Hz is at or above the Nyquist"),
    ({"recipe": [{"denoise": {"artifact": "eog"}}]},
     "dataset SyntheticMI: denoise: the eog model was trained at 256 Hz only and the data is at 128 Hz; add "
     "{resample: {sfreq: 256}} before the denoise step"),
    ({"recipe": [{"denoise": {"artifact": "emg", "model": "eog"}}]},
     "recipe step 'denoise': artifact 'emg' with model 'eog', which was trained to remove eog"),
    ({"datasets": [{"name": "SyntheticSSVEP", "params": {"n_subjects": 2}}]},
     "paradigm LeftRightImagery cannot use dataset SyntheticSSVEP (ssvep); use a ssvep paradigm"),
    ({"pipelines": ["CCA"]}, "pipeline CCA is made for SSVEP, not LeftRightImagery"),
    ({"evaluations": [{"type": "pseudo-online", "window": 5.0, "step": 0.5}]},
     "window of 5 s is longer than a trial of SyntheticMI"),
    ({"pipelines": ["ShallowConvNet"], "evaluations": [{"type": "pseudo-online", "window": 0.25, "step": 0.25}]},
     "pipeline ShallowConvNet in evaluation pseudo-online/within-session on SyntheticMI: windows of 32 samples"),
    ({"evaluations": ["cross-session"]},
     "evaluation offline/cross-session needs two or more sessions per subject, but SyntheticMI has 1"),
    ({"datasets": [{**MI, "subjects": [1]}], "evaluations": ["cross-subject"]},
     "evaluation offline/cross-subject needs two or more subjects, but SyntheticMI lists [1]"),
    ({"datasets": [{"name": "SyntheticMI", "params": {"bogus": 3}}]},
     "unknown parameter of dataset SyntheticMI 'bogus'"),
    ({"pipelines": [{"name": "TS+LR", "params": {"estimatr": "lwf"}}]},
     "unknown parameter of pipeline TS+LR 'estimatr': did you mean estimator"),
    ({"paradigm": {"name": "LeftRightImagery", "params": {"fmni": 8}}},
     "unknown parameter of paradigm LeftRightImagery"),
    ({"datasets": ["Kalunga2061"]}, "unknown dataset 'Kalunga2061': did you mean Kalunga2016"),
    ({"datasets": [{**MI, "task_interval": [2.0, 1.0]}]},
     "dataset SyntheticMI: task_interval starts at 2 s and ends at 1 s: the start must come before the end"),
    ({"datasets": [{**MI, "task_interval": [0.0, 0.5]}],
      "evaluations": [{"type": "pseudo-online", "window": 1.0, "step": 0.25}]},
     "window of 1 s is longer than a trial of SyntheticMI (0.5 s of task per trial)"),
]


@pytest.mark.parametrize("changes, message", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_definition_stops_before_any_task(tmp_path, capsys, changes, message):
    code, err = _run(tmp_path, capsys, **changes)
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("neurodecode: error: "), err
    assert message in err, err
    assert not (tmp_path / "out").exists()  # nothing was written: no task ran


def test_a_second_run_on_the_same_folder_exits_at_once(tmp_path, capsys):
    import os

    (tmp_path / "out").mkdir()
    with FolderLock(tmp_path / "out"):
        code, err = _run(tmp_path, capsys)
    assert code == 2
    assert f"is in use by another neurodecode run (PID {os.getpid()})" in err
    assert (tmp_path / "out" / "store.jsonl").read_text() == ""  # it ran nothing


def test_lock_of_a_killed_run_is_taken_over(tmp_path):
    import subprocess
    import sys

    folder = tmp_path / "out"
    folder.mkdir()
    code = (f"from neurodecode.benchmark.store import FolderLock; import os; FolderLock({str(folder)!r}).acquire(); "
            "os._exit(0)")
    dead = subprocess.run([sys.executable, "-c", code], check=True)
    assert dead.returncode == 0 and (folder / ".neurodecode.lock").read_text().isdigit()
    with FolderLock(folder) as lock:  # the kernel released the dead holder's flock
        assert lock.stale_pid is not None and lock.stale_pid != os_getpid()


def os_getpid():
    import os

    return os.getpid()


@pytest.mark.parametrize("argv, message", [
    (["cache", "info", "--dataset", "ZZZ"], "'ZZZ'"),
    (["audit", "Kalunga2061"], "unknown dataset 'Kalunga2061': did you mean Kalunga2016"),
    (["quickstart", "--dataset", "ZZZZZZZZ"], "unknown dataset 'ZZZZZZZZ': no close match among"),
])
def test_every_command_names_the_unknown_name(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert argv[0] != "cache" or "the cache" in err  # empty cache, or close matches among cached datasets
