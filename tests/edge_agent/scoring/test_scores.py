"""edge_agent.scoring.scores: the one score table and the one errors -> alarm series function."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.scoring.detection import debounce
from edge_agent.scoring.scores import ScoreTable, alarm_onsets, alarm_series, first_alarm

STAMPS = np.arange("2004-02-12T10:32:39", "2004-02-12T12:12:39", np.timedelta64(10, "m"), dtype="datetime64[s]")


def test_window_errors_are_padded_at_the_front_and_the_padding_never_alarms():
    errors = np.array([5.0, 5.0, 5.0, 0.1, 5.0, 5.0, 5.0, 0.1])  # 8 windows of T=3 over 10 snapshots
    s = alarm_series(STAMPS, errors, threshold=1.0, k=2)
    assert len(s) == 10 and np.isnan(s.error[:2]).all()
    np.testing.assert_array_equal(s.error[2:], errors)
    assert s.over_threshold.tolist() == [False, False, True, True, True, False, True, True, True, False]
    assert s.alarm.tolist() == [False, False, False, True, True, True, True, True, True, True]
    assert s.split is None


@given(st.lists(st.one_of(st.just(float("nan")), st.floats(0, 3)), min_size=1, max_size=40), st.integers(1, 4))
def test_nan_errors_are_not_fed_to_the_debouncer(errors, k):
    """Like fit, the parity gate's Keras reference and the device: a snapshot without a score is skipped."""
    e = np.array(errors)
    stamps = np.arange(len(e)).astype("datetime64[s]")
    s = alarm_series(stamps, e, 1.0, k)
    scored = ~np.isnan(e)
    assert not s.over_threshold[~scored].any() and not s.alarm[~scored].any()
    np.testing.assert_array_equal(s.alarm[scored], debounce(e[scored] > 1.0, k))


def test_more_errors_than_snapshots_or_a_bad_k_is_refused():
    with pytest.raises(ValueError, match="at most one error per snapshot"):
        alarm_series(STAMPS[:3], np.ones(4), 1.0, 3)
    with pytest.raises(ValueError, match="k must be >= 1"):
        alarm_series(STAMPS, np.ones(10), 1.0, 0)


def test_onsets_and_first_alarm():
    alarm = np.array([0, 1, 1, 0, 0, 1, 0, 1, 1, 1], dtype=bool)
    assert alarm_onsets(STAMPS, alarm).tolist() == STAMPS[[1, 5, 7]].tolist()
    assert first_alarm(STAMPS, alarm) == STAMPS[1]
    assert first_alarm(STAMPS, alarm, after=STAMPS[2]) == STAMPS[5]
    assert first_alarm(STAMPS, np.zeros(10, dtype=bool)) is None
    table = ScoreTable(STAMPS, np.ones(10), alarm, alarm)
    assert table.first_alarm() == STAMPS[1] and table.alarm_onsets().tolist() == STAMPS[[1, 5, 7]].tolist()


@pytest.mark.parametrize("split", [None, np.array(["train"] * 6 + ["validation"] * 2 + ["test"] * 2)])
def test_csv_round_trip_with_and_without_split(tmp_path, split):
    s = alarm_series(STAMPS, np.array([0.1, 0.2, 1.0 / 3, 2.5, 3.0, 4.0, 0.5, 5.0]), 1.0, 2, split)
    path = tmp_path / "scores.csv"
    s.write(path)
    lines = path.read_text().splitlines()
    assert lines[0] == "timestamp,error,over_threshold,alarm" + (",split" if split is not None else "")
    assert lines[1] == "2004-02-12 10:32:39,,0,0" + (",train" if split is not None else "")  # NaN written empty
    assert lines[5].startswith(f"2004-02-12 11:12:39,{1.0 / 3!r},0,0")  # repr: the float comes back exactly
    back = ScoreTable.read(path)
    np.testing.assert_array_equal(back.timestamps, s.timestamps)
    np.testing.assert_array_equal(back.error, s.error)  # NaN == NaN here
    np.testing.assert_array_equal(back.over_threshold, s.over_threshold)
    np.testing.assert_array_equal(back.alarm, s.alarm)
    if split is None:
        assert back.split is None
    else:
        assert back.split.tolist() == split.tolist()
