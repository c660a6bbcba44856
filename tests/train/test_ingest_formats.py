"""Every recording form docs/recordings.md lists, read from its committed synthetic example with the command the
docs give, checked against the signal the example was made from; and each form's named errors."""
from __future__ import annotations

import importlib.util
import io
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pandas", reason="desktop test: a Pi has no pandas (.ci/arm-edge.sh)")

from edge_agent.features.table import read_feature_table
from firmware_io.recordings.ims import REPO_ROOT
from firmware_io.recordings.reader import RecordingError
from firmware_io.recordings.sources import ReadOptions
from train.cli import main as cli_main
from train.ingest import ingest, read_table_spec

EXAMPLES = REPO_ROOT / "data" / "examples" / "recordings"
_spec = importlib.util.spec_from_file_location("make_examples", EXAMPLES / "make_examples.py")
make_examples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_examples)
CONTINUOUS = make_examples.signal(make_examples.CONTINUOUS_RATE_HZ * make_examples.CONTINUOUS_SECONDS,
                                  make_examples.CONTINUOUS_RATE_HZ, 1, seed=20, defect_hz=7.0)


def run(tmp_path, capsys, *argv):
    out = tmp_path / "f.csv"
    code = cli_main(["ingest", "-q", *map(str, argv), "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return read_feature_table(out), read_table_spec(out), captured


@pytest.mark.parametrize("name,argv", [
    ("continuous.wav", ["--snapshot-length", "1024", "--scale", "0.001"]),
    ("continuous.npy", ["--sample-rate", "1024", "--snapshot-length", "1024"]),
    ("continuous.mat", ["--snapshot-length", "1024"]),
])
def test_a_continuous_recording_is_cut_into_snapshots_at_its_rate(name, argv, tmp_path, capsys):
    table, spec, _ = run(tmp_path, capsys, EXAMPLES / name, *argv, "--start", "2024-05-01 08:00:00")
    assert (spec.sample_rate_hz, spec.samples_per_snapshot) == (1024, 1024)  # wav, mat: the file's own rate
    assert [str(t) for t in table.timestamps] == ["2024-05-01T08:00:00", "2024-05-01T08:00:01",
                                                  "2024-05-01T08:00:02"]
    expected = np.abs(CONTINUOUS.reshape(3, 1024)).mean(axis=1)
    np.testing.assert_allclose(table.values[:, 0], expected, rtol=1e-6)  # npy is float32


def test_bursts_csv_and_logger_tsv_examples(tmp_path, capsys):
    table, spec, _ = run(tmp_path, capsys, EXAMPLES / "bursts_csv", "--sample-rate", "25600",
                         "--time-columns", "1,2,3,4")
    assert len(table) == 3 and spec.samples_per_snapshot == 256 and spec.sample_rate_hz == 25600
    first = make_examples.signal(256, 25600, 2, seed=0)
    np.testing.assert_allclose(table.values[0], np.abs(first).mean(axis=0), rtol=1e-12)
    table, spec, _ = run(tmp_path, capsys, EXAMPLES / "logger_tsv", "--sample-rate", "25600", "--columns", "ax,ay",
                         "--interval", "60", "--start", "2024-05-01")
    assert table.channel_names == ["ax", "ay"] and [str(t) for t in table.timestamps] == [
        "2024-05-01T00:00:00", "2024-05-01T00:01:00"]


def test_the_self_describing_npz_needs_no_options(tmp_path, capsys):
    table, spec, _ = run(tmp_path, capsys, EXAMPLES / "packed.npz")
    assert (spec.sample_rate_hz, spec.samples_per_snapshot, spec.channel_names) == (25600, 256,
                                                                                    ("drive end", "fan end"))
    assert [str(t) for t in table.timestamps][1] == "2024-05-01T08:10:00"
    packed = np.load(EXAMPLES / "packed.npz")
    counts = packed["samples"][2].astype(np.int64)
    assert (table.values[2] == np.abs(counts).sum(axis=0) * 0.002 / 256).all()  # the device's arithmetic


def test_a_rate_the_file_states_is_not_overridden(tmp_path):
    with pytest.raises(RecordingError, match="packed.npz: the file states 25600 Hz, --sample-rate says 20000 Hz"):
        ingest([EXAMPLES / "packed.npz"], progress=False, options=ReadOptions(sample_rate_hz=20000))
    with pytest.raises(RecordingError, match="continuous.wav: the file states 1024 Hz, --sample-rate says 1000 Hz"):
        ingest([EXAMPLES / "continuous.wav"], progress=False, options=ReadOptions(sample_rate_hz=1000))


def test_npy_states_no_rate_and_must_be_told(tmp_path, capsys):
    code = cli_main(["ingest", "-q", str(EXAMPLES / "continuous.npy"), "-o", str(tmp_path / "f.csv")])
    assert code == 2 and "--sample-rate HZ" in capsys.readouterr().err


def test_mat_with_several_arrays_lists_them_and_variable_picks_one(tmp_path):
    from scipy.io import savemat

    path = tmp_path / "two.mat"
    savemat(path, {"acc": CONTINUOUS, "tacho": CONTINUOUS * 2, "fs": 1024.0})
    with pytest.raises(RecordingError, match=r"two.mat: 2 numeric arrays \(acc \(3072, 1\), tacho \(3072, 1\)\); "
                                             "pick one with --variable NAME"):
        ingest([path], progress=False, options=ReadOptions(snapshot_length=1024))
    table = ingest([path], progress=False, options=ReadOptions(snapshot_length=1024, variable="tacho")).table
    np.testing.assert_allclose(table.values[:, 0], 2 * np.abs(CONTINUOUS.reshape(3, 1024)).mean(axis=1))


def test_leftover_samples_are_reported_and_a_short_recording_refused(tmp_path):
    np.save(tmp_path / "rec.npy", CONTINUOUS[:2500])
    skipped = []
    table = ingest([tmp_path / "rec.npy"], progress=False, on_skip=lambda p, why: skipped.append(why),
                   options=ReadOptions(sample_rate_hz=1024, snapshot_length=1024)).table
    assert len(table) == 2 and skipped == ["its last 452 samples do not fill a snapshot of 1024 and are left out"]
    with pytest.raises(RecordingError, match="rec.npy: has 2500 rows, fewer than --snapshot-length 4096"):
        ingest([tmp_path / "rec.npy"], progress=False, options=ReadOptions(sample_rate_hz=1024, snapshot_length=4096))


def test_unsupported_and_damaged_binaries_are_named(tmp_path):
    np.save(tmp_path / "ints.npy", np.zeros((2048, 1), dtype=np.int32))
    with pytest.raises(RecordingError, match="ints.npy: integer samples must be int16 counts"):
        ingest([tmp_path / "ints.npy"], progress=False, options=ReadOptions(sample_rate_hz=1024))
    (tmp_path / "cut.wav").write_bytes((EXAMPLES / "continuous.wav").read_bytes()[:30])
    with pytest.raises(RecordingError, match="cut.wav: WAV file without a 'fmt ' and a 'data' chunk"):
        ingest([tmp_path / "cut.wav"], progress=False)
    alaw = io.BytesIO()
    with wave.open(alaw, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000), w.writeframes(b"\0\0" * 64)
    data = bytearray(alaw.getvalue())
    data[20:22] = (6).to_bytes(2, "little")  # format tag 6: A-law
    (tmp_path / "alaw.wav").write_bytes(bytes(data))
    with pytest.raises(RecordingError, match="alaw.wav: WAV format tag 6 with 16 bits is not read"):
        ingest([tmp_path / "alaw.wav"], progress=False)


def test_skip_bad_leaves_a_damaged_file_out_of_a_folder(tmp_path):
    folder = tmp_path / "bursts"
    shutil.copytree(EXAMPLES / "bursts_csv", folder)
    text = (folder / "acc_00002.csv").read_text().splitlines(keepends=True)
    text[100] = "8,14,25,884410,x,0.1\n"
    (folder / "acc_00002.csv").write_text("".join(text))
    options = ReadOptions(sample_rate_hz=25600, time_columns=("1", "2", "3", "4"))
    with pytest.raises(RecordingError, match="acc_00002.csv: not a table of numbers .*--skip-bad"):
        ingest([folder], progress=False, options=options)
    skipped = []
    table = ingest([folder], progress=False, on_skip=lambda p, why: skipped.append(Path(p).name),
                   options=ReadOptions(sample_rate_hz=25600, time_columns=("1", "2", "3", "4"), skip_bad=True)).table
    assert len(table) == 2 and skipped == ["acc_00002.csv"]
