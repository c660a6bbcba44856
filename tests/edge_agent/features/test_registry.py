"""edge_agent.features.registry: the one feature, on real IMS samples and on the edge cases they lack."""
from __future__ import annotations

import numpy as np
import pytest

from edge_agent.features.registry import mean_abs
from edge_agent.features.spec import FeatureSpec
from firmware_io.recordings.reader import read_snapshot_file, to_counts
from firmware_io.recordings import ims as datasets

GOOD = datasets.RAW_TEST2_DIR / "2004.02.12.10.52.39"


def test_counts_and_floats_agree_on_a_real_snapshot():
    values = read_snapshot_file(GOOD)
    from_counts = mean_abs(to_counts(values), 0.001)
    from_floats = mean_abs(values)
    np.testing.assert_allclose(from_counts, from_floats, rtol=0, atol=1e-14)  # float sum rounding
    # SOURCES.md: mean over all 20,480 samples of channel 1 is 1233.694 / 20480
    assert from_counts[0] == pytest.approx(1233.694 / 20480, abs=1e-15)


def test_int16_minimum_does_not_overflow():
    x = np.full((20480, 2), -32768, dtype=np.int16)
    x[:, 1] = 32767
    np.testing.assert_array_equal(mean_abs(x), [32768.0, 32767.0])
    assert np.abs(x).mean(axis=0)[0] < 0  # what the naive int16 arithmetic would give


def test_large_int16_sums_stay_exact():
    x = np.full((1 << 20, 1), 32767, dtype=np.int16)  # sum 3.4e10 overflows int32
    assert mean_abs(x, 0.5)[0] == 32767 * 0.5


def test_block_sums_equal_one_int64_sum_with_a_partial_last_block():
    x = np.random.default_rng(0).integers(-32768, 32768, size=(10_000, 3), dtype=np.int16)  # 2 blocks + 1808 rows
    expected = np.abs(x.astype(np.int64)).sum(axis=0).astype(np.float64) * 0.25 / len(x)
    np.testing.assert_array_equal(mean_abs(x, 0.25), expected)


def test_scale_is_applied_after_the_mean_and_returns_float64():
    x = np.array([[1, -3], [-2, 5]], dtype=np.int16)
    out = mean_abs(x, 0.001)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [1.5e-3, 4e-3], rtol=0, atol=1e-18)
    np.testing.assert_allclose(mean_abs(x.astype(np.float32), 2.0), [3.0, 8.0])


@pytest.mark.parametrize("bad,err", [
    (np.zeros(5), ValueError), (np.zeros((0, 4)), ValueError), (np.zeros((5, 0)), ValueError),
    (np.array([["a", "b"]]), TypeError), (np.zeros((2, 2), dtype=bool), TypeError),
])
def test_bad_shapes_and_dtypes_are_refused(bad, err):
    with pytest.raises(err):
        mean_abs(bad)


def test_feature_spec_round_trip_and_validation():
    spec = FeatureSpec(("Bearing 1", "Bearing 2"), timesteps=5)
    d = spec.to_dict()
    assert d["channel_names"] == ["Bearing 1", "Bearing 2"] and d["samples_per_snapshot"] == 20480
    assert FeatureSpec.from_dict(d) == spec and spec.n_channels == 2
    with pytest.raises(ValueError, match="duplicates"):
        FeatureSpec(("a", "a"))
    with pytest.raises(ValueError, match="timesteps"):
        FeatureSpec(("a",), timesteps=0)
    with pytest.raises(ValueError, match="unknown keys"):
        FeatureSpec.from_dict({**d, "colour": "red"})
    with pytest.raises(ValueError, match="missing"):
        FeatureSpec.from_dict({"timesteps": 1})
