"""Local recordings (any MNE format, CSV, BIDS) as MOABB datasets, and their errors."""
from collections import Counter

import numpy as np
import pytest

from neurodecode.datasets import get_dataset
from neurodecode.datasets.local import LocalDataset
from neurodecode.datasets.readers import read_recording
from neurodecode.errors import (
    ChannelMismatchError,
    ConfigError,
    InvalidDataError,
    MissingEventsError,
    UnreadableFileError,
    UnsupportedFormatError,
)

# file, dataset arguments, (sfreq, n_channels, event counts)
FORMATS = [
    ("EDF/test_reduced.edf", dict(events={"A": 1, "B": 2}, descriptions={"type A": "A", "type B": "B"}),
     (512.0, 138, {"A": 3, "B": 1})),
    ("EDF/test_utf8_annotations.edf", dict(events={"supine": 1}, descriptions={"仰卧": "supine"}),
     (200.0, 11, {"supine": 1})),
    ("BDF/test_bdf_stim_channel.bdf", dict(events={"one": 1, "two": 2, "four": 4}),
     (500.0, 3, {"one": 7, "two": 1, "four": 1})),
    ("EEGLAB/test_raw.set", dict(events={"square": 1, "rt": 2}), (128.0, 32, {"square": 80, "rt": 74})),
    ("EEGLAB/test_epochs.set", dict(events={"S8": 1, "S9": 2}, descriptions={
        "S255/S  8": "S8", "S  8": "S8", "S255/S  9": "S9"}), (50.0, 2, {"S8": 2, "S9": 2})),
    ("CNT/scan41_short.cnt", dict(events={"7": 7, "109": 109}, reader_kwargs={"data_format": "int32"}),
     (400.0, 128, {"7": 3, "109": 2})),
    ("Brainvision/test_NO.vhdr", dict(events={"none": 1}, allow_no_events=True), (5000.0, 65, {})),
    ("GDF/test_1ch.gdf", dict(events={"none": 1}, allow_no_events=True), (150.0, 1, {})),
]


@pytest.mark.parametrize("fname, kwargs, expected", FORMATS, ids=[f[0] for f in FORMATS])
def test_every_format_loads(shared_data, fname, kwargs, expected):
    dataset = LocalDataset(root=shared_data / "formats", pattern=fname, interval=[0, 0.1],
                           paradigm="p300", code="Formats", **kwargs)
    raw = dataset.get_data([1])[1]["0"]["0"]
    sfreq, n_channels, counts = expected
    assert raw.info["sfreq"] == sfreq
    assert len(raw.ch_names) == n_channels
    assert "stim" not in raw.get_channel_types()
    assert Counter(d for d in raw.annotations.description if d != "BAD boundary") == counts


@pytest.mark.parametrize("folder, header", [("Brainvision", "test_NO.vhdr"), ("EEGLAB", "test_raw.set")])
def test_broad_pattern_skips_sidecar_files(shared_data, folder, header):
    ds = LocalDataset(root=shared_data / "formats" / folder, pattern="*raw*" if folder == "EEGLAB" else "*",
                      events={"square": 1}, interval=[0, 0.1], paradigm="p300", allow_no_events=True)
    assert [p.split("/")[-1] for p in ds.data_path(1)] == [header]


def test_hypnogram_without_signal_is_a_clear_error(shared_data):
    with pytest.raises(UnreadableFileError, match="SC4001EC-Hypnogram.edf"):
        LocalDataset(root=shared_data / "formats", pattern="EDF/SC4001EC-Hypnogram.edf",
                     events={"W": 1}, interval=[0, 30], paradigm="imagery").get_data([1])


def test_muse_p300_definition_through_moabb(shared_data):
    from moabb.paradigms import P300

    dataset = get_dataset("MuseVisualP300")
    assert dataset.subject_list == [1, 2, 3, 4]
    assert dataset.n_sessions == 1  # subject 4 has one session
    X, y, meta = P300().get_data(dataset, [1, 4])
    assert X.shape[1] == 4  # TP9, AF7, AF8, TP10: Right AUX is not EEG
    counts = Counter(y)
    assert set(counts) == {"Target", "NonTarget"}
    assert 4.0 < counts["NonTarget"] / counts["Target"] < 6.5
    assert sorted(meta[meta.subject == 1]["session"].unique()) == ["1", "2", "3"]
    assert np.abs(X).max() < 1e4  # µV after MOABB's scaling: units were declared right


