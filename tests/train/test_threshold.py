"""train.threshold: the sustained-max rule and its guarantee, and the other rules."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.scoring.detection import debounce
from train.threshold import ThresholdRule, sustained_max

errors = st.lists(st.floats(0, 10, allow_nan=False), min_size=5, max_size=80)


@given(errors, st.integers(1, 5))
def test_sustained_max_is_the_highest_level_held_k_in_a_row(e, k):
    brute = max(min(e[i:i + k]) for i in range(len(e) - k + 1))
    assert sustained_max(np.array(e), k) == brute


@given(errors, st.integers(1, 5), st.floats(1.0, 3.0))
def test_debounced_alarm_never_fires_on_the_errors_it_was_set_from(e, k, margin):
    rule = ThresholdRule("sustained-max", k, margin=margin).fit(np.array(e))
    assert not debounce(np.array(e) > rule.value_, k).any()


def test_a_single_run_in_spike_does_not_set_the_threshold():
    e = np.array([5.0, 1.0, 1.2, 0.9, 1.1, 1.0, 0.8, 1.3, 1.0])
    rule = ThresholdRule(debounce=3, margin=1.0).fit(e)
    assert rule.value_ == 1.0  # max over 3-windows of their minimum, not the spike 5.0
    assert ThresholdRule("max", 3, margin=1.0).fit(e).value_ == 5.0
    d = rule.to_dict()
    assert set(d) >= {"value", "rule", "params", "debounce"} and d["params"]["sustained_max"] == 1.0


def test_other_rules_and_validation():
    e = np.linspace(0, 1, 101)
    assert ThresholdRule("quantile", quantile=0.9).fit(e).value_ == pytest.approx(0.9)
    assert ThresholdRule("fixed", value=0.3).fit(e).value_ == 0.3
    with pytest.raises(ValueError, match="unknown threshold rule"):
        ThresholdRule("p99")
    with pytest.raises(ValueError, match="positive"):
        ThresholdRule("fixed", value=None)
    with pytest.raises(ValueError, match="at least k=3"):
        ThresholdRule().fit(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="NaN"):
        ThresholdRule().fit(np.array([1.0, np.nan, 2.0, 3.0]))
