"""firmware_io.time_text: the one time format of every command's time options (issue 21 #35)."""
from __future__ import annotations

import numpy as np
import pytest

from edge_agent.features.table import FeatureTable
from firmware_io.errors import BearingEdgeError
from firmware_io.time_text import TimeTextError, parse_time, unix_seconds


def test_dates_and_times_in_every_written_form_are_the_same_utc_times():
    day = np.datetime64("2004-02-15T00:00:00", "us")
    assert parse_time("2004-02-15") == day
    assert parse_time(" 2004-02-15 12:52 ") == parse_time("2004-02-15T12:52:00") == day + np.timedelta64(46320, "s")
    assert parse_time("2004-02-15 12:52:39.5") == day + np.timedelta64(46359_500_000, "us")
    assert parse_time("2004-02-15 13:52:39+01:00") == parse_time("2004-02-15 12:52:39")
    assert unix_seconds(parse_time("2023-11-14")) == 1699920000.0
    assert unix_seconds(parse_time("2023-11-14 22:13")) == 1699920000.0 + 22 * 3600 + 13 * 60


@pytest.mark.parametrize("text", ["14.11.2023", "2004-02-30", "yesterday", ""])
def test_anything_else_is_a_clear_error_naming_the_option(text):
    with pytest.raises(TimeTextError, match=rf"--train-until '{text}' is not a time: use YYYY-MM-DD or") as err:
        parse_time(text, "--train-until")
    assert isinstance(err.value, BearingEdgeError)


def test_the_commands_take_the_same_forms(tmp_path):
    """fit's --train-until and --exclude, export's --since/--until and ingest's --start share one parser."""
    import argparse

    from edge_agent.cli import export as export_cli
    from train import fit as fit_core
    from train.ingest_cli import read_options

    assert fit_core._parse_until("2004-02-15") == np.datetime64("2004-02-15T00:00:00", "s")
    table = FeatureTable(np.array(["2004-02-14T23:50", "2004-02-15T00:00", "2004-02-15T00:10"], "datetime64[s]"),
                         ["x"], np.zeros((3, 1)))
    assert fit_core.excluded_mask(table.timestamps, [("2004-02-15", "2004-02-15 00:05")]).tolist() == [0, 1, 0]
    assert export_cli._when("2004-02-15") == unix_seconds(np.datetime64("2004-02-15", "us"))
    with pytest.raises(argparse.ArgumentTypeError, match="is not a time"):
        export_cli._when("15/02/2004")
    parser = argparse.ArgumentParser()
    from train import ingest_cli
    ingest_cli.configure(parser)
    args = parser.parse_args(["x", "-o", str(tmp_path / "f.csv"), "--start", "2012-03-01 08:00"])
    assert read_options(args).start == np.datetime64("2012-03-01T08:00", "us")


def test_same_columns_in_another_order_are_matched_by_name():
    t = FeatureTable(np.array(["2004-02-15T00:00"], "datetime64[s]"), ["b", "a", "c"], np.array([[2.0, 1.0, 3.0]]))
    ordered = t.in_column_order(["a", "b", "c"])
    assert ordered.channel_names == ["a", "b", "c"] and ordered.values.tolist() == [[1.0, 2.0, 3.0]]
    assert t.in_column_order(["b", "a", "c"]) is t
    assert t.in_column_order(["a", "b"]) is None and t.in_column_order(["a", "b", "d"]) is None
