"""Which windows bearing-convert stores as a bundle's reference (issue 22 #3)."""
import numpy as np

from convert.reference_windows import choose
from edge_agent.scoring.scores import alarm_series


def _scores(errors):
    stamps = np.datetime64("2004-02-12T00:00:00") + np.arange(len(errors)).astype("timedelta64[s]")
    return alarm_series(stamps, np.asarray(errors, dtype=float), 1.0, 1)


def test_healthy_windows_come_from_the_training_period_and_over_windows_clear_of_the_threshold():
    errors = [np.nan, 0.1, 0.5, 0.79, 0.85, 0.3, 1.1, 1.3, 5.0, 2.0, 0.2]
    scores = _scores(errors)
    picks = choose(scores, scores.timestamps[5], threshold=1.0)
    # healthy: rows 1..5 (the training period) under 0.8 x the threshold (0.85 is too close): the lowest (0.1),
    # middle (0.5) and highest (0.79) error; row 10 (0.2) is after the training period
    assert [p for p in picks if p[1] == "healthy"] == [(1, "healthy"), (2, "healthy"), (3, "healthy")]
    # over: >= 1.2 anywhere: 1.3, 2.0, 5.0 (1.1 too close)
    assert [p for p in picks if p[1] == "over"] == [(7, "over"), (8, "over"), (9, "over")]


def test_data_without_a_window_past_the_threshold_gives_healthy_windows_only():
    scores = _scores([0.1, 0.2, 0.3, 0.4])
    assert choose(scores, scores.timestamps[-1], threshold=1.0) == [(0, "healthy"), (2, "healthy"), (3, "healthy")]
