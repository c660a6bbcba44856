"""Issue 24 #4 #5 on the desktop: ``bearing-train report --recording`` diagnoses the model's snapshots in alarm from
the physics and draws the first one's envelope spectrum against the commissioning baseline."""
from __future__ import annotations

import pytest

from firmware_io.recordings import ims
from tests.agent_fixtures import envelope_bundle_dir
from train.cli import main as train_main


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """The envelope model directory (ingest --bearing ims, fit) of the 25 bundled IMS test-2 snapshots."""
    return envelope_bundle_dir(tmp_path_factory.mktemp("envelope")).parent / "model"


def test_report_names_the_part_of_the_alarms_and_draws_the_first_spectrum(model, tmp_path, capsys):
    png = tmp_path / "first.png"
    assert train_main(["report", str(model), "--recording", str(ims.RAW_TEST2_DIR), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "physics baseline  11 snapshots 2004-02-12 10:32:39 .. 2004-02-15 12:02:39" in out
    line = next(line for line in out.splitlines() if line.startswith("physics diagnosis of "))
    assert ": outer race " in line and "(channel most named: Bearing 1)" in line
    assert "at the first: 2004-02-1" in out and "outer_race" in out and "dB over baseline" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert train_main(["report", str(model)]) == 0  # without a recording: the summary alone, as before
    assert "physics" not in capsys.readouterr().out