def test_truncated_edf_is_reported(shared_data, tmp_path):
    src = shared_data / "formats" / "EDF" / "test_reduced.edf"
    (tmp_path / "sub1").mkdir()
    data = src.read_bytes()
    (tmp_path / "sub1" / "rec.edf").write_bytes(data[: len(data) // 2])
    dataset = LocalDataset(root=tmp_path, pattern="sub{subject}/*.edf", events={"A": 1},
                           descriptions={"type A": "A"}, interval=[0, 1], paradigm="imagery")
    with pytest.raises(UnreadableFileError, match=r"rec\.edf: truncated"):
        dataset.get_data([1])


def test_corrupt_file_is_reported(tmp_path):
    (tmp_path / "bad.edf").write_bytes(b"\x00garbage" * 10)
    ds = LocalDataset(root=tmp_path, pattern="*.edf", events={"A": 1}, interval=[0, 1], paradigm="imagery")
    with pytest.raises(UnreadableFileError, match=r"bad\.edf: cannot be read"):
        ds.get_data([1])


def test_unsupported_extension(tmp_path):
    (tmp_path / "rec.xyz").write_text("1,2,3")
    ds = LocalDataset(root=tmp_path, pattern="*.xyz", events={"A": 1}, interval=[0, 1], paradigm="imagery")
    with pytest.raises(UnsupportedFormatError, match=r"rec\.xyz: no MNE reader handles this file"):
        ds.get_data([1])


def _write_csv(path, n=512, nan=False, marker="Marker"):
    rng = np.random.default_rng(0)
    values = rng.normal(0, 10, (n, 2))
    if nan:
        values[100, 1] = np.nan
    codes = np.zeros(n, int)
    codes[[50, 150, 250]] = [1, 2, 1]
    lines = [f"time,Cz,Pz,{marker}"] + [f"{i / 128},{a},{b},{c}" for i, ((a, b), c) in enumerate(zip(values, codes))]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def _csv_dataset(root, **kw):
    spec = dict(root=root, pattern="s{subject}/ses-{session}/run{run}.csv", events={"NonTarget": 1, "Target": 2},
                interval=[0, 0.5], paradigm="p300", csv={"time": "time", "marker": "Marker"})
    spec.update(kw)
    return LocalDataset(**spec)


def test_csv_pattern_gives_subjects_sessions_runs(tmp_path):
    for s, ses, run in [("01", "a", 1), ("01", "a", 2), ("01", "b", 1), ("02", "a", 1)]:
        _write_csv(tmp_path / f"s{s}" / f"ses-{ses}" / f"run{run}.csv")
    ds = _csv_dataset(tmp_path)
    assert ds.subject_list == [1, 2]
    data = ds.get_data([1])[1]
    assert {k: sorted(v) for k, v in data.items()} == {"0a": ["1", "2"], "1b": ["1"]}
    raw = data["0a"]["1"]
    assert raw.info["sfreq"] == 128.0  # estimated from the time column
    assert list(raw.annotations.description) == ["NonTarget", "Target", "NonTarget"]
    np.testing.assert_allclose(raw.annotations.onset, np.array([50, 150, 250]) / 128)
    assert np.abs(raw.get_data()).max() < 1e-3  # µV declared -> volts


def test_csv_nan_is_reported(tmp_path):
    _write_csv(tmp_path / "s1" / "ses-0" / "run0.csv", nan=True)
    with pytest.raises(InvalidDataError, match=r"run0\.csv: NaN or infinite samples in channel\(s\) \['Pz'\]"):
        _csv_dataset(tmp_path).get_data([1])


def test_csv_missing_column_is_reported(tmp_path):
    _write_csv(tmp_path / "s1" / "ses-0" / "run0.csv")
    ds = _csv_dataset(tmp_path, csv={"time": "time", "marker": "Marker", "channels": ["Cz", "Oz"]})
    with pytest.raises(ChannelMismatchError, match=r"run0\.csv: declared column\(s\) \['Oz'\] absent"):
        ds.get_data([1])


def test_missing_events_are_reported(tmp_path):
    _write_csv(tmp_path / "s1" / "ses-0" / "run0.csv")
    ds = _csv_dataset(tmp_path, events={"Target": 7})
    with pytest.raises(MissingEventsError, match=r"run0\.csv: none of the declared events"):
        ds.get_data([1])


def test_yaml_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("code: X\nevents: {a: 1\nroot: .\n")
    with pytest.raises(ConfigError, match=r"bad\.yml line \d+: invalid YAML"):
        LocalDataset.from_yaml(bad)
    typo = tmp_path / "typo.yml"
    typo.write_text("root: .\nevents: {a: 1}\ninterval: [0, 1]\nparadigm: p300\npatern: '*.csv'\n")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['patern'\]; valid keys are .*'pattern'"):
        LocalDataset.from_yaml(typo)


def test_bids_root(tmp_path, shared_data):
    import mne
    import mne_bids

    raw = mne.io.read_raw(shared_data / "formats" / "EEGLAB" / "test_raw.set", preload=True)
    for run in (1, 2):
        path = mne_bids.BIDSPath(subject="01", session="1", task="oddball", run=run, datatype="eeg", root=tmp_path)
        mne_bids.write_raw_bids(raw, path, allow_preload=True, format="BrainVision", verbose=False)
    ds = LocalDataset(root=tmp_path, format="bids", events={"square": 1, "rt": 2}, interval=[0, 0.5],
                      paradigm="p300", code="BidsTest")
    data = ds.get_data([1])[1]
    assert {k: sorted(v) for k, v in data.items()} == {"1": ["1", "2"]}
    assert Counter(data["1"]["1"].annotations.description) == {"square": 80, "rt": 74}


MEG = [("sample_audvis_trunc_raw_sss.fif", {"mag": 102, "grad": 204, "eeg": 60}),
       ("Example_RICOH160-1_10021-export_anonymyze.con", {"mag": 160, "ref_meg": 12}),
       ("testdata_ctf_short_discontinuous.ds", {"mag": 273, "ref_meg": 28})]


@pytest.mark.parametrize("fname, counts", MEG, ids=[m[0].split(".")[-1] for m in MEG])
def test_meg_recordings_load_as_one_recording_each(shared_data, fname, counts):
    """MNE decides what it reads: FIF, KIT .con and a CTF .ds folder (one recording, not its files)."""
    ds = LocalDataset(root=shared_data / "formats" / "MEG", pattern="*", events={"none": 1},
                      interval=[0, 0.1], paradigm="p300", allow_no_events=True)
    assert sorted(p.split("/")[-1] for p in ds.data_path(1)) == sorted(m[0] for m in MEG)
    raw = read_recording(shared_data / "formats" / "MEG" / fname)
    types = Counter(raw.get_channel_types())
    assert {t: types[t] for t in counts} == counts
    assert raw.info["dev_head_t"] is not None


def test_symlinked_folders_are_followed_and_loops_cut(shared_data, tmp_path):
    for subject in (1, 2):  # subject folders that are links, as on lab servers
        (tmp_path / f"sub{subject}").symlink_to(shared_data / "formats" / "Brainvision", target_is_directory=True)
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)  # a loop back to the root
    ds = LocalDataset(root=tmp_path, pattern="sub{subject}/*.vhdr", events={"none": 1}, interval=[0, 0.1],
                      paradigm="p300", allow_no_events=True)
    assert ds.subject_list == [1, 2]
    assert ds.get_data([2])[2]["0"]["0"].info["sfreq"] == 5000.0


def test_any_format_mne_reads_is_accepted(shared_data, tmp_path):
    """BrainVision from a VAmp amplifier has an ``.ahdr`` header; MNE reads it, so do we."""
    import shutil

    src = shared_data / "formats" / "Brainvision"
    for f in src.iterdir():
        shutil.copy(f, tmp_path / f.name)
    header = tmp_path / "test_NO.vhdr"
    header.rename(tmp_path / "test_NO.ahdr")
    ds = LocalDataset(root=tmp_path, pattern="*", events={"none": 1}, interval=[0, 0.1], paradigm="p300",
                      allow_no_events=True)
    assert [p.split("/")[-1] for p in ds.data_path(1)] == ["test_NO.ahdr"]  # .eeg/.vmrk are its sidecars
    assert len(ds.get_data([1])[1]["0"]["0"].ch_names) == 65
    (tmp_path / "notes.xyz").write_text("not a recording")
    with pytest.raises(UnsupportedFormatError, match="notes.xyz: no MNE reader handles this file"):
        read_recording(tmp_path / "notes.xyz")
