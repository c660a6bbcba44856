"""The agent's parts on their own: config, snapshot assembly, alarm latch, journal, outputs, CLI.

Synthetic frames here only for what the recordings cannot show on demand
(a gap at a chosen sample, a clock, a device reset); the real stream is in
test_agent_e2e.py.
"""
from __future__ import annotations

import dataclasses
import json
import threading
import time
import tomllib

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from edge_agent.cli import main as cli
from edge_agent.alarms.alarm_state import AlarmState
from edge_agent.config import Config, ConfigError, example_config_path, load_config, parse_config
from edge_agent.cli.install import render_unit, shipped_unit_path
from edge_agent.journal import Journal, SnapshotRow
from edge_agent.outputs.gpio import StatusOutputs
from edge_agent.stream.snapshots import SnapshotAssembler
from firmware_io.protocol.frames import Samples, SnapshotMark

# --- config ------------------------------------------------------------------------------


def test_example_config_lists_every_option_with_its_default():
    data = tomllib.loads(example_config_path().read_text())
    assert parse_config(data, "example") == Config()
    for section in dataclasses.fields(Config):
        documented = set(data[section.name])
        assert documented == {f.name for f in dataclasses.fields(getattr(Config(), section.name))}, section.name


@pytest.mark.parametrize("text, message", [
    ("[gpio]\nled_pn = 5\n", "unknown key [gpio] led_pn"),
    ("[gpoi]\n", "unknown section [gpoi]"),
    ("[gpio]\nled_pin = 40\n", "[gpio] led_pin must be a BCM pin 0..27, got 40"),
    ("[gpio]\nled_pin = \"17\"\n", "[gpio] led_pin must be int, got '17'"),
    ("[agent]\nlearn = 1\n", "[agent] learn must be bool, got 1"),
    ("[agent]\nruntime = \"tensorflow\"\n", "[agent] runtime must be one of"),
    ("[faults]\nmax_bad_frame_rate = 5\n", "[faults] max_bad_frame_rate must be between 0 and 1"),
    ("[learning]\nchannel_names = [\"a\", \"a\"]\n", "[learning] channel_names must be unique"),
    ("agent = 3\n", "agent must be a [agent] table"),
    ("[gpio]\nrelay_pin = 17\n", "[gpio] led_pin = 17, relay_pin = 17: one pin cannot drive two outputs"),
    ("[agent\n", "not valid TOML"),
])
def test_bad_config_is_refused_with_the_key_named(tmp_path, text, message):
    path = tmp_path / "agent.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_config_values_and_command_line_overrides(tmp_path):
    path = tmp_path / "agent.toml"
    path.write_text("[agent]\ninterval_s = 60\n[gpio]\nrelay_pin = -1\n")
    config = load_config(path)
    assert config.agent.interval_s == 60.0 and config.gpio.relay_pin == -1 and config.gpio.led_pin == 17
    config = config.replace("agent", interval_s=0, bundle=None)
    assert config.agent.interval_s == 0.0 and config.agent.bundle == Config().agent.bundle
    with pytest.raises(ConfigError, match="<command line>: \\[agent\\] interval_s must be >= 0"):
        config.replace("agent", interval_s=-1)
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "missing.toml")


# --- snapshot assembly ---------------------------------------------------------------------

def frames(start: int, n_frames: int, size: int = 256, channels: int = 2):
    for k in range(n_frames):
        first = start + k * size
        data = (np.arange(first, first + size, dtype=np.int64)[:, None] % 30000 * [1, -1]).astype(np.int16)
        yield Samples(k, first, data[:, :channels])


def feed_all(asm, items):
    out = []
    for item in items:
        out += asm.feed(item)
    return out


def test_marked_snapshots_start_at_the_mark_and_take_its_time():
    asm = SnapshotAssembler(1000, interval_s=0)
    # marks mid-frame, and the second arriving while the first snapshot is still being collected
    items = [SnapshotMark(100, 1e9), *frames(0, 4), SnapshotMark(1100, 1e9 + 600), *frames(1024, 6)]
    snaps = feed_all(asm, items)
    assert [(s.first_index, s.timestamp, s.marked) for s in snaps] == [(100, 1e9, True), (1100, 1e9 + 600, True)]
    for s in snaps:  # the samples are exactly those indices, across frame boundaries
        np.testing.assert_array_equal(s.samples[:, 0], np.arange(s.first_index, s.first_index + 1000) % 30000)


