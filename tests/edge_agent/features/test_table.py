"""edge_agent.features.table: the CSV between every step: bit-exact round trip, clear errors, atomic writes
(edge_agent.atomic: files and directories)."""
from __future__ import annotations

import os

import numpy as np
import pytest

from edge_agent.atomic import atomic_directory
from edge_agent.features.table import FeatureTable, FeatureTableError, read_feature_table
from firmware_io.recordings import ims as datasets


def test_round_trip_is_bit_identical(tmp_path):
    t = read_feature_table(datasets.FEATURES_TEST2)
    t.write(tmp_path / "copy.csv")
    back = read_feature_table(tmp_path / "copy.csv")
    assert back.channel_names == t.channel_names
    assert (back.timestamps == t.timestamps).all() and (back.values == t.values).all()
    assert (tmp_path / "copy.csv").read_bytes() == datasets.FEATURES_TEST2.read_bytes()


def test_reads_the_shared_ims_csvs_with_empty_first_header():
    t = read_feature_table(datasets.REFERENCE_DIR / "DatasetBearingTest_2.csv")
    assert len(t) == 984 and t.channel_names[0] == "Bearing 1"
    assert str(t.timestamps[0]) == "2004-02-12T10:32:39"


HEADER = "timestamp,a,b\n"


@pytest.mark.parametrize("body,match", [
    ("", "empty file"),
    ("time,a,b\n", "header must be"),
    ("timestamp,a,a\n", "unique"),
    (HEADER, "no data rows"),
    (HEADER + "2004-02-12 10:32:39,1.0\n", "line 2: 2 columns"),
    (HEADER + "2004-02-12T10:32:39,1.0,2.0\n", "line 2: timestamp"),
    (HEADER + "2004-02-12 10:32:39,1.0,abc\n", "line 2: non-numeric"),
    (HEADER + "2004-02-12 10:32:39,1.0,nan\n", "line 2: NaN"),
    (HEADER + "2004-02-12 10:42:39,1,2\n2004-02-12 10:32:39,1,2\n", "line 3: .* not after"),
    (HEADER + "2004-02-12 10:32:39,1,2\n2004-02-12 10:32:39,1,2\n", "line 3: .* not after"),
])
def test_bad_tables_name_file_and_line(tmp_path, body, match):
    p = tmp_path / "t.csv"
    p.write_text(body)
    with pytest.raises(FeatureTableError, match=match) as exc:
        read_feature_table(p)
    assert str(p) in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(FeatureTableError, match="no such feature table"):
        read_feature_table(tmp_path / "nope.csv")


def test_failed_write_leaves_previous_file(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("old\n")

    class Boom(FeatureTable):
        def timestamp_strings(self):
            raise RuntimeError("disk full")

    t = Boom(np.array(["2004-02-12T10:32:39"], dtype="datetime64[s]"), ["a"], np.array([[1.0]]))
    with pytest.raises(RuntimeError):
        t.write(p)
    assert p.read_text() == "old\n" and sorted(x.name for x in tmp_path.iterdir()) == ["t.csv"]


def test_shape_mismatch_is_refused():
    with pytest.raises(FeatureTableError, match="does not match"):
        FeatureTable(np.array(["2004-02-12T10:32:39"], dtype="datetime64[s]"), ["a", "b"], np.array([[1.0]]))


def test_atomic_directory_swaps_in_only_a_complete_directory(tmp_path):
    out = tmp_path / "out"
    with atomic_directory(out) as stage:
        (stage / "a").write_text("1")
    umask = os.umask(0o022)
    os.umask(umask)
    assert [p.name for p in out.iterdir()] == ["a"] and out.stat().st_mode & 0o777 == 0o777 & ~umask  # not 0700
    with pytest.raises(RuntimeError):
        with atomic_directory(out) as stage:
            (stage / "b").write_text("half")
            raise RuntimeError("power cut")
    assert [p.name for p in out.iterdir()] == ["a"]  # untouched, and the half-built folder is gone
    with atomic_directory(out) as stage:
        (stage / "c").write_text("2")
    assert [p.name for p in out.iterdir()] == ["c"]  # replaced whole, not merged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
