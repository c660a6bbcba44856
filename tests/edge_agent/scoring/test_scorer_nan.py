"""A NaN error is a fault, never "not over" (issue 11 #11): the model cannot decide, the alarm stays as decided."""
from __future__ import annotations

import numpy as np
import pytest

from edge_agent.scoring.bundle import load_bundle
from edge_agent.scoring.scorer import NOT_FINITE, SnapshotScorer


@pytest.fixture(scope="module")
def bundle(converted):
    return load_bundle(converted().bundle_dir, variant="float32")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_error_is_a_fault_and_keeps_the_decided_alarm(bundle, bad):
    scorer = SnapshotScorer(bundle)
    far = np.full(bundle.spec.n_features, 1e3)  # far outside the healthy range: over the threshold
    for _ in range(bundle.debounce + bundle.spec.timesteps):
        score = scorer.score(far)
    assert score.alarm and score.fault is None
    real = scorer.runner
    scorer.runner = lambda window: np.full_like(real(window), bad)
    for _ in range(bundle.debounce + 2):  # more than k undecided snapshots: never read as k "not over"
        nan_score = scorer.score(far)
        assert nan_score.fault == NOT_FINITE and nan_score.over_threshold is None
        assert nan_score.alarm is True  # before: error NaN > threshold is False, the alarm cleared after k
    scorer.runner = real
    assert scorer.score(far).fault is None


def test_the_agent_shows_a_scoring_fault_as_a_fault():
    from edge_agent.alarms.health import Health
    from edge_agent.config import FaultsSection

    health = Health(FaultsSection(), [])
    health.observe(0.0)
    assert health.reason is None
    health.scoring_fault = NOT_FINITE
    health.observe(1.0)
    assert health.reason == NOT_FINITE
    health.scoring_fault = None
    health.observe(2.0)
    assert health.reason is None
