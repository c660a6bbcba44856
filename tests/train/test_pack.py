"""``bearing-train pack`` (issue 21 #33) and ``--skip-bad`` for IMS snapshot files (issue 21 #29).

The packed npz of IMS test 2 is rebuilt from the public raw files by ``bearing-train pack``; here on the
25 raw files the repository ships, and checked against the full packed npz in ``../shared`` where it is.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from edge_agent.features.table import read_feature_table
from firmware_io.recordings import ims as datasets
from firmware_io.recordings.reader import load_packed, read_snapshot_file, to_counts
from tests.agent_fixtures import raw_test2_files
from train.cli import main as train_main


def test_pack_is_lossless_and_ingest_reads_the_npz_as_it_reads_the_files(tmp_path, capsys):
    out = tmp_path / "test2.npz"
    assert train_main(["pack", str(datasets.RAW_TEST2_DIR), "-o", str(out), "-q"]) == 0
    assert "25 snapshots x 20480 samples x 4 channels, 2004-02-12 10:32:39 .. 2004-02-19 06:22:39" in capsys.readouterr().out
    packed = load_packed(out)
    files = raw_test2_files()
    assert packed.scale == 0.001 and packed.counts.shape == (25, 20480, 4)
    for i in (0, 12, 24):
        assert np.array_equal(packed.counts[i], to_counts(read_snapshot_file(files[i])))
    assert train_main(["ingest", str(out), "-o", str(tmp_path / "from_npz.csv"), "-q"]) == 0
    assert train_main(["ingest", str(datasets.RAW_TEST2_DIR), "-o", str(tmp_path / "from_files.csv"), "-q"]) == 0
    a, b = read_feature_table(tmp_path / "from_npz.csv"), read_feature_table(tmp_path / "from_files.csv")
    assert np.array_equal(a.timestamps, b.timestamps) and np.array_equal(a.values, b.values)


def test_pack_rebuilds_the_shared_full_npz_byte_for_byte(tmp_path, full_npz):
    """The 25 bundled files packed equal the same snapshots of ../shared's ims_test2_int16.npz."""
    out = tmp_path / "test2.npz"
    assert train_main(["pack", str(datasets.RAW_TEST2_DIR), "-o", str(out), "-q"]) == 0
    ours, full = np.load(out), np.load(full_npz)
    rows = np.searchsorted(full["timestamps"], ours["timestamps"])
    assert (full["timestamps"][rows] == ours["timestamps"]).all()
    assert np.array_equal(full["samples"][rows], ours["samples"]) and float(full["scale"]) == float(ours["scale"])


@pytest.fixture
def folder_with_a_cut_file(tmp_path) -> Path:
    folder = tmp_path / "2nd_test"
    folder.mkdir()
    for src in raw_test2_files()[:3]:
        shutil.copyfile(src, folder / src.name)
    cut = folder / "2004.02.12.11.12.39"
    lines = raw_test2_files()[4].read_text().splitlines(keepends=True)
    cut.write_text("".join(lines[:7405]))  # a copy cut short
    return folder


@pytest.mark.parametrize("command", ["pack", "ingest"])
def test_one_cut_file_stops_the_run_naming_it_and_skip_bad(folder_with_a_cut_file, tmp_path, capsys, command):
    out = tmp_path / ("out.npz" if command == "pack" else "out.csv")
    assert train_main([command, str(folder_with_a_cut_file), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "2004.02.12.11.12.39: truncated: 7,405 of 20,480 rows" in err and "--skip-bad" in err
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("command", ["pack", "ingest"])
def test_skip_bad_leaves_the_cut_file_out_listed_and_counted(folder_with_a_cut_file, tmp_path, capsys, command):
    out = tmp_path / ("out.npz" if command == "pack" else "out.csv")
    assert train_main([command, str(folder_with_a_cut_file), "-o", str(out), "--skip-bad"]) == 0
    captured = capsys.readouterr()
    assert f"skipped {folder_with_a_cut_file / '2004.02.12.11.12.39'}: truncated: 7,405 of 20,480 rows" in captured.err
    assert "1 skipped" in captured.out
    n = len(load_packed(out)) if command == "pack" else len(read_feature_table(out))
    assert n == 3
