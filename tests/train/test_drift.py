"""train.drift and fit's drift refusal: real healthy periods pass, an injected rising drift is refused.

The injected drifts are synthetic: the committed IMS test 2 feature table with one channel
multiplied by (1 + r * days since the first snapshot), a linear ramp of r per day.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from edge_agent.features.table import parse_timestamp, read_feature_table
from firmware_io.recordings import ims as datasets
from train.cli import main as cli_main
from train.drift import DEFAULT_LIMIT_SPREAD_PER_DAY, drift_refusal, measure_drift
from train.fit import FitError, fit_model_dir

UNTIL = datasets.TEST2_TRAIN_UNTIL


def _healthy(table, start: str | None, until: str) -> tuple[np.ndarray, np.ndarray]:
    keep = table.timestamps <= parse_timestamp(until)
    if start:
        keep &= table.timestamps >= parse_timestamp(start)
    return table.timestamps[keep], table.values[keep]


def _ramped(table, rate_per_day: float, channel: int = 0) -> np.ndarray:
    days = (table.timestamps - table.timestamps[0]) / np.timedelta64(1, "D")
    values = table.values.copy()
    values[:, channel] *= 1 + rate_per_day * days
    return values


@pytest.mark.parametrize("path,start,until", [
    (datasets.FEATURES_TEST2, None, UNTIL),
    (datasets.FEATURES_TEST1, "2003-10-29 00:00:00", "2003-11-15 23:59:59"),  # after the break-in, as the benchmarks
])
def test_the_real_healthy_periods_are_stationary(path, start, until):
    table = read_feature_table(path)
    times, values = _healthy(table, start, until)
    drifts = measure_drift(times, values, table.channel_names)
    assert len(drifts) == len(table.channel_names)
    assert drift_refusal(drifts) is None
    assert max(d.spread_per_day for d in drifts) < DEFAULT_LIMIT_SPREAD_PER_DAY * 0.6  # margin, not a near miss


def test_a_rising_drift_of_one_percent_a_day_on_one_channel_is_refused_with_what_to_do():
    table = read_feature_table(datasets.FEATURES_TEST2)
    keep = table.timestamps <= parse_timestamp(UNTIL)
    drifts = measure_drift(table.timestamps[keep], _ramped(table, 0.01)[keep], table.channel_names)
    message = drift_refusal(drifts)
    assert message is not None and "Bearing 1" in message and "Bearing 2:" not in message
    assert "%/day" in message and "--exclude" in message and "--accept-drift" in message
    rate = next(d for d in drifts if d.name == "Bearing 1")
    assert 0.7 < rate.percent_per_day < 1.3  # the injected 1 %/day, measured over the latest half


def test_a_falling_level_and_a_short_period_are_not_refused():
    table = read_feature_table(datasets.FEATURES_TEST2)
    keep = table.timestamps <= parse_timestamp(UNTIL)
    assert drift_refusal(measure_drift(table.timestamps[keep], _ramped(table, -0.05)[keep],
                                       table.channel_names)) is None
    assert measure_drift(table.timestamps[:30], table.values[:30], table.channel_names) == []


@pytest.fixture()
def drifting_table(tmp_path):
    table = read_feature_table(datasets.FEATURES_TEST2)
    path = tmp_path / "drifting.csv"
    type(table)(table.timestamps, table.channel_names, _ramped(table, 0.02)).write(path)
    return path


def test_fit_refuses_before_training_flags_or_accepts(drifting_table, tmp_path):
    with pytest.raises(FitError, match="not stationary"):
        fit_model_dir(drifting_table, tmp_path / "refused", UNTIL, on_drift="refuse")
    assert not (tmp_path / "refused").exists()
    res = fit_model_dir(drifting_table, tmp_path / "flagged", UNTIL, epochs=1, make_plots=False)
    assert res.metadata["drift"]["refused"] and "not stationary" in res.metadata["warnings"][0]
    meta = json.loads((tmp_path / "flagged" / "metadata.json").read_text())
    assert meta["drift"]["refused"] is True and meta["drift"]["accepted"] is False
    assert {d["name"] for d in meta["drift"]["features"]} == {"Bearing 1", "Bearing 2", "Bearing 3", "Bearing 4"}
    with pytest.raises(FitError, match="on_drift"):
        fit_model_dir(drifting_table, tmp_path / "x", UNTIL, on_drift="ignore")


def test_cli_refuses_a_drift_and_writes_with_accept_drift(drifting_table, tmp_path, capsys):
    assert cli_main(["fit", str(drifting_table), "--train-until", UNTIL, "--out", str(tmp_path / "m"),
                     "--epochs", "1", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "not stationary" in err and "Bearing 1: +" in err and "--accept-drift" in err
    assert not (tmp_path / "m").exists()
    assert cli_main(["fit", str(drifting_table), "--train-until", UNTIL, "--out", str(tmp_path / "m"),
                     "--epochs", "1", "--no-plots", "--accept-drift"]) == 0
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())
    assert meta["drift"]["accepted"] is True and meta["warnings"][0].startswith("drift accepted")
