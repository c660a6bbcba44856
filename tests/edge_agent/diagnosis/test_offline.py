"""Issue 24 #4 offline: ``bearing-agent score --recording`` names the failing part of each snapshot in alarm from
the physics, with the device's code and the bundle's commissioning baseline (real IMS test-2 snapshots)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from edge_agent.cli.main import main
from edge_agent.features import registry
from edge_agent.features.table import FeatureTable
from edge_agent.scoring.bundle import load_bundle
from firmware_io.recordings import ims
from firmware_io.recordings.reader import iter_snapshots
from tests.agent_fixtures import envelope_bundle_dir


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return load_bundle(envelope_bundle_dir(tmp_path_factory.mktemp("envelope")))


@pytest.fixture(scope="module")
def table(bundle, tmp_path_factory):
    """The 25 bundled snapshots' features, computed by the device's registry as ingest computes them."""
    snaps = list(iter_snapshots([ims.RAW_TEST2_DIR]))
    values = np.array([registry.compute(bundle.spec, s.as_counts(ims.IMS_SCALE), ims.IMS_SCALE) for s in snaps])
    path = tmp_path_factory.mktemp("table") / "features.csv"
    FeatureTable(np.array([s.timestamp for s in snaps], dtype="datetime64[s]"), list(bundle.spec.feature_names),
                 values).write(path)
    return path


def test_score_names_outer_race_on_bearing_1_for_the_snapshots_in_alarm(bundle, table, tmp_path, capsys):
    scores, lines = tmp_path / "scores.csv", tmp_path / "physics.jsonl"
    assert main(["score", "--bundle", str(bundle.path), str(table), "-o", str(scores), "--recording",
                 str(ims.RAW_TEST2_DIR), "--physics-json", str(lines)]) == 0
    out = capsys.readouterr().out
    written = [json.loads(line) for line in lines.read_text().splitlines()]
    alarmed = [row for row in scores.read_text().splitlines()[1:] if row.split(",")[3].strip() in ("1", "True", "true")]
    assert written and len(written) == len(alarmed)
    assert f"physics diagnosis of {len(written)} of the {len(written)} snapshots in alarm: outer race" in out
    assert written[0]["part"] == "outer_race" and written[0]["channel"] == "Bearing 1"
    assert written[0]["level"] in ("alert", "danger") and written[0]["time"].startswith("2004-02-1")
    assert written[0]["evidence"]["outer_race"]["detected"] is True
    assert "the autoencoder's: where its error is" in out  # its "which channel", labelled as such


def test_score_with_an_older_bundle_says_it_gets_no_physics_diagnosis(bundle, table, tmp_path, capsys, resign):
    old = shutil.copytree(bundle.path, tmp_path / "old")
    (old / "physics_baseline.npy").unlink()
    resign(old, lambda m: m.pop("physics"))
    assert main(["score", "--bundle", str(old), str(table), "-o", str(tmp_path / "s.csv"), "--recording",
                 str(ims.RAW_TEST2_DIR)]) == 0
    assert "physics diagnosis: no physics diagnosis: this bundle carries no commissioning envelope spectrum" \
        in capsys.readouterr().out
