"""A damaged snapshot file is named with what is wrong where, counted like an editor counts lines (issue 21 #29)."""
from __future__ import annotations

import pytest

from firmware_io.recordings.reader import RecordingError, read_snapshot_file


def write(path, lines: list[str]):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_a_truncated_file_says_how_many_rows_of_how_many(tmp_path):
    path = write(tmp_path / "2004.02.12.10.32.39", ["0.1\t0.2\t0.3\t0.4"] * 7405)
    with pytest.raises(RecordingError, match=r"truncated: 7,405 of 20,480 rows"):
        read_snapshot_file(path)


def test_line_numbers_count_from_one_whatever_numpy_says_and_no_numpy_advice(tmp_path):
    cut = write(tmp_path / "cut", ["0.1\t0.2\t0.3\t0.4"] * 5 + ["0.1\t0.2"])  # the last line cut short
    with pytest.raises(RecordingError) as exc:
        read_snapshot_file(cut)
    message = str(exc.value)
    assert "line 6 has 2 values, the lines before it 4: truncated or damaged there" in message
    assert "usecols" not in message
    bad = write(tmp_path / "bad", ["0.1\t0.2\t0.3\t0.4", "0.1\tx\t0.3\t0.4"])  # numpy says "row 1" for line 2
    with pytest.raises(RecordingError, match=r"line 2, column 2: 'x' is not a number"):
        read_snapshot_file(bad)
