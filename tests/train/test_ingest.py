"""bearing-train ingest: real IMS files against the independent reference table, and every bad input."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pandas", reason="desktop test: a Pi has no pandas (.ci/arm-edge.sh)")

import train.ingest
from edge_agent.features import registry
from edge_agent.features.registry import Feature, mean_abs
from edge_agent.features.spec import FeatureSpec
from edge_agent.features.table import read_feature_table
from firmware_io.recordings.reader import RecordingError, read_snapshot_file, to_counts
from firmware_io.recordings import ims as datasets
from train.cli import main as cli_main
from train.ingest import channel_names, ingest

REF2 = datasets.REFERENCE_DIR / "DatasetBearingTest_2.csv"
REF1 = datasets.REFERENCE_DIR / "DatasetBearingTest_1.csv"
RAW2 = sorted(datasets.RAW_TEST2_DIR.iterdir())
GOOD = RAW2[0]  # 2004.02.12.10.32.39, CRLF


def matching_rows(reference, table):
    rows = np.searchsorted(reference.timestamps, table.timestamps)
    assert (reference.timestamps[rows] == table.timestamps).all()
    return reference.values[rows]


def copy_files(dst: Path, files, names=None) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(files):
        shutil.copyfile(f, dst / (names[i] if names else f.name))
    return dst


def run_cli(argv, capsys):
    code = cli_main(["ingest", "-q", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


# --- real data ---------------------------------------------------------------------------------

def test_bundled_raw_test2_files_match_reference_rows():
    table = ingest([datasets.RAW_TEST2_DIR], progress=False).table
    ref = read_feature_table(REF2)
    assert len(table) == 25
    assert table.channel_names == ["Bearing 1", "Bearing 2", "Bearing 3", "Bearing 4"]
    assert (np.diff(table.timestamps) > np.timedelta64(0, "s")).all()
    np.testing.assert_allclose(table.values, matching_rows(ref, table), rtol=0, atol=1e-12)


def test_full_test2_npz_reproduces_reference_and_bundled_table(full_npz):
    table = ingest([full_npz], progress=False).table
    ref = read_feature_table(REF2)
    assert len(table) == 984
    assert (table.timestamps == ref.timestamps).all()
    np.testing.assert_allclose(table.values, ref.values, rtol=0, atol=1e-12)
    bundled = read_feature_table(datasets.FEATURES_TEST2)
    assert (bundled.values == table.values).all(), "bundled table must be exactly what ingest computes"
    # the raw files and the packed npz are the same data: bit-identical features
    raw = ingest([datasets.RAW_TEST2_DIR], progress=False).table
    assert (matching_rows(table, raw) == raw.values).all()


def test_bundled_test1_table_is_the_reference_with_our_names():
    ours, ref = read_feature_table(datasets.FEATURES_TEST1), read_feature_table(REF1)
    assert len(ours) == 2156 and ours.channel_names == channel_names(8) == ref.channel_names
    assert (ours.values == ref.values).all() and (ours.timestamps == ref.timestamps).all()
    raw = ingest([datasets.RAW_TEST1_DIR], progress=False).table  # the one bundled 8-channel LF file
    assert raw.channel_names == ours.channel_names
    np.testing.assert_allclose(raw.values, matching_rows(ours, raw), rtol=0, atol=1e-12)


def test_rows_are_the_registrys_compute_with_the_specs_names(monkeypatch):
    """ingest has no feature code of its own: a registered feature in its spec reaches the table."""
    def peak(samples, scale=1.0):
        return np.abs(samples, dtype=np.int64).max(axis=0) * scale

    monkeypatch.setitem(registry.FEATURES, "peak", Feature(peak, "test-only: max |x|"))
    monkeypatch.setattr(train.ingest, "feature_spec",
                        lambda n: FeatureSpec(tuple(channel_names(n)), features=("mean_abs", "peak")))
    table = ingest(RAW2[:2], progress=False, workers=1).table  # in this process, so the patch applies
    assert table.channel_names == [f"Bearing {i} {f}" for f in ("mean_abs", "peak") for i in range(1, 5)]
    for row, path in zip(table.values, RAW2[:2]):
        counts = to_counts(read_snapshot_file(path))
        assert (row == np.concatenate([mean_abs(counts, 0.001), peak(counts, 0.001)])).all()


def test_lf_and_crlf_give_identical_features(tmp_path):
    lf = tmp_path / "lf" / GOOD.name
    lf.parent.mkdir()
    lf.write_bytes(GOOD.read_bytes().replace(b"\r\n", b"\n"))
    assert b"\r" not in lf.read_bytes() and b"\r\n" in GOOD.read_bytes()
    a = ingest([GOOD], progress=False, workers=1).table.values
    b = ingest([lf], progress=False, workers=1).table.values
    assert (a == b).all()


def test_nasa_archive_layout_is_searched_recursively(tmp_path, capsys):
    root = tmp_path / "IMS"
    copy_files(root / "2nd_test", RAW2[:3])
    copy_files(root / "2nd_test" / "__MACOSX", RAW2[3:4], ["._" + RAW2[3].name])
    (root / "2nd_test" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "2nd_test" / "notes.txt").write_text("bearing 1 failed at the end\n")
    copy_files(root / "4th_test" / "txt", RAW2[20:22])  # the 3rd test ships as 4th_test/txt
    out = tmp_path / "features.csv"
    code = cli_main(["ingest", str(root), "-o", str(out)])
    _, err = capsys.readouterr()
    assert code == 0
    table = read_feature_table(out)
    assert len(table) == 5
    assert [str(t) for t in table.timestamps[:3]] == [
        "2004-02-12T10:32:39", "2004-02-12T10:42:39", "2004-02-12T10:52:39"]
    for junk in ("__MACOSX", ".DS_Store", "notes.txt"):
        assert f"skipped {root / '2nd_test'}" in err and junk in err
    # the written CSV is the kit's format: header, repr floats that read back bit-identical
    text = out.read_text().splitlines()
    assert text[0] == "timestamp,Bearing 1,Bearing 2,Bearing 3,Bearing 4"
    assert text[1].startswith("2004-02-12 10:32:39,0.058332421875000005,")


def test_eight_channel_files_get_x_y_names(tmp_path):
    out = tmp_path / "t1.csv"
    ingest([datasets.RAW_TEST1_DIR], out, progress=False)
    assert read_feature_table(out).channel_names[:3] == ["Bearing 1x", "Bearing 1y", "Bearing 2x"]


def test_entry_point_runs_with_progress(tmp_path):
    exe = Path(sys.executable).with_name("bearing-train")
    out = tmp_path / "f.csv"
    proc = subprocess.run([str(exe), "ingest", str(datasets.RAW_TEST2_DIR), "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "25 snapshots x 4 channels" in proc.stdout
    assert "snapshots" in proc.stderr  # the tqdm progress bar goes to stderr
    assert len(read_feature_table(out)) == 25


# --- bad input: exit 2, one clear line naming the file, nothing written ---------------------------

def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def bad_column_count(d: Path) -> Path:
    lines = _lines(GOOD)
    p = d / "2004.02.12.10.42.39"
    p.write_text("".join(lines[:100] + ["\t".join(lines[100].split("\t")[:3]) + "\n"] + lines[101:]))
    return p


def bad_whole_file_columns(d: Path) -> Path:
    p = d / "2004.02.12.10.42.39"
    p.write_text("".join("\t".join(line.split("\t")[:3]) + "\n" for line in _lines(GOOD)))
    return p


def bad_number(d: Path) -> Path:
    lines = _lines(GOOD)
    lines[500] = lines[500].replace("\t", "\tx1.2", 1)
    p = d / "2004.02.12.10.42.39"
    p.write_text("".join(lines))
    return p


def bad_row_count(d: Path) -> Path:
    p = d / "2004.02.12.10.42.39"
    p.write_text("".join(_lines(GOOD)[:20000]))
    return p


def bad_name(d: Path) -> Path:
    p = d / "2004.02.30.10.42.39"  # 30 February
    shutil.copyfile(GOOD, p)
    return p


def bad_short_name(d: Path) -> Path:
    p = d / "2004.02.12.10.42"
    shutil.copyfile(GOOD, p)
    return p


def duplicate_time(d: Path) -> Path:
    (d / "copy").mkdir()
    p = d / "copy" / GOOD.name
    shutil.copyfile(GOOD, p)
    return p


def empty_file(d: Path) -> Path:
    p = d / "2004.02.12.10.42.39"
    p.write_text("")
    return p


BAD = {
    "ragged row": (bad_column_count, "2004.02.12.10.42.39", "line 101 has 3 values, the lines before it 4"),
    "wrong column count": (bad_whole_file_columns, "2004.02.12.10.42.39", "3 channels"),
    "non-numeric value": (bad_number, "2004.02.12.10.42.39", "x1.2"),
    "wrong row count": (bad_row_count, "2004.02.12.10.42.39", "truncated: 20,000 of 20,480 rows"),
    "bad file name (date)": (bad_name, "2004.02.30.10.42.39", "not a valid date"),
    "bad file name (format)": (bad_short_name, "2004.02.12.10.42", "YYYY.MM.DD.HH.MM.SS"),
    "duplicate timestamp": (duplicate_time, GOOD.name, "duplicate snapshot time"),
    "empty file": (empty_file, "2004.02.12.10.42.39", "empty"),
}


@pytest.mark.parametrize("case", BAD)
def test_malformed_snapshot_stops_with_clear_error_and_writes_nothing(case, tmp_path, capsys):
    make, name, what = BAD[case]
    folder = copy_files(tmp_path / "rec", [GOOD])
    make(folder)
    out = tmp_path / "features.csv"
    out.write_text("previous content\n")  # an earlier result must survive a failed run
    code, _, err = run_cli([folder, "-o", out], capsys)
    assert code == 2
    assert "Traceback" not in err
    assert name in err and what in err, err
    assert err.count("\n") == 1, err  # one line
    assert out.read_text() == "previous content\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".features")] == []  # no temp left


def test_wrong_column_count_across_files_names_the_odd_file(tmp_path, capsys):
    folder = copy_files(tmp_path / "rec", [GOOD])
    shutil.copyfile(datasets.RAW_TEST1_DIR / "2003.10.22.12.06.24", folder / "2004.02.12.10.42.39")  # 8 columns
    code, _, err = run_cli([folder, "-o", tmp_path / "f.csv"], capsys)
    assert code == 2 and "2004.02.12.10.42.39" in err and "8 channels" in err
    assert not (tmp_path / "f.csv").exists()


def test_duplicate_between_npz_and_files_is_refused(tmp_path):
    from firmware_io.recordings.reader import read_snapshot_file, to_counts

    packed = tmp_path / "one.npz"
    np.savez(packed, samples=to_counts(read_snapshot_file(GOOD))[None], timestamps=np.array([GOOD.name]),
             scale=np.float64(0.001))
    assert (ingest([packed], progress=False).table.values == ingest([GOOD], progress=False).table.values).all()
    with pytest.raises(RecordingError, match="duplicate snapshot time 2004-02-12 10:32:39"):
        ingest([packed, GOOD], progress=False)


def test_missing_source_and_no_snapshots(tmp_path, capsys):
    code, _, err = run_cli([tmp_path / "nope", "-o", tmp_path / "f.csv"], capsys)
    assert code == 2 and "no such file or folder" in err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    code, _, err = run_cli([tmp_path / "empty", "-o", tmp_path / "f.csv"], capsys)
    assert code == 2 and "no snapshot files found" in err
