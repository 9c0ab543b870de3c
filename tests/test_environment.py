"""A broken environment gives one line; versions are recorded with every benchmark result."""
from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from neurodecode import environment as envmod
from neurodecode.environment import BrokenEnvironmentError, check_device, environment, require

REPO = Path(__file__).resolve().parents[1]
TORCH = metadata.version("torch")
SYMBOL = "torch_exception_get_what_without_backtrace"


def _fake_package(root: Path, module: str, dist: str, version: str, error: str) -> Path:
    """A package that fails to import as a compiled extension does, with its own dist-info
    (so importlib.metadata reports ``version``), placed first on PYTHONPATH."""
    parts = module.split(".")
    folder = root.joinpath(*parts)
    folder.mkdir(parents=True)
    for i in range(1, len(parts)):
        root.joinpath(*parts[:i], "__init__.py").write_text("")
    (folder / "__init__.py").write_text(f"raise OSError({error!r})\n")
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    return root


def _broken_torchaudio(tmp_path) -> Path:
    lib = "/venv/lib/python3.11/site-packages/torchaudio/lib/libtorchaudio.so"
    return _fake_package(tmp_path / "fake", "torchaudio", "torchaudio", "2.11.1",
                         f"{lib}: undefined symbol: {SYMBOL}")


def _cli(*args, pythonpath: Path | None = None, cwd: Path | None = None, extra_env: dict | None = None):
    env = {**os.environ, **(extra_env or {})}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([sys.executable, "-m", "neurodecode.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


def _network_benchmark(tmp_path, params: dict | None = None) -> Path:
    spec = {"datasets": [{"name": "SyntheticMI", "params": {"n_subjects": 1, "n_sessions": 1, "sfreq": 128}}],
            "paradigm": "LeftRightImagery", "evaluations": ["within-session"],
            "pipelines": ["CSP+LDA", {"name": "ShallowConvNet", "params": {"max_epochs": 1, **(params or {})}}],
            "output": str(tmp_path / "out")}
    path = tmp_path / "bench.yml"
    path.write_text(json.dumps(spec))  # JSON is YAML
    return path


def test_broken_torchaudio_is_one_line_before_any_work(tmp_path):
    """torchaudio 2.11.1 beside torch 2.11.0, as the registry served it: exit 2, one line naming
    both versions and the fix, and no task run (nothing in the store)."""
    fake = _broken_torchaudio(tmp_path)
    proc = _cli("benchmark", str(_network_benchmark(tmp_path)), pythonpath=fake)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith("neurodecode: error: ")
    assert f"torchaudio 2.11.1 does not load with torch {TORCH}" in line
    assert SYMBOL in line
    assert f"fix: pip install -r {REPO / 'requirements.lock'}" in line
    assert "Traceback" not in proc.stdout + proc.stderr
    store = tmp_path / "out" / "store.jsonl"
    assert not store.exists() or '"type": "row"' not in store.read_text()


@pytest.mark.slow
def test_broken_torchaudio_still_runs_classical_benchmarks(tmp_path):
    """Only networks need torch: a classical definition is not refused for torchaudio's fault."""
    fake = _broken_torchaudio(tmp_path)
    spec = json.loads(_network_benchmark(tmp_path).read_text())
    spec["pipelines"] = ["CSP+LDA"]
    path = tmp_path / "classical.yml"
    path.write_text(json.dumps(spec))
    proc = _cli("benchmark", str(path), "--quiet", pythonpath=fake)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "CSP+LDA" in proc.stdout


def test_broken_torchaudio_message_outside_a_clone(tmp_path, monkeypatch):
    """Installed from a wheel there is no lock: the fix is the ranges neurodecode declares."""
    monkeypatch.setattr(envmod, "_repo_root", lambda: None)
    broken = envmod._broken("torchaudio", OSError(f"libtorchaudio.so: undefined symbol: {SYMBOL}"))
    text = str(broken)
    assert f"does not load with torch {TORCH}" in text
    assert "fix: pip install --force-reinstall 'torch<2.12,>=2.11' 'torchaudio!=2.11.1,<2.12,>=2.11'" in text


def test_info_reports_the_failing_part(tmp_path):
    proc = _cli("info", pythonpath=_broken_torchaudio(tmp_path))
    assert proc.returncode == 2
    [line] = [x for x in proc.stdout.splitlines() if x.startswith("torchaudio extension:")]
    assert f"FAILS: torchaudio 2.11.1 does not load with torch {TORCH}" in line
    assert [x for x in proc.stdout.splitlines() if x.startswith("torchaudio:")] == ["torchaudio:           2.11.1"]


def test_broken_liblsl_is_one_line(tmp_path):
    """mne-lsl whose liblsl does not load: `online` stops before reading the model."""
    fake = _fake_package(tmp_path / "fake", "mne_lsl.lsl", "mne-lsl", "1.14.0",
                         "liblsl.so.1.16.2: cannot open shared object file: No such file or directory")
    proc = _cli("online", str(tmp_path / "missing.ndmodel"), "--stream", "X", pythonpath=fake)
    assert proc.returncode == 2, proc.stderr[-2000:]
    [line] = proc.stderr.strip().splitlines()
    assert "mne-lsl 1.14.0 cannot load its bundled liblsl: liblsl.so.1.16.2: cannot open shared object file" in line
    assert "fix: pip install" in line
    assert "missing.ndmodel" not in line  # it failed on liblsl, before the model file was looked at


def test_cuda_asked_for_but_absent(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(envmod, "_nvidia_driver", lambda: None)
    with pytest.raises(BrokenEnvironmentError) as info:
        check_device("cuda:0")
    text = str(info.value)
    assert text.startswith(f"device='cuda:0' asks for CUDA, but torch {torch.__version__} (")
    assert "no NVIDIA driver on this machine" in text
    assert "fix: use device='auto' (it falls back to the CPU) or 'cpu'" in text
    check_device("auto")  # falls back, never an error
    check_device("cpu")


def test_cuda_in_a_benchmark_is_refused_up_front(tmp_path):
    proc = _cli("benchmark", str(_network_benchmark(tmp_path, {"device": "cuda"})),
                extra_env={"CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 2, proc.stderr[-2000:]
    [line] = proc.stderr.strip().splitlines()
    assert "pipeline ShallowConvNet: device='cuda' asks for CUDA" in line
    assert not (tmp_path / "out" / "store.jsonl").exists()


def test_deep_classifier_refuses_absent_cuda(monkeypatch):
    import numpy as np
    import torch

    from neurodecode.models import get_pipeline

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X = np.random.default_rng(0).standard_normal((8, 4, 256)).astype("float32")
    net = get_pipeline("ShallowConvNet", max_epochs=1, device="cuda", sfreq=128.0)
    with pytest.raises(BrokenEnvironmentError, match="device='cuda' asks for CUDA"):
        net.fit(X, np.array([0, 1] * 4))


def test_diagnose_leaves_other_errors_alone():
    assert envmod.diagnose(FileNotFoundError(2, "No such file or directory", "data.edf")) is None
    assert envmod.diagnose(ValueError("x")) is None
    # a missing optional module that is not one of the compiled parts: not ours to explain
    assert envmod.diagnose(ModuleNotFoundError("No module named 'peft'", name="peft")) is None


def test_require_rejects_unknown_names():
    with pytest.raises(Exception, match="did you mean torchaudio"):
        require("torchaudo")


def test_version_and_info_commands():
    proc = _cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("neurodecode 0.1.0")
    proc = _cli("info")
    assert proc.returncode == 0, proc.stdout
    out = proc.stdout
    for dist in ("mne", "moabb", "braindecode", "pyriemann", "scikit-learn", "torch", "numpy", "mne-lsl"):
        assert f"\n{dist}:" in out and metadata.version(dist) in out, dist
    assert "torch device:" in out and "networks run on" in out
    assert "liblsl:               loads (liblsl 1." in out
    assert "Dask:                 loads" in out
    assert f"data root:            {os.environ['NEURODECODE_DATA']}" in out
    assert f"cache:                {os.environ['NEURODECODE_HOME']}/cache" in out


def test_environment_json_written_and_read_back(tmp_path, monkeypatch):
    """Every benchmark folder says what it ran on; rows name it; a second environment is reported."""
    from neurodecode import run_benchmark

    spec = {"datasets": [{"name": "SyntheticMI", "params": {"n_subjects": 1, "n_sessions": 1, "sfreq": 128}}],
            "paradigm": "LeftRightImagery", "pipelines": ["CSP+LDA"], "evaluations": ["within-session"],
            "output": str(tmp_path / "out")}
    result = run_benchmark(spec, quiet=True)
    saved = json.loads((tmp_path / "out" / "environment.json").read_text())
    assert saved["python"] == ".".join(map(str, sys.version_info[:3]))
    for dist, version in saved["packages"].items():
        assert version == metadata.version(dist), dist  # every recorded library is installed here
    assert set(envmod.RECORDED) >= {"mne", "moabb", "braindecode", "pyriemann", "scikit-learn", "torch", "numpy",
                                    "mne-lsl"}
    assert saved["neurodecode"]["version"] == "0.1.0"
    assert saved["neurodecode"]["commit"] == envmod.git_commit()
    assert saved["cpu"] and saved["n_cpus"] == os.cpu_count()
    assert saved["digest"] == envmod.environment_digest({k: v for k, v in saved.items() if k != "digest"})
    assert result.results["environment"].tolist() == [saved["digest"]]
    report = (tmp_path / "out" / "report.md").read_text()
    assert f"Python {saved['python']}, neurodecode 0.1.0" in report
    assert f"mne {saved['packages']['mne']}" in report
    assert "environments" not in report

    # the same folder, later, with another MNE: its new rows are tagged apart and the report says so
    other = {**environment(), "packages": {**saved["packages"], "mne": "0.0.test"}}
    monkeypatch.setattr(envmod, "current_environment", lambda: (other, envmod.environment_digest(other)))
    spec["pipelines"] = ["CSP+LDA", "MDM"]
    result = run_benchmark(spec, quiet=True)
    assert result.n_skipped == 1 and result.n_run == 1
    assert result.results.set_index("pipeline")["environment"].to_dict() == {
        "CSP+LDA": saved["digest"], "MDM": envmod.environment_digest(other)}
    report = (tmp_path / "out" / "report.md").read_text()
    assert "**These results come from 2 environments**" in report
    assert f"mne: {saved['packages']['mne']} / 0.0.test" in report
    assert json.loads((tmp_path / "out" / "environment.json").read_text())["packages"]["mne"] == "0.0.test"


def test_git_commit_of_a_clone_and_a_wheel(tmp_path, monkeypatch):
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    commit = envmod.git_commit()
    assert commit is not None and commit.removesuffix("+dirty") == head.strip()
    envmod.git_commit.cache_clear()
    monkeypatch.setattr(envmod, "_repo_root", lambda: None)
    try:
        assert envmod.git_commit() is None
    finally:
        envmod.git_commit.cache_clear()


def test_describe_difference():
    first = {"python": "3.11.7", "gpu": None, "neurodecode": {"version": "0.1.0", "commit": "abc"},
             "packages": {"torch": "2.11.0"}}
    second = {"python": "3.11.7", "gpu": "H200", "neurodecode": {"version": "0.1.0", "commit": "def"},
              "packages": {"torch": "2.11.0"}}
    assert envmod.describe_difference([first, second]) == ["gpu: None / H200", "neurodecode commit: abc / def"]