def test_gap_discards_the_snapshot_and_the_next_one_is_whole():
    asm = SnapshotAssembler(1024, interval_s=0, clock=lambda: 5.0)
    items = [*frames(0, 2), *frames(768, 10)]  # samples 512..767 lost
    snaps = feed_all(asm, items)
    assert asm.counts["discarded_gap"] == 1
    assert [s.first_index for s in snaps] == [768, 1792]  # wall-clock mode restarts right after the gap
    assert all(s.samples.shape == (1024, 2) and not s.marked for s in snaps)


def test_device_reset_index_going_back_discards_and_resyncs():
    asm = SnapshotAssembler(1024, interval_s=0, clock=lambda: 5.0)
    snaps = feed_all(asm, [*frames(5000, 2), *frames(0, 4)])
    assert asm.counts["discarded_gap"] == 1 and [s.first_index for s in snaps] == [0]


def test_cadence_wall_clock_and_marks():
    now = [1000.0]
    asm = SnapshotAssembler(512, interval_s=600, clock=lambda: now[0])
    assert len(feed_all(asm, frames(0, 2))) == 1
    now[0] += 10
    assert feed_all(asm, frames(512, 4)) == []  # not due yet: nothing collected
    now[0] += 600
    assert [s.timestamp for s in feed_all(asm, frames(1536, 2))] == [1610.0]
    marked = SnapshotAssembler(512, interval_s=600)
    items = []
    for k in range(6):  # recorded every 300 s: every other one is due
        items += [SnapshotMark(k * 512, 1e9 + 300 * k), *frames(k * 512, 2)]
    assert [s.first_index // 512 for s in feed_all(marked, items)] == [0, 2, 4]
    assert marked.counts["skipped_cadence"] == 3


def test_time_going_back_does_not_stall_the_cadence():
    # a looping replay (or a wall clock set back) restarts the timestamps: keep taking snapshots
    asm = SnapshotAssembler(512, interval_s=600)
    asm.last_timestamp = 1e9 + 6000
    items = [SnapshotMark(0, 1e9), *frames(0, 2), SnapshotMark(512, 1e9 + 600), *frames(512, 2)]
    assert [s.first_index for s in feed_all(asm, items)] == [0, 512]


def test_reset_discards_partial_snapshot():
    asm = SnapshotAssembler(1024, interval_s=0, clock=lambda: 1.0)
    feed_all(asm, frames(0, 2))
    assert asm.collecting
    asm.reset("unplugged")
    assert asm.counts["discarded_gap"] == 1 and not asm.collecting


# --- alarm latch ----------------------------------------------------------------------------

def test_alarm_latches_until_acknowledged():
    s = AlarmState()
    assert s.display == "normal" and s.update(False) == []
    assert [k for k, _ in s.update(True)] == ["alarm_raised"]
    assert (s.display, s.relay, s.buzzer) == ("alarm", True, True)
    assert [k for k, _ in s.update(False)] == ["alarm_condition_cleared"]
    assert s.display == "alarm" and s.relay  # latched: nobody has seen it yet
    assert [k for k, _ in s.acknowledge("button")] == ["alarm_acknowledged", "alarm_cleared"]
    assert (s.display, s.relay, s.buzzer) == ("normal", False, False)


def test_ack_while_active_silences_then_clear_ends_it():
    s = AlarmState()
    s.update(True)
    assert [k for k, _ in s.acknowledge("cli")] == ["alarm_acknowledged"]
    assert s.relay and not s.buzzer and s.display == "alarm"
    assert [k for k, _ in s.acknowledge("cli")] == ["ack_ignored"]
    assert [k for k, _ in s.update(False)] == ["alarm_cleared"]
    assert not s.latched


def test_fault_is_shown_but_never_hides_an_alarm_and_latch_survives_restore():
    s = AlarmState(learning=True)
    assert s.display == "learning"
    assert [k for k, _ in s.set_fault("no data")] == ["sensor_fault_begin"]
    assert s.set_fault("still no data") == [] and s.display == "fault"
    s.update(True)
    assert s.display == "alarm"
    assert [k for k, _ in s.set_fault(None)] == ["sensor_fault_end"]
    restored = AlarmState()
    restored.restore(s.to_dict())
    assert restored.latched and restored.buzzer


# --- journal --------------------------------------------------------------------------------

def row(t, first_index, **kw):
    base = dict(time=t, first_index=first_index, stream_id=None, features=[0.1, 0.2], error=None,
                threshold=None, over_threshold=None, alarm=None, state="normal", bundle_id="b1", latency_ms=1.0)
    return SnapshotRow(**{**base, **kw})


def test_journal_wal_state_requests_and_retention(tmp_path):
    j = Journal(tmp_path / "sub" / "j.sqlite")
    assert j.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    sid = j.stream_id("dev", "fw", 20000, 2, 0.001, ["a", "b"])
    assert j.stream_id("dev", "fw", 20000, 2, 0.001, ["a", "b"]) == sid
    for k in range(5):
        j.record_snapshot(row(1e9 + k, k * 10, stream_id=sid, error=0.5 + k), state={"scorer": {"k": k}},
                          counters={"frames_ok": k})
    assert j.get_state("scorer") == {"k": 4} and j.counters() == {"frames_ok": 4}
    rows = j.snapshots(last=2)
    assert [r["first_index"] for r in rows] == [30, 40] and rows[0]["channel_names"] == ["a", "b"]
    # another process (bearing-agent ack) queues a request while the agent holds the journal
    other = Journal(tmp_path / "sub" / "j.sqlite", create=False)
    other.request("ack", "command line")
    other.close()
    assert [(k, s) for _, k, s in j.take_requests()] == [("ack", "command line")]
    assert j.take_requests() == []
    # retention: by row count, and by age since journaled (not the snapshot's own time)
    assert j.prune(retention_days=365, max_snapshots=3) == 2
    assert len(j.snapshots()) == 3
    assert j.prune(retention_days=1, max_snapshots=100, now=time.time() + 2 * 86400) == 3
    j.close()
    with pytest.raises(Exception, match="no journal here"):
        Journal(tmp_path / "nothing.sqlite", create=False)


def test_status_and_export_commands(tmp_path, capsys):
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    sid = j.stream_id("pump-7", "fw", 20000, 2, 0.001, ["x", "y"])
    for k in range(3):
        j.record_snapshot(row(1.7e9 + 600 * k, k * 20480, stream_id=sid, features=[0.1 * k, 0.2],
                              error=0.01 * k, threshold=0.5, over_threshold=False, alarm=False),
                          state={"heartbeat": {"time": time.time(), "pid": 1, "mode": "scoring",
                                               "display": "normal", "port": "/dev/ttyACM0"}})
    j.record_snapshot(row(1.7e9 + 600 * 2 + 0.5, 3 * 20480, stream_id=sid))  # same second: left out
    j.event("start", "test")
    j.close()
    assert cli.main(["status", "--journal", str(path)]) == 0
    out = capsys.readouterr().out
    assert "agent: running" in out and "state: NORMAL" in out and "recent events" in out
    assert cli.main(["status", "--journal", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["snapshots"][-1]["first_index"] == 3 * 20480
    out_csv = tmp_path / "f.csv"
    assert cli.main(["export", "--journal", str(path), "-o", str(out_csv)]) == 0
    lines = out_csv.read_text().splitlines()
    assert lines[0] == "timestamp,x,y" and len(lines) == 4
    assert lines[2] == "2023-11-14 22:23:20,0.1,0.2"
    assert "shared a second" in capsys.readouterr().out
    assert cli.main(["export", "--journal", str(path), "--device", "other", "-o", str(out_csv)]) == 1
    assert cli.main(["status", "--journal", str(tmp_path / "none.sqlite")]) == 2


def test_status_and_ack_tell_a_stale_or_stopped_agent_from_a_running_one(tmp_path, capsys):
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    for heartbeat, running in [({"time": time.time(), "pid": 1}, True),
                               ({"time": time.time(), "pid": 1, "stopped": True}, False),
                               ({"time": time.time() - 60, "pid": 1}, False)]:
        j.set_state(heartbeat=heartbeat)
        assert cli.main(["status", "--journal", str(path), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["running"] is running
        assert cli.main(["ack", "--journal", str(path)]) == 0
        assert ("does not seem to be running" in capsys.readouterr().out) is not running
    j.close()


def test_restart_resumes_the_cadence_and_features_from_the_journal_rows(tmp_path):
    from edge_agent.service import Agent

    path = tmp_path / "j.sqlite"
    j = Journal(path)
    for k in range(3):
        j.record_snapshot(row(1.7e9 + 600 * k, k * 1024, features=[0.1 * k, 0.2]))
    j.close()
    config = parse_config({"agent": {"learn": True, "interval_s": 600.0},
                           "serial": {"port": str(tmp_path / "no-such-device")}, "gpio": {"pin_factory": "mock"},
                           "journal": {"path": str(path)}, "learning": {"samples_per_snapshot": 1024}}, "<test>")
    agent = Agent(config, pin_factory=MockFactory())
    # the next snapshot is due 600 s after the last journaled one, not at once
    assert agent.assembler.last_timestamp == 1.7e9 + 1200
    assert [f.tolist() for f in agent.recent_features] == [[0.0, 0.2], [0.1, 0.2], [0.2, 0.2]]
    agent.stop()
    agent.run()  # start and clean stop: journals the snapshot length that export reports
    j = Journal(path, create=False)
    assert j.get_state("samples_per_snapshot") == 1024
    assert [e["kind"] for e in j.events(last=2)] == ["start", "stop"]
    j.close()


# --- outputs ------------------------------------------------------------------------------

def test_outputs_drive_mock_pins_and_button_acknowledges():
    factory = MockFactory()
    acks = []
    out = StatusOutputs(led_pin=17, buzzer_pin=27, relay_pin=22, relay_active_high=False, ack_button_pin=23,
                        on_ack=lambda: acks.append(1), pin_factory=factory)
    out.show("normal", buzzer=False, relay=False)
    assert factory.pin(22).state is True  # active-low relay board: released = high
    out.show("alarm", buzzer=True, relay=True)
    assert factory.pin(17).state is True and factory.pin(22).state is False and out.relay_on
    factory.pin(23).drive_low()
    time.sleep(0.1)
    assert acks == [1]
    out.close()


def test_serial_link_locks_the_device_and_reports_changes():
    from firmware_io.simulator.ports import PtyPort
    from edge_agent.stream.serial_link import SerialLink

    changes = []
    with PtyPort() as pty:
        first = SerialLink(pty.path, on_change=lambda up, why: changes.append(up))
        second = SerialLink(pty.path, reconnect_initial_s=0.05)
        assert first.read() == b"" and first.connected
        assert second.read() == b"" and not second.connected  # a second reader would steal bytes
        pty.write(b"abc", threading.Event())
        assert first.read() == b"abc"
        pty.disconnect()  # the cable is pulled
        assert first.read() == b"" and not first.connected and first.disconnects == 1
        first.close()
        second.close()
    assert changes == [True, False]


# --- packaging --------------------------------------------------------------------------------

def test_service_unit_is_shipped_and_filled_in():
    unit = render_unit(executable="/opt/venv/bin/bearing-agent", user="maint", config="/etc/x.toml")
    assert "ExecStart=/opt/venv/bin/bearing-agent run --config /etc/x.toml" in unit
    assert "User=maint" in unit and "ExecReload=/bin/kill -HUP $MAINPID" in unit
    assert shipped_unit_path().is_file()


def test_bundle_spec_must_match_the_live_stream():
    from edge_agent.features.spec import FeatureSpec
    from edge_agent.service import spec_mismatch
    from firmware_io.protocol.frames import StreamInfo

    spec = FeatureSpec(("Bearing 1", "Bearing 2", "Bearing 3", "Bearing 4"))
    assert spec_mismatch(spec, StreamInfo("pump-7", "fw", 20000, 4, scale=0.001)) is None
    why = spec_mismatch(spec, StreamInfo("pump-7", "fw", 25600, 3, scale=0.001))
    assert "3 channels, the bundle expects 4" in why and "25600 Hz, the bundle expects 20000 Hz" in why


def test_unusable_journal_is_refused_with_the_path(tmp_path, capsys, monkeypatch):
    from edge_agent.cli import run as service_cli

    monkeypatch.setattr(service_cli, "setup_logging", lambda level: None)  # keep pytest's logging
    not_db = tmp_path / "notes.sqlite"
    not_db.write_text("this is not a database\n")
    assert cli.main(["run", "--learn", "--port", str(tmp_path / "none"), "--journal", str(not_db)]) == 2
    err = capsys.readouterr().err
    assert f"{not_db}: cannot open the journal: file is not a database" in err
    assert not_db.read_text() == "this is not a database\n"  # nothing lost
