"""fit writes the frozen commissioning baseline and the level rules; --alert-db / --danger-db choose the limits."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="desktop test: a Pi has no TensorFlow (.ci/arm-edge.sh)")

from edge_agent.features.table import parse_timestamp, read_feature_table
from firmware_io.recordings import ims as datasets
from train.cli import main as cli_main

UNTIL = "2004-02-15 12:52:39"


def test_the_baseline_is_the_healthy_median_and_the_limits_are_the_users(tmp_path, capsys):
    out = tmp_path / "model"
    assert cli_main(["fit", str(datasets.FEATURES_TEST2), "--train-until", UNTIL, "--out", str(out), "--epochs", "3",
                     "--no-plots", "--alert-db", "1.5", "--danger-db", "5,10", "--settle-minutes", "45",
                     "--full-scale-counts", "2047"]) == 0
    thr = json.loads((out / "threshold.json").read_text())
    table = read_feature_table(datasets.FEATURES_TEST2)
    healthy = table.values[table.timestamps <= parse_timestamp(UNTIL)]
    np.testing.assert_allclose(thr["baseline"]["median"], np.median(healthy, axis=0))
    assert thr["baseline"]["n_snapshots"] == len(healthy) and thr["baseline"]["until"] == UNTIL.replace(" ", "T")
    assert (thr["levels"]["alert_db_level"], thr["levels"]["alert_db_ratio"]) == (1.5, 6.0)
    assert (thr["levels"]["danger_db_level"], thr["levels"]["danger_db_ratio"]) == (5.0, 10.0)
    assert thr["machine"]["stopped_db"] == -20.0 and thr["machine"]["settle_s"] == 2700.0
    assert thr["machine"]["full_scale_counts"] == 2047
    header = (out / "scores.csv").read_text().splitlines()[0]
    assert header == "timestamp,error,over_threshold,alarm,state,level,split"


@pytest.mark.parametrize("args, message", [
    (["--alert-db", "loud"], "one or two numbers of dB"),
    (["--alert-db", "8", "--danger-db", "6"], "Danger limits must not be below the Alert limits"),
    (["--stopped-db", "5"], "stopped_db = 5.0"),
])
def test_bad_limits_are_refused_before_training(tmp_path, capsys, args, message):
    try:
        code = cli_main(["fit", str(datasets.FEATURES_TEST2), "--train-until", UNTIL, "--out", str(tmp_path / "m"),
                         "--epochs", "1", "--no-plots", *args])
    except SystemExit as exc:  # argparse's own refusal of the value
        code = exc.code
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "m" / "model.keras").exists()
