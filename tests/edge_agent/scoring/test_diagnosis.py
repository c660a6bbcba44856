"""edge_agent.scoring.diagnosis: the error split by feature names the bearing and the defect."""
from __future__ import annotations

import numpy as np
import pytest

from edge_agent.features.bearing import IMS_BEARING, IMS_SHAFT_HZ
from edge_agent.features.condition import ConditionSettings
from edge_agent.features.spec import FeatureSpec
from edge_agent.scoring.detection import reconstruction_error
from edge_agent.scoring.diagnosis import diagnose, feature_contributions

CHANNELS = tuple(f"Bearing {i}" for i in range(1, 5))
EXTRA = {"condition": ConditionSettings(bearing=IMS_BEARING, shaft_hz=IMS_SHAFT_HZ).to_dict()}


def test_contributions_average_to_the_reconstruction_error():
    rng = np.random.default_rng(0)
    w, r = rng.random((5, 3, 8)), rng.random((5, 3, 8))
    c = feature_contributions(w, r)
    assert c.shape == (5, 8)
    np.testing.assert_allclose(c.mean(axis=1), reconstruction_error(w, r), rtol=1e-12)
    with pytest.raises(ValueError, match="same"):
        feature_contributions(w, r[:, :2])


def test_the_channel_and_the_defect_with_most_of_the_error_are_named():
    spec = FeatureSpec(CHANNELS, features=("mean_abs", "env_bpfo_ptm", "env_bpfi_ptm"), extra=EXTRA)
    c = np.full(spec.n_features, 0.01)
    c[spec.feature_names.index("Bearing 1 env_bpfo_ptm")] = 0.5
    c[spec.feature_names.index("Bearing 1 mean_abs")] = 0.2
    c[spec.feature_names.index("Bearing 3 env_bpfi_ptm")] = 0.6  # the largest single one, but bearing 1 has more
    d = diagnose(spec, c)
    assert d.channel == "Bearing 1" and d.defect == "bpfo" and d.text() == "bearing 1, outer race"
    assert d.channel_share == pytest.approx(0.71 / c.sum())
    c[spec.feature_names.index("Bearing 1 env_bpfi_ptm")] = 0.9
    assert diagnose(spec, c).text() == "bearing 1, inner race"


def test_without_envelope_features_only_the_bearing_is_named():
    d = diagnose(FeatureSpec(CHANNELS), np.array([0.1, 0.0, 0.4, 0.1]))
    assert d.text() == "bearing 3" and d.part is None and d.channel_share == pytest.approx(2 / 3)
    assert diagnose(FeatureSpec(("pump DE", "pump NDE")), np.array([0.0, 1.0])).text() == "pump NDE"
    with pytest.raises(ValueError, match="expected 4 contributions"):
        diagnose(FeatureSpec(CHANNELS), np.zeros(3))


@pytest.fixture(scope="module")
def bundle(converted):
    from edge_agent.scoring.bundle import load_bundle

    return load_bundle(converted(1, ("float32",)).bundle_dir)


def test_the_scorer_reports_contributions_that_average_to_its_error(bundle, feature_table_path):
    from edge_agent.features.table import read_feature_table
    from edge_agent.scoring.scorer import SnapshotScorer, score_table, score_table_with_contributions

    table = read_feature_table(feature_table_path)
    scorer = SnapshotScorer(bundle)
    for features in table.values[-3:]:
        s = scorer.score(features)
        assert len(s.contributions) == bundle.spec.n_features
        assert np.mean(s.contributions) == pytest.approx(s.error, rel=1e-6)  # float32 model, float64 mean
    scores, contributions = score_table_with_contributions(bundle, table)
    np.testing.assert_array_equal(scores.error, score_table(bundle, table).error)
    np.testing.assert_allclose(np.nanmean(contributions, axis=1), scores.error, rtol=1e-6)
    # test 2's failing bearing: bearing 1 carries most of the error when the alarm comes, and most often after
    alarmed = np.flatnonzero(scores.alarm)
    assert diagnose(bundle.spec, contributions[alarmed[0]]).text() == "bearing 1"
    named = [diagnose(bundle.spec, contributions[i]).text() for i in alarmed]
    assert max(set(named), key=named.count) == "bearing 1"


def test_bearing_agent_score_names_the_bearing_at_the_first_alarm(bundle, feature_table_path, tmp_path, capsys):
    from edge_agent.cli.main import main

    assert main(["score", "--bundle", str(bundle.path), str(feature_table_path), "-o", str(tmp_path / "s.csv")]) == 0
    out = capsys.readouterr().out
    assert "at the first alarm 2004-02-16" in out and ": bearing 1 (" in out and "% of the error; the autoencoder's: where its error is)" in out


def test_far_over_alarms_at_once_counts_as_over_and_clears_after_k_under():
    from edge_agent.scoring.detection import Debouncer, debounce
    from edge_agent.scoring.diagnosis import far_over

    d = Debouncer(3)
    assert d.update(False, far_over=True) is True  # no waiting for 3
    assert [d.update(False) for _ in range(3)] == [True, True, False]  # cleared by k under, as any alarm
    assert d.update(False, far_over=True) and d.update(True) and d.update(False, far_over=True)
    over = [False, True, True, True, False, False, False, False]
    far = [False, False, False, False, False, False, True, False]
    assert debounce(over, 3).tolist() == [False, False, False, True, True, True, False, False]
    assert debounce(over, 3, far).tolist() == [False, False, False, True, True, True, True, True]
    limits = np.array([1.0, 2.0])
    assert far_over(np.array([[0.5, 1.9], [1.1, 0.0], [0.9, 2.1]]), limits).tolist() == [False, True, True]
    assert far_over(np.array([[9.0, 9.0]]), None).tolist() == [False]  # the rule off


def test_alarm_series_pads_far_over_like_the_errors():
    from edge_agent.scoring.scores import alarm_series

    ts = np.arange(6).astype("datetime64[s]")
    errors = np.array([0.1, 0.1, 0.1, 0.1, 0.1])  # T = 2: one fewer than snapshots
    far = np.array([False, False, True, False, False])
    s = alarm_series(ts, errors, threshold=1.0, k=3, far_over=far)
    assert np.isnan(s.error[0]) and s.alarm.tolist() == [False, False, False, True, True, True]
    assert not alarm_series(ts, errors, 1.0, 3).alarm.any()


def test_the_two_level_threshold_rule_learns_one_limit_per_feature():
    from train.threshold import ThresholdRule

    healthy_errors = np.array([0.1, 0.2, 0.15, 0.1])
    contributions = np.array([[0.1, 0.3], [0.2, 0.1], [0.05, 0.2], [0.1, 0.1]])
    rule = ThresholdRule(immediate=2.0).fit(healthy_errors, contributions)
    np.testing.assert_array_equal(rule.limits_, [0.4, 0.6])
    d = rule.to_dict()
    assert d["immediate"] == {"factor": 2.0, "limits": [0.4, 0.6]} and "at once" in d["description"]
    assert "immediate" not in ThresholdRule().fit(healthy_errors).to_dict()  # off by default: schema as before
    with pytest.raises(ValueError, match="immediate factor must be >= 1"):
        ThresholdRule(immediate=0.5)
    with pytest.raises(ValueError, match="per-feature errors"):
        ThresholdRule(immediate=2.0).fit(healthy_errors)
