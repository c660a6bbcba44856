"""edge_agent.features.spec: validation, the derived feature names, and the dict form bundles carry."""
from __future__ import annotations

import json
import re

import pytest

from edge_agent.features import registry
from edge_agent.features.registry import Feature, mean_abs
from edge_agent.features.spec import FeatureSpec
from firmware_io.recordings import ims

#: The feature_spec of a schema-1 manifest, as bearing-convert wrote it before the registry.
SCHEMA1_SPEC = {
    "channel_names": ["Bearing 1", "Bearing 2", "Bearing 3", "Bearing 4"],
    "sample_rate_hz": 20000,
    "samples_per_snapshot": 20480,
    "timesteps": 1,
    "feature": "mean_abs",
    "units": "recorded units (IMS: g, clipped at +/-5.000)",
    "extra": {},
}


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


def test_schema1_feature_spec_loads_and_is_written_back_unchanged():
    spec = FeatureSpec.from_dict(SCHEMA1_SPEC)
    assert spec.features == ("mean_abs",) and spec.is_default
    assert spec.feature_names == spec.channel_names == ("Bearing 1", "Bearing 2", "Bearing 3", "Bearing 4")
    assert spec.n_features == spec.n_channels == 4
    # byte for byte, key order included: a bundle made today is what agents already deployed read
    assert json.dumps(spec.to_dict()) == json.dumps(SCHEMA1_SPEC)
    assert FeatureSpec(tuple(SCHEMA1_SPEC["channel_names"])) == spec


def test_the_ims_recording_is_the_default_stream():
    spec = FeatureSpec(("a",))
    assert (spec.sample_rate_hz, spec.samples_per_snapshot) == (ims.IMS_SAMPLE_RATE_HZ, ims.IMS_SAMPLES_PER_SNAPSHOT)
    assert (ims.IMS_SAMPLE_RATE_HZ, ims.IMS_SAMPLES_PER_SNAPSHOT) == (20_000, 20_480)


def test_other_features_round_trip_as_a_list_with_qualified_names(monkeypatch):
    monkeypatch.setitem(registry.FEATURES, "peak", Feature(mean_abs, "test-only"))
    spec = FeatureSpec(("B1", "B2", "B3"), features=("peak", "mean_abs"), timesteps=3)
    d = spec.to_dict()
    assert "feature" not in d and d["features"] == ["peak", "mean_abs"]
    assert FeatureSpec.from_dict(json.loads(json.dumps(d))) == spec
    assert spec.n_features == 6
    assert spec.feature_names == ("B1 peak", "B2 peak", "B3 peak", "B1 mean_abs", "B2 mean_abs", "B3 mean_abs")
    # one feature other than mean_abs is not the default either: its columns never pass for mean_abs ones
    alone = FeatureSpec(("B1",), features=("peak",))
    assert alone.feature_names == ("B1 peak",) and alone.to_dict()["features"] == ["peak"]
    assert FeatureSpec(("B1",), features=["mean_abs"]) == FeatureSpec(("B1",))  # a list is taken as the tuple


@pytest.mark.parametrize("features, message", [
    ("mean_abs", r"features must be a tuple of feature names, got 'mean_abs'"),
    ((), r"features is empty"),
    (("mean_abs", "mean_abs"), r"features has duplicates: \['mean_abs', 'mean_abs'\]"),
    (("spectral_flux",), r"unknown feature\(s\) \['spectral_flux'\]; the registry knows "
     + re.escape(str(sorted(registry.FEATURES)))),
])
def test_bad_feature_lists_are_refused(features, message):
    with pytest.raises(ValueError, match=r"invalid feature spec: " + message):
        FeatureSpec(("a",), features=features)


def test_bad_feature_keys_in_a_dict_are_refused():
    with pytest.raises(ValueError, match=r"both 'feature' \(schema 1\) and 'features'"):
        FeatureSpec.from_dict({**SCHEMA1_SPEC, "features": ["mean_abs"]})
    with pytest.raises(ValueError, match=r"'feature' must be one name, got \['mean_abs'\]"):
        FeatureSpec.from_dict({**SCHEMA1_SPEC, "feature": ["mean_abs"]})
    with pytest.raises(ValueError, match=r"unknown feature\(s\) \['spectral_flux'\]"):
        FeatureSpec.from_dict({**SCHEMA1_SPEC, "feature": "spectral_flux"})
