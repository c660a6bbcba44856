"""Commissioning pieces that run in seconds: replaying a part of a recording, the stream's spec
travelling from the agent's journal through ``export`` to ``bearing-train fit``.

``bearing-replay --start/--stop`` lets a test (or a user rehearsing the
routine) stream the healthy part of a recording and later the rest, with
each snapshot at the stream position it has in the whole recording, so the
two parts line up with one whole replay. The whole routine is in
``tests/e2e/test_commissioning_e2e.py``.
"""
from __future__ import annotations


import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from edge_agent.cli import main as cli
from edge_agent.journal import Journal, SnapshotRow
from edge_agent.service import Agent

from firmware_io.protocol import frames as fr
from firmware_io.recordings import reader as rec
from firmware_io.protocol.decoder import StreamDecoder
from firmware_io.simulator.replay import Replayer
from firmware_io.simulator.replay_cli import main as replay_main
from tests.conftest import import_or_skip_desktop
from tests.agent_fixtures import ReplayThread, agent_config, features_of, raw_test2_files, wait_for

N = 20480


def decoded(replayer: Replayer, skipped: int = 0) -> list[fr.Frame]:
    """The replay's frames; ``skipped`` samples are left out between loops (the decoder counts them)."""
    dec = StreamDecoder()
    frames = dec.feed(b"".join(c.data for c in replayer.chunks()))
    assert (dec.stats.missing_samples, dec.stats.bytes_skipped) == (skipped, 0)
    return frames + dec.flush()


def test_two_partial_replays_line_up_with_one_whole_replay() -> None:
    files = raw_test2_files()[:5]
    whole = decoded(Replayer(files, speed=0))
    parts = decoded(Replayer(files, speed=0, stop=2)) + decoded(Replayer(files, speed=0, start=2))
    for frames in (whole, parts):
        marks = [f for f in frames if isinstance(f, fr.SnapshotMark)]
        assert [m.first_index for m in marks] == [k * N for k in range(5)]
    for kind in (fr.SnapshotMark, fr.Samples):
        a = [f for f in whole if isinstance(f, kind)]
        b = [f for f in parts if isinstance(f, kind)]
        assert [f.first_index for f in a] == [f.first_index for f in b]
    stream = np.concatenate([f.samples for f in parts if isinstance(f, fr.Samples)])
    np.testing.assert_array_equal(stream, np.concatenate([rec.to_counts(rec.read_snapshot_file(p)) for p in files]))
    # each part starts with a StreamInfo, as a freshly plugged device does
    assert isinstance(decoded(Replayer(files, speed=0, start=3))[0], fr.StreamInfo)


def test_a_range_in_the_middle_with_loops_keeps_the_recording_positions() -> None:
    files = raw_test2_files()[:4]
    # the index skips snapshots 3 and 4 between the loops: after a whole burst (the replay states its
    # snapshots as bursts, PROTOCOL.md 4.1) with no frame lost, a pause of the device, not missing samples
    marks = [f for f in decoded(Replayer(files, speed=0, start=1, stop=3, loops=2))
             if isinstance(f, fr.SnapshotMark)]
    assert [m.first_index // N for m in marks] == [1, 2, 5, 6]  # the second loop continues the index
    stamps = [rec.parse_snapshot_name(p.name) for p in files[1:3]]
    assert [np.datetime64(int(m.timestamp), "s") for m in marks[:2]] == stamps


@pytest.mark.parametrize("args, message", [
    (["--start", "3", "--stop", "3"], "0 <= start < stop"),
    (["--start", "-1"], "0 <= start < stop"),
    (["--start", "30"], "no snapshots in the range 30..None"),
])
def test_a_bad_range_is_refused_before_opening_anything(args, message, capsys) -> None:
    assert replay_main([*map(str, raw_test2_files()[:5]), "--pty", *args]) == 2
    assert message in capsys.readouterr().err


# --- the stream's spec: journal -> export -> fit ---------------------------------------------

@pytest.mark.slow  # 9-11 s: TensorFlow's import and one epoch
def test_a_machine_at_another_rate_gets_a_model_for_that_rate(tmp_path, capsys) -> None:
    """Learning on a 25.6 kHz stream: export says so, and fit writes it into the feature spec."""
    import_or_skip_desktop("sklearn")  # fit_model_dir's scaler: the desktop's [train] extra
    from train.fit import FitError, fit_model_dir

    files = raw_test2_files()[:6]
    link = tmp_path / "ttyACM0"
    replay = ReplayThread(files, link, speed=0, sample_rate_hz=25_600).start()
    rows: list = []
    agent = Agent(agent_config(tmp_path, str(link), learn=True,
                               learning={"channel_names": ["b1", "b2", "b3", "b4"], "samples_per_snapshot": N}),
                  pin_factory=MockFactory(), on_snapshot=lambda row, a: rows.append(row))
    thread = agent.start()
    try:
        wait_for(lambda: len(rows) == len(files), 60, "6 learned snapshots")
    finally:
        agent.stop()
        thread.join(120)
        replay.close()
    table = tmp_path / "healthy.csv"
    assert cli.main(["export", "--journal", str(tmp_path / "journal.sqlite"), "-o", str(table)]) == 0
    out = capsys.readouterr().out
    assert "recorded at 25600 Hz, 20480 samples a snapshot" in out
    assert f"bearing-train fit {table} --sample-rate 25600 --snapshot-length 20480" in out
    with pytest.raises(FitError, match="sample_rate_hz must be > 0"):  # refused before any training
        fit_model_dir(table, tmp_path / "bad", "2004-02-13 00:00:00", sample_rate_hz=0, validation_split=0.0)
    res = fit_model_dir(table, tmp_path / "model", "2004-02-13 00:00:00", sample_rate_hz=25_600, samples_per_snapshot=N,
                        epochs=1, validation_split=0.0, make_plots=False)
    spec = res.metadata["feature_spec"]
    assert (spec["sample_rate_hz"], spec["samples_per_snapshot"], spec["channel_names"]) == (
        25_600, N, ["b1", "b2", "b3", "b4"])
    assert res.metadata["warnings"]  # 6 snapshots are far too few: the report says so
    np.testing.assert_array_equal(features_of(files).values, [r.features for r in rows])


def test_export_refuses_to_mix_streams_of_different_rates(tmp_path, capsys) -> None:
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    for k, rate in enumerate((20_000, 25_600)):
        sid = j.stream_id("pump-7", "fw", rate, 2, 0.001, ["x", "y"])
        j.record_snapshot(SnapshotRow(1.7e9 + 600 * k, k * N, sid, [0.1, 0.2], None, None, None, None,
                                      "learning", None, 1.0))
    j.close()
    assert cli.main(["export", "--journal", str(path), "-o", str(tmp_path / "f.csv")]) == 1
    err = capsys.readouterr().err
    assert "different channels or rates" in err and "20000 Hz" in err and "25600 Hz" in err
    assert not (tmp_path / "f.csv").exists()
    assert cli.main(["export", "--journal", str(path), "--since", "2023-11-14 22:23:00",
                     "-o", str(tmp_path / "f.csv")]) == 0
