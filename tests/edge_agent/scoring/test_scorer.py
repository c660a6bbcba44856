"""SnapshotScorer: the device's decision path, its window history and its restart state."""
from __future__ import annotations

import json

import numpy as np
import pytest

from convert.parity import keras_scores
from train.model_dir import read_model_dir
from edge_agent.scoring.bundle import load_bundle
from edge_agent.features.table import FeatureTable, read_feature_table
from edge_agent.scoring.levels import Decision
from edge_agent.scoring.scorer import SnapshotScorer, score_table

T = 3  # a real windowed model, so history order and restart state matter


@pytest.fixture(scope="module")
def bundle(converted):
    return load_bundle(converted(T, ("float32",)).bundle_dir)


@pytest.fixture(scope="module")
def table(feature_table_path):
    return read_feature_table(feature_table_path)


@pytest.mark.slow
def test_windows_match_keras_for_every_snapshot(bundle, table, model_dir):
    md = read_model_dir(model_dir(T))
    reference = keras_scores(md.model, md.scaler, table, bundle.threshold, bundle.debounce,
                             decision=Decision.from_threshold(md.threshold, md.spec), spec=md.spec)
    edge = score_table(bundle, table)
    assert len(edge) == len(table) and np.array_equal(edge.timestamps, table.timestamps)
    assert np.isnan(edge.error[:T - 1]).all() and not edge.alarm[:T - 1].any()
    assert np.nanmax(np.abs(edge.error - reference.error)) < 1e-5
    assert np.array_equal(edge.over_threshold, reference.over_threshold)
    assert np.array_equal(edge.alarm, reference.alarm)


def test_no_score_until_t_snapshots(bundle, table):
    scorer = SnapshotScorer(bundle)
    assert [scorer.score(v) for v in table.values[:T - 1]] == [None] * (T - 1)
    s = scorer.score(table.values[T - 1])
    assert s is not None and s.threshold == bundle.threshold and s.over_threshold == (s.error > s.threshold)


def test_restart_from_state_continues_identically(bundle, table):
    """Cut the run where the alarm is being debounced, restore in a fresh scorer: same output."""
    full = score_table(bundle, table)
    first_alarm = int(np.argmax(full.alarm))  # row index in the table
    cut = first_alarm - 1  # inside the run-up: over threshold but not yet alarmed
    a = SnapshotScorer(bundle)
    before = [a.score(v) for v in table.values[:cut]]
    state = json.loads(json.dumps(a.state()))  # what the journal stores
    assert len(state["history"]) == T - 1 and state["levels"]["runs"]["alert"] > 0
    b = SnapshotScorer(bundle)
    b.restore(state)
    after = [b.score(v) for v in table.values[cut:]]
    resumed = [s for s in before + after if s is not None]
    assert [s.alarm for s in resumed] == full.alarm[T - 1:].tolist()
    assert [s.error for s in resumed] == full.error[T - 1:].tolist()  # bit for bit: same raw history


def test_bad_features_are_refused(bundle):
    scorer = SnapshotScorer(bundle)
    with pytest.raises(ValueError, match=r"expected 4 features \['Bearing 1', .*\], got shape \(3,\)"):
        scorer.score(np.ones(3))
    with pytest.raises(ValueError, match=r"features must be finite"):
        scorer.score(np.array([0.06, np.nan, 0.07, 0.04]))


def test_score_table_refuses_other_channels(bundle, table):
    other = FeatureTable(table.timestamps[:5], ["a", "b", "c", "d"], table.values[:5])
    with pytest.raises(ValueError, match=r"feature table channels \['a', 'b', 'c', 'd'\] differ from the bundle's"):
        score_table(bundle, other)


def test_a_table_with_the_bundles_columns_in_another_order_is_scored_by_name(bundle, table):
    """Issue 21 #35: the same columns in another order are matched by name, not refused."""
    order = [3, 1, 0, 2]
    shuffled = FeatureTable(table.timestamps, [table.channel_names[i] for i in order], table.values[:, order])
    expected, got = score_table(bundle, table), score_table(bundle, shuffled)
    assert np.array_equal(got.error, expected.error, equal_nan=True)
    assert np.array_equal(got.alarm, expected.alarm)
