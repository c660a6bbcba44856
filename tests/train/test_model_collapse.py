"""train.reconstruction: fit tells a model that learned from one that collapsed to a constant, retries, says so.

The real default model on the committed IMS test 2 table: seed 0 collapses from its first epoch (every
bottleneck unit dead: its output does not move), seed 1 reconstructs after a few epochs.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from edge_agent.features.table import parse_timestamp, read_feature_table
from edge_agent.scoring.detection import make_windows
from firmware_io.recordings import ims as datasets
from train.fit import fit_model_dir, fit_scaler
from train.reconstruction import measure_reconstruction
from train.report import summary

pytest.importorskip("tensorflow", reason="training needs TensorFlow (a Pi has none)")

UNTIL = datasets.TEST2_TRAIN_UNTIL


def test_a_reconstruction_is_not_a_collapse():
    table = read_feature_table(datasets.FEATURES_TEST2)
    healthy = table.timestamps <= parse_timestamp(UNTIL)
    windows = make_windows(fit_scaler(table, healthy).transform(table.values[healthy]), 1)
    perfect = measure_reconstruction(windows, windows)
    assert not perfect.collapsed and perfect.spread_ratio == (1.0,) * 4 and perfect.error_vs_median == 0.0
    constant = measure_reconstruction(windows, np.broadcast_to(np.median(windows, axis=0), windows.shape))
    assert constant.collapsed and max(constant.spread_ratio) < 1e-12 and constant.error_vs_median == 1.0


def test_fit_retrains_a_collapsed_model_with_the_next_seed_and_records_both(tmp_path):
    said = []
    res = fit_model_dir(datasets.FEATURES_TEST2, tmp_path / "m", UNTIL, seed=0, epochs=12, seed_tries=2,
                        make_plots=False, on_collapse=lambda seed, again: said.append((seed, again)))
    recon = res.metadata["reconstruction"]
    assert said == [(0, 1)]
    assert [(t["seed"], t["collapsed"]) for t in recon["seeds_tried"]] == [(0, True), (1, False)]
    # seed 0's output was dead at epoch 10: stopped there (train.reconstruction.CHECK_EPOCH); seed 1 ran all 12
    assert [t["epochs_run"] for t in recon["seeds_tried"]] == [10, 12]
    assert recon["learned"] and recon["seed"] == 1 and res.metadata["seed"] == 1
    assert min(recon["spread_ratio"]) > 0.05 and recon["error_vs_median"] < 0.95
    assert not any("did not learn" in w for w in res.metadata["warnings"])
    assert json.loads((tmp_path / "m" / "metadata.json").read_text())["reconstruction"] == recon
    report = summary(tmp_path / "m")
    assert "reconstruction    learned" in report and "seeds tried: 0 (collapsed), 1 (learned)" in report


def test_a_collapsed_short_fit_is_not_retried_and_fit_and_report_say_so_plainly(tmp_path):
    # one epoch: seed 0 is already collapsed; a fit this short is measured, not retried
    res = fit_model_dir(datasets.FEATURES_TEST2, tmp_path / "m", UNTIL, seed=0, epochs=1, make_plots=False)
    recon = res.metadata["reconstruction"]
    assert recon["learned"] is False and [t["seed"] for t in recon["seeds_tried"]] == [0]
    assert max(recon["spread_ratio"]) < 1e-3  # its output does not move
    # its error is the distance to one fixed point, never below the distance to the healthy median
    # (the median is the constant with the least absolute error)
    assert recon["error_vs_median"] >= 0.999
    warning = next(w for w in res.metadata["warnings"] if "did not learn" in w)
    assert "with seed 0 its output stayed constant" in warning and "--seed" in warning
    report = summary(tmp_path / "m")
    assert "DID NOT LEARN" in report and "WARNING           the model did not learn" in report


def test_the_bundle_says_whether_its_model_learned(converted, model_dir):
    # the session's model: seed 0, 30 epochs (tests/conftest.py), too short a fit to be retried: collapsed
    manifest = json.loads((converted().bundle_dir / "manifest.json").read_text())
    recon = manifest["training_data"]["reconstruction"]
    assert recon["learned"] is False and recon["seeds_tried"][0]["seed"] == 0
    assert recon == json.loads((model_dir() / "metadata.json").read_text())["reconstruction"]
