"""edge_agent.features.registry: mean_abs on real IMS samples and on the edge cases they lack; compute()."""
from __future__ import annotations

import re

import numpy as np
import pytest

from edge_agent.features import registry
from edge_agent.features.registry import Feature, compute, mean_abs
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


# --- compute(): the one entry point of the agent and of train.ingest ------------------------------

def peak(samples: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """A test-only feature: the largest |x| per channel, exact for int16 counts."""
    return np.abs(np.asarray(samples), dtype=np.int64).max(axis=0).astype(np.float64) * scale


@pytest.fixture
def with_peak(monkeypatch):
    """Register ``peak`` for one test, as a new feature would be: one function, one registry entry."""
    monkeypatch.setitem(registry.FEATURES, "peak", Feature(peak, "max |x| over the snapshot"))


def test_compute_with_the_default_spec_is_mean_abs_on_a_real_snapshot():
    counts = to_counts(read_snapshot_file(GOOD))
    spec = FeatureSpec(("Bearing 1", "Bearing 2", "Bearing 3", "Bearing 4"))
    out = compute(spec, counts, 0.001)
    assert out.dtype == np.float64 and out.shape == (spec.n_features,) == (4,)
    np.testing.assert_array_equal(out, mean_abs(counts, 0.001))  # bit for bit: what the device computes
    np.testing.assert_array_equal(compute(None, counts, 0.001), out)  # learning mode: the default features


def test_compute_refuses_samples_with_other_channels_than_the_spec():
    with pytest.raises(ValueError, match=r"samples have 3 channels, the feature spec expects 2 \(a, b\)"):
        compute(FeatureSpec(("a", "b")), np.ones((8, 3), dtype=np.int16))


def test_unknown_feature_is_refused_listing_the_known_ones():
    known = re.escape(str(sorted(registry.FEATURES)))
    assert "'mean_abs'" in known
    with pytest.raises(ValueError, match=r"unknown feature\(s\) \['spectral_flux'\]; the registry knows " + known):
        FeatureSpec(("a", "b"), features=("mean_abs", "spectral_flux"))


def test_two_features_give_every_feature_on_every_channel_in_order(with_peak):
    x = np.array([[1, -3], [-2, 5], [4, 0]], dtype=np.int16)
    spec = FeatureSpec(("B1", "B2"), features=("mean_abs", "peak"))
    assert spec.n_channels == 2 and spec.n_features == 4
    assert spec.feature_names == ("B1 mean_abs", "B2 mean_abs", "B1 peak", "B2 peak")
    out = compute(spec, x, 0.5)
    # for each feature, for each channel: [mean_abs B1, mean_abs B2, peak B1, peak B2]
    np.testing.assert_array_equal(out, [7 * 0.5 / 3, 8 * 0.5 / 3, 4 * 0.5, 5 * 0.5])
    assert len(out) == len(spec.feature_names)


def test_a_feature_breaking_the_one_value_per_channel_contract_is_caught(monkeypatch):
    monkeypatch.setitem(registry.FEATURES, "total", Feature(lambda s, scale: np.array([1.0]), "one number"))
    with pytest.raises(ValueError, match=r"feature 'total' returned shape \(1,\), expected one value per channel \(3,\)"):
        compute(FeatureSpec(("a", "b", "c"), features=("total",)), np.ones((4, 3)))
