"""The command line, as a user runs it."""
import os
import subprocess
import sys

import pytest


def _run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "neurodecode.cli", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def test_datasets_local_lists_subjects_on_disk(shared_data):
    out = _run("datasets", "--local")
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()[1:]}
    assert rows["Kalunga2016"][-1] == "1-9"
    assert rows["PhysionetMI"][-1] == "1"
    assert rows["MuseVisualP300"][-1] == "1-4"
    assert rows["Kalunga2016"][2:7] == ["ssvep", "12", "1", "256.0", "8"]
    assert "BNCI2014_001" not in rows  # no files here
    assert out.stderr == ""


@pytest.mark.slow
def test_demo_scores_above_chance():
    out = _run("demo", "--subjects", "1")
    assert out.returncode == 0, out.stderr
    score = float(out.stdout.strip().splitlines()[-1].split()[2])
    assert score > 0.75


def test_errors_are_one_line_and_nonzero(tmp_path):
    out = _run("datasets", env={"MOABB_DOWNLOAD_PROVIDER": "pigeon"})
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert out.stderr.startswith("neurodecode: error: download provider 'pigeon'")


def test_usage_errors_are_one_line(capsys):
    from neurodecode.cli import main

    for argv, line in [(["audit", "Kalunga2016", "--anomaly", "--reference", "subj"],
                        "neurodecode audit: error: argument --reference: invalid choice: 'subj' (choose from "
                        "'pooled', 'subject'); see neurodecode audit --help"),
                       ([], "neurodecode: error: the following arguments are required: command; see neurodecode "
                            "--help")]:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2 and capsys.readouterr().err == line + "\n"


@pytest.mark.parametrize("args", [["--help"], ["datasets", "--help"]])
def test_help(args):
    out = _run(*args)
    assert out.returncode == 0 and "usage: neurodecode" in out.stdout


def test_audit_writes_a_table_and_a_summary(tmp_path, capsys):
    import pandas as pd

    from neurodecode.cli import main

    out = tmp_path / "audit.csv"
    assert main(["audit", "SyntheticMI", "--subjects", "1", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert len(table) == 4 and set(table["subject"]) == {1}
    assert {"flat_channels", "line_noise_db", "duplicate_of", "events_out_of_range"} <= set(table.columns)
    printed = capsys.readouterr().out
    assert printed.startswith("SyntheticMI: 4 run(s) of 1 subject(s)") and str(out) in printed


def test_audit_unknown_dataset_is_one_line(capsys):
    from neurodecode.cli import main

    assert main(["audit", "Kalunga2O16"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean Kalunga2016" in err
