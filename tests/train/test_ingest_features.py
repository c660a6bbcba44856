"""``bearing-train ingest --features`` and ``fit --features``: the model's spec names exactly the chosen
columns with the bearing, and the device's ``compute(spec, ...)`` reproduces the training rows."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edge_agent.features.registry import compute
from edge_agent.features.spec import FeatureSpec
from edge_agent.features.table import read_feature_table
from firmware_io.recordings import ims as datasets
from firmware_io.recordings.reader import read_snapshot_file, to_counts
from train.cli import main as cli_main
from train.fit import FitError, fit_model_dir
from train.ingest import read_table_spec, table_spec_path

FEATURES = "mean_abs,kurtosis,env_bpfo_ptm,env_bpfi_ptm"


@pytest.fixture(scope="module")
def condition_table(tmp_path_factory):
    out = tmp_path_factory.mktemp("ingest") / "features.csv"
    assert cli_main(["ingest", str(datasets.RAW_TEST2_DIR), "-o", str(out), "-q", "-j", "1",
                     "--features", FEATURES, "--bearing", "ims"]) == 0
    return out


def test_ingest_writes_the_chosen_features_and_their_spec_with_the_bearing(condition_table, capsys):
    table = read_feature_table(condition_table)
    spec = read_table_spec(condition_table)
    assert spec.features == tuple(FEATURES.split(","))
    assert table.channel_names == list(spec.feature_names) and len(table.channel_names) == 16
    assert spec.extra["condition"]["bearing"]["n_elements"] == 16
    assert spec.extra["condition"]["shaft_hz"] == pytest.approx(2000 / 60)
    # the last bundled snapshot is the failed bearing 1: its outer-race line stands out there only
    ptm = table.values[-1, table.channel_names.index("Bearing 1 env_bpfo_ptm")]
    assert ptm > 10 and ptm > 3 * table.values[0, table.channel_names.index("Bearing 1 env_bpfo_ptm")]


def test_a_mean_abs_ingest_writes_no_spec_and_bad_options_are_refused(tmp_path, capsys):
    out = tmp_path / "plain.csv"
    assert cli_main(["ingest", str(datasets.RAW_TEST2_DIR / "2004.02.12.10.32.39"), "-o", str(out), "-q"]) == 0
    assert not table_spec_path(out).exists() and read_feature_table(out).channel_names[0] == "Bearing 1"
    assert cli_main(["ingest", str(datasets.RAW_TEST2_DIR), "-o", str(tmp_path / "x.csv"), "-q",
                     "--features", "env_bpfo_ptm"]) == 2
    assert "need the bearing geometry" in capsys.readouterr().err
    assert cli_main(["ingest", str(datasets.RAW_TEST2_DIR), "-o", str(tmp_path / "x.csv"), "-q",
                     "--features", "kurtosis,spectral_flux"]) == 2
    assert "unknown feature(s) ['spectral_flux']" in capsys.readouterr().err
    assert cli_main(["ingest", str(datasets.RAW_TEST2_DIR), "-o", str(tmp_path / "x.csv"), "-q",
                     "--bearing", "16,0.3,2.8"]) == 2
    assert "expected 'ims' or N,d,D,ANGLE" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_fit_trains_on_the_chosen_columns_and_the_device_computes_exactly_them(condition_table, tmp_path):
    until = "2004-02-15 20:00:00"  # 11 of the 25 bundled snapshots (the start and one from the middle)
    res = fit_model_dir(condition_table, tmp_path / "m", until, epochs=1, validation_split=0.0,
                        make_plots=False, features=["env_bpfo_ptm", "mean_abs"])
    spec = FeatureSpec.from_dict(res.metadata["feature_spec"])
    assert spec.features == ("mean_abs", "env_bpfo_ptm")  # the registry's order, not the option's
    assert spec.extra["condition"]["bearing"]["pitch_diameter"] == 2.815
    scaler = json.loads((tmp_path / "m" / "scaler.json").read_text())
    assert list(scaler.get("feature_names") or scaler.get("channel_names")) == list(spec.feature_names)
    table = read_feature_table(condition_table)
    raw = datasets.RAW_TEST2_DIR / "2004.02.19.06.22.39"
    device = compute(spec, to_counts(read_snapshot_file(raw)), 0.001)  # what the agent computes with the bundle
    row = table.values[-1, [table.channel_names.index(n) for n in spec.feature_names]]
    np.testing.assert_array_equal(device, row)
    with pytest.raises(FitError, match="not in this table"):
        fit_model_dir(condition_table, tmp_path / "n", until, features=["velocity_rms"])
    with pytest.raises(FitError, match="needs a table written by 'bearing-train ingest --features'"):
        fit_model_dir(datasets.FEATURES_TEST2, tmp_path / "o", until, features=["kurtosis"])


def test_the_two_level_rule_reaches_the_bundle_and_the_device_decides_like_keras(condition_table, tmp_path):
    """fit --immediate -> bearing-convert (its parity gate compares every decision with Keras) -> the device."""
    from convert.pipeline import convert_model_dir
    from edge_agent.scoring.bundle import load_bundle
    from edge_agent.scoring.scorer import score_table_with_contributions
    from edge_agent.scoring.diagnosis import diagnose

    until = "2004-02-15 20:00:00"
    res = fit_model_dir(condition_table, tmp_path / "m", until, epochs=2, validation_split=0.0, make_plots=False,
                        features=["mean_abs", "env_bpfo_ptm", "env_bpfi_ptm"], immediate=2.0, debounce=3)
    limits = res.threshold["immediate"]["limits"]
    assert len(limits) == 12 and res.threshold["immediate"]["factor"] == 2.0
    conversion = convert_model_dir(tmp_path / "m", tmp_path / "bundle", variants=("float32",), data=condition_table)
    bundle = load_bundle(conversion.bundle_dir)
    np.testing.assert_allclose(bundle.immediate_limits, limits)
    table, spec = read_feature_table(condition_table), bundle.spec
    columns = [table.channel_names.index(n) for n in spec.feature_names]
    sub = type(table)(table.timestamps, list(spec.feature_names), table.values[:, columns])
    scores, contributions = score_table_with_contributions(bundle, sub)
    np.testing.assert_array_equal(scores.alarm, res.scores.alarm)  # the device decides as fit did
    first = int(np.flatnonzero(scores.alarm)[0])
    # the first snapshot after the healthy ones is already far over: no waiting for k = 3
    assert str(table.timestamps[first]) == "2004-02-16T22:32:39"
    assert diagnose(spec, contributions[first]).channel == "Bearing 1"
