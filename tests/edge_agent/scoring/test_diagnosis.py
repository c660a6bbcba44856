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
