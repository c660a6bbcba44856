"""The defaults chosen by measurement (docs/training.md): ``ingest --bearing`` computes mean |x| and the
envelope peak/median; ``fit`` turns the two-level rule on at 1.75 for envelope features only."""
from __future__ import annotations

import json

import pytest

from edge_agent.features.condition import WITH_BEARING_FEATURES, defect_of
from firmware_io.recordings import ims as datasets
from train.cli import main as cli_main
from train.ingest import read_table_spec

UNTIL = "2004-02-15 20:00:00"  # 11 of the 25 bundled raw snapshots
FAST = ["--epochs", "1", "--validation-split", "0", "--no-plots", "--accept-drift", "--train-until", UNTIL]


@pytest.fixture(scope="module")
def bearing_table(tmp_path_factory):
    out = tmp_path_factory.mktemp("ingest") / "features.csv"
    assert cli_main(["ingest", str(datasets.RAW_TEST2_DIR), "-o", str(out), "-q", "-j", "1", "--bearing", "ims"]) == 0
    return out


def _immediate(model_dir):
    return json.loads((model_dir / "threshold.json").read_text()).get("immediate")


def test_ingest_with_a_bearing_and_no_features_computes_mean_abs_and_the_envelope_lines(bearing_table):
    spec = read_table_spec(bearing_table)
    assert spec.features == WITH_BEARING_FEATURES
    assert spec.features[0] == "mean_abs" and {defect_of(f) for f in spec.features[1:]} == {"bpfo", "bpfi", "bsf", "ftf"}


def test_fit_turns_the_two_level_rule_on_for_envelope_features_only(bearing_table, tmp_path, capsys):
    assert cli_main(["fit", str(bearing_table), "--out", str(tmp_path / "env"), *FAST]) == 0
    assert _immediate(tmp_path / "env")["factor"] == 1.75
    assert cli_main(["fit", str(bearing_table), "--out", str(tmp_path / "off"), "--immediate", "off", *FAST]) == 0
    assert _immediate(tmp_path / "off") is None
    assert cli_main(["fit", str(bearing_table), "--out", str(tmp_path / "abs"), "--features", "mean_abs", *FAST]) == 0
    assert _immediate(tmp_path / "abs") is None  # mean |x| alone keeps the kit's rule
    assert cli_main(["fit", str(bearing_table), "--out", str(tmp_path / "two"), "--immediate", "2", *FAST]) == 0
    assert _immediate(tmp_path / "two")["factor"] == 2.0


def test_fit_on_a_mean_abs_table_keeps_the_kits_rule_and_a_bad_factor_is_refused(tmp_path, capsys):
    assert cli_main(["fit", str(datasets.FEATURES_TEST2), "--out", str(tmp_path / "m"), *FAST]) == 0
    assert _immediate(tmp_path / "m") is None
    with pytest.raises(SystemExit) as exc:
        cli_main(["fit", str(datasets.FEATURES_TEST2), "--out", str(tmp_path / "x"), "--immediate", "soon", *FAST])
    assert exc.value.code == 2
    assert "'soon' is neither a factor" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
