"""Issue 22 #6: the parity gate's verdict a user can read: the difference near the threshold against the room
there is, and where the larger differences are (the headline "max abs error diff 2.72e+00" next to "closest
Keras error to the threshold: 0.00162", then "pass", said nothing of that)."""
import numpy as np

from convert.parity import compare
from edge_agent.scoring.scores import alarm_series

THRESHOLD = 0.3


def _table(errors):
    stamps = np.datetime64("2004-02-12T00:00:00") + np.arange(len(errors)).astype("timedelta64[s]")
    return alarm_series(stamps, np.asarray(errors, dtype=float), THRESHOLD, 3)


def test_large_differences_only_at_saturated_snapshots_far_over_the_threshold_are_called_harmless():
    keras = [np.nan, 0.1, 0.2, 0.29838, 0.35, 0.6, 9.0, 9.3]  # 0.29838: 0.00162 under the threshold
    device = [np.nan, 0.1, 0.2001, 0.29848, 0.35, 0.6, 11.72, 9.1]  # 2.72 at a snapshot 30x over
    saturated = np.array([False] * 6 + [True, True])
    result = compare("float16", "ai-edge-litert", _table(keras), _table(device), THRESHOLD, saturated)
    assert result.passed and abs(result.max_abs_error_diff - 2.72) < 1e-9
    assert abs(result.max_abs_error_diff_near_threshold - 1e-4) < 1e-9
    text = result.verdict()
    assert text.startswith("float16 on ai-edge-litert: largest error difference near the threshold (Keras error "
                           "within 2x of it) 0.0001, 16x below the closest Keras error to the threshold (0.0016)")
    assert ("the global maximum 2.72 is larger than that distance, but it and the 2 differences above the "
            "near-threshold maximum are at snapshots more than 2x from the threshold, all at saturated snapshots "
            "(inputs outside the training range); the largest at an error 30x the threshold") in text


def test_no_remark_when_the_global_maximum_is_within_the_margin_and_failures_are_said():
    keras = [0.1, 0.25, 0.35, 0.9]
    assert "global maximum" not in compare("int8", "tflite-runtime", _table(keras), _table(keras), THRESHOLD).verdict()
    flipped = compare("int8", "tflite-runtime", _table(keras), _table([0.1, 0.31, 0.35, 0.9]), THRESHOLD)
    assert not flipped.passed and flipped.verdict().endswith("; FAILED: decisions differ")
    assert "AT OR ABOVE the closest Keras error" in flipped.verdict()
