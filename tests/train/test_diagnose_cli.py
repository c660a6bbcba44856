"""bearing-train diagnose: the same sources as ingest, one line (or JSON object) per snapshot, named part and evidence."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edge_agent.features.bearing import IMS_BEARING, IMS_SHAFT_HZ
from tests.edge_agent.diagnosis.test_physics import impacts
from train.cli import main as cli_main

BPFO = IMS_BEARING.defect_frequencies(IMS_SHAFT_HZ)["bpfo"]


def packed(path, snapshots, channel_names=("drive end", "fan end")):
    np.savez(path, samples=np.stack(snapshots).astype(np.float32), sample_rate_hz=np.float64(20000),
             timestamps=np.array([f"2024-05-01T08:{10 * k:02d}:00" for k in range(len(snapshots))]),
             channel_names=np.array(channel_names))
    return path


def noise(seed):
    return np.random.default_rng(seed).normal(0, 0.35, size=(20480, 2))


def test_json_lines_name_the_part_with_its_evidence(tmp_path, capsys):
    faulty = np.hstack([noise(1)[:, :1], impacts(BPFO * 0.975, 0)])
    rec = packed(tmp_path / "rec.npz", [noise(0), faulty])
    code = cli_main(["diagnose", str(rec), "--bearing", "ims", "--json"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and len(out) == 2
    first, second = (json.loads(line) for line in out)
    assert {"time", "part", "confidence", "evidence"} <= set(second)
    assert (first["part"], first["confidence"]) == ("none", 0.0)
    assert second["time"] == "2024-05-01 08:10:00" and second["part"] == "outer_race" and second["channel"] == "fan end"
    lines = second["evidence"]["outer_race"]["lines"]
    assert 0.9 * BPFO < lines[0]["found_hz"] < BPFO and lines[0]["db_over_floor"] > 10
    assert 0 < second["confidence"] <= 1


def test_text_output_a_baseline_and_a_channel(tmp_path, capsys):
    faulty = np.hstack([noise(1)[:, :1], impacts(BPFO, 0)])
    rec = packed(tmp_path / "rec.npz", [faulty])
    base = packed(tmp_path / "base.npz", [noise(5), noise(6)])
    code = cli_main(["diagnose", str(rec), "--bearing", "ims", "--baseline", str(base)])
    out = capsys.readouterr().out
    assert code == 0 and "outer_race" in out and "dB over baseline" in out and "2024-05-01 08:00:00" in out
    assert cli_main(["diagnose", str(rec), "--bearing", "ims", "--channel", "drive end"]) == 0
    assert "no clear defect line" in capsys.readouterr().out
    assert cli_main(["diagnose", str(rec), "--bearing", "ims", "--channel-names", "DE,NDE", "--channel", "2"]) == 0
    assert "outer race (NDE)" in capsys.readouterr().out


def test_bad_options_are_named(tmp_path, capsys):
    rec = packed(tmp_path / "rec.npz", [noise(0)])
    short = tmp_path / "short.npz"
    np.savez(short, samples=noise(1)[:4096].astype(np.float32), sample_rate_hz=np.float64(20000))
    cases = [
        (["--bearing", "ims", "--baseline", str(short)], "baseline is of 4096 samples"),
        (["--bearing", "16,0.3"], "expected 'ims' or N,d,D,ANGLE"),
        (["--bearing", "16,0.331,2.815,15.17"], "--bearing needs --shaft-rpm"),
        (["--bearing", "ims", "--channel", "Bearing 9"], "--channel 'Bearing 9' is neither a channel name"),
    ]
    for argv, message in cases:
        code = cli_main(["diagnose", str(rec), *argv])
        err = capsys.readouterr().err
        assert code == 2 and message in err and "Traceback" not in err, (argv, err)


def test_velocity_in_mm_s_with_its_iso_zone_and_the_spectrum_plot(tmp_path, capsys):
    t = np.arange(20480) / 20000
    f = 100 * 20000 / 20480  # on a bin: no leakage into neighbours weighted by other 1/f^2
    sine = 0.1 * np.sin(2 * np.pi * f * t)[:, None] + np.random.default_rng(0).normal(0, 1e-4, (20480, 1))
    faulty = np.hstack([noise(1)[:, :1], impacts(BPFO, 0)])
    rec = packed(tmp_path / "rec.npz", [np.hstack([sine, sine]), faulty])
    code = cli_main(["diagnose", str(rec), "--bearing", "ims", "--json", "--plot", str(tmp_path / "plots")])
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    expected = 0.1 * 9.80665 / (2 * np.pi * f) / np.sqrt(2) * 1000.0  # mm/s RMS of a 0.1 g sine at f
    assert code == 0 and first["velocity_rms_mm_s"] == pytest.approx(expected, rel=0.01) and first["iso_zone"] == "A"
    assert second["part"] == "outer_race"
    plots = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert plots == ["00001_outer_race.png"] and (tmp_path / "plots" / plots[0]).stat().st_size > 20_000


def test_alarms_limit_the_diagnosis_to_the_snapshots_a_score_table_has_in_alarm(tmp_path, capsys):
    faulty = np.hstack([noise(1)[:, :1], impacts(BPFO, 0)])
    rec = packed(tmp_path / "rec.npz", [noise(0), noise(2), faulty])
    scores = tmp_path / "scores.csv"
    scores.write_text("timestamp,error,over_threshold,alarm,state,level\n"
                      "2024-05-01 08:00:00,0.01,0,0,running,normal\n"
                      "2024-05-01 08:10:00,0.02,0,0,running,normal\n"
                      "2024-05-01 08:20:00,0.30,1,1,running,danger\n")
    assert cli_main(["diagnose", str(rec), "--bearing", "ims", "--alarms", str(scores), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(d["time"], d["alarm"], d["part"]) for d in lines] == [("2024-05-01 08:20:00", "danger", "outer_race")]
    (tmp_path / "bad.csv").write_text("time,score\n1,2\n")
    assert cli_main(["diagnose", str(rec), "--bearing", "ims", "--alarms", str(tmp_path / "bad.csv")]) == 2
    assert "bad.csv: not a score table" in capsys.readouterr().err
