"""edge_agent.scoring.scaler: the JSON exported from scikit-learn scales exactly like scikit-learn."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="desktop test: a Pi has no scikit-learn (.ci/arm-edge.sh)")
from sklearn.preprocessing import MinMaxScaler

from edge_agent.features.table import parse_timestamp, read_feature_table
from edge_agent.scoring.scaler import ScalerParams
from firmware_io.recordings import ims as datasets


@pytest.fixture(scope="module")
def test2():
    t = read_feature_table(datasets.FEATURES_TEST2)
    return t, t.timestamps <= parse_timestamp(datasets.TEST2_TRAIN_UNTIL)


@pytest.mark.parametrize("feature_range", [(0.0, 1.0), (-1.0, 1.0)])
def test_json_round_trip_transforms_like_sklearn(test2, tmp_path, feature_range):
    table, healthy = test2
    sk = MinMaxScaler(feature_range=feature_range).fit(table.values[healthy])
    path = tmp_path / "scaler.json"
    ScalerParams.from_fitted(sk, table.channel_names).save(path)
    loaded = ScalerParams.load(path)
    assert loaded.feature_names == tuple(table.channel_names)
    # all 984 rows, including the failure far outside the healthy range
    np.testing.assert_allclose(loaded.transform(table.values), sk.transform(table.values), rtol=0, atol=1e-12)
    np.testing.assert_allclose(loaded.transform(table.values[5]), sk.transform(table.values[5:6])[0],
                               rtol=0, atol=1e-12)
    assert json.loads(path.read_text())["kind"] == "minmax"


def test_wrong_feature_count_and_bad_json_are_refused(test2, tmp_path):
    table, healthy = test2
    params = ScalerParams.from_fitted(MinMaxScaler().fit(table.values[healthy]), table.channel_names)
    with pytest.raises(ValueError, match="expected 4 features"):
        params.transform(np.zeros((3, 5)))
    bad = tmp_path / "s.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        ScalerParams.load(bad)
    d = params.to_dict()
    d["scale"] = d["scale"][:3]
    bad.write_text(json.dumps(d))
    with pytest.raises(ValueError, match="inconsistent"):
        ScalerParams.load(bad)


def test_constant_channel_cannot_be_scaled():
    X = np.array([[1.0, 2.0], [1.0, 3.0]])
    with pytest.raises(ValueError, match="zero range"):
        ScalerParams.from_fitted(MinMaxScaler().fit(X), ["flat", "ok"])
