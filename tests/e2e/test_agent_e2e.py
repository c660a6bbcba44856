"""End to end with the real pieces: bearing-replay on a pty -> agent -> TFLite bundle -> SQLite.

The whole of test 2 (984 snapshots) is streamed over ``socket://`` (the other transport a
user has: a sensor on the network): a tty hands the reader at most 4 KiB per read, which
caps any replay through a pty at about 8x real time (~2 min for test 2, and the
commissioning test already streams all of it through a pty); a socket hands over 64 KiB.

The reference for every score is ``bearing-agent score`` run offline on the
features the agent journaled; the reference for every feature is
``mean_abs`` computed here, independently, from the recorded files.
"""
from __future__ import annotations

import csv
import json
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from edge_agent.cli import main as cli
from edge_agent.features.table import read_feature_table
from edge_agent.journal import Journal
from edge_agent.service import Agent
from firmware_io.simulator.faults import FaultConfig
from firmware_io.simulator.replay import Replayer
from edge_agent.outputs.gpio import StatusOutputs
from tests.agent_fixtures import HeldReplay, ReplayThread, agent_config, features_of, raw_test2_files, wait_for
from tests.support.logged_process import LoggedProcess

N = 20480
RELAY, LED = 22, 17


@pytest.fixture(scope="module")
def bundle(agent_bundle) -> Path:
    return agent_bundle


def gpio(agent: Agent) -> StatusOutputs:
    """The agent's GPIO sink (its LED pattern is what the tests read)."""
    return next(s for s in agent.sinks if isinstance(s, StatusOutputs))


def journal_rows(path: Path) -> list[dict]:
    j = Journal(path, create=False)
    try:
        return j.snapshots()
    finally:
        j.close()


def rows_so_far(path: Path) -> list[dict]:
    """The journal's rows while an agent process may still be creating it (no file or no tables yet: none)."""
    from edge_agent.journal import JournalError

    try:
        return journal_rows(path) if path.exists() else []
    except JournalError:
        return []


def journal_events(path: Path, kind: str | None = None) -> list[dict]:
    j = Journal(path, create=False)
    try:
        return j.events(last=10_000, kind=kind)
    finally:
        j.close()


def offline_scores(tmp: Path, journal: Path, bundle: Path) -> dict[str, float]:
    """``bearing-agent export`` then ``bearing-agent score``: timestamp -> error."""
    table, scores = tmp / "exported.csv", tmp / "offline_scores.csv"
    assert cli.main(["export", "--journal", str(journal), "-o", str(table)]) == 0
    assert cli.main(["score", "--bundle", str(bundle), str(table), "-o", str(scores)]) == 0
    with scores.open() as fh:
        return {r["timestamp"]: (float(r["error"]), r["alarm"] == "1") for r in csv.DictReader(fh)
                if r["error"]}  # the first T-1 snapshots have no score


def assert_scores_match_offline(tmp: Path, journal: Path, bundle: Path) -> list[dict]:
    rows = journal_rows(journal)
    offline = offline_scores(tmp, journal, bundle)
    scored = [r for r in rows if r["error"] is not None]
    assert scored, "the agent scored nothing"
    for r in scored:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["time"]))
        assert abs(r["error"] - offline[stamp][0]) <= 1e-6, (stamp, r["error"], offline[stamp])
        assert bool(r["alarm"]) == offline[stamp][1], stamp
    # every snapshot after the first T-1 has a score: none is left out by the agent
    assert len(scored) == len(offline)
    return rows


def assert_features_exact(rows: list[dict], truth) -> None:
    """A journaled snapshot is a whole recorded one: never a partial or a mixed one."""
    for r in rows:
        k = r["first_index"] // N
        assert r["first_index"] == k * N
        np.testing.assert_allclose(r["features"], truth.values[k % len(truth)], rtol=0, atol=1e-12)
        assert r["time"] == truth.timestamps[k % len(truth)].astype("datetime64[s]").astype(int)


def run_in_thread(config, pin_factory=None, on_snapshot=None) -> tuple[Agent, object]:
    agent = Agent(config, pin_factory=pin_factory, on_snapshot=on_snapshot)
    return agent, agent.start()

class SocketSensor:
    """A sensor on the network: the replay's bytes (``speed=0``) served to one ``socket://`` client.

    It sends nothing until :meth:`send_when`'s condition holds (the agent's link is open):
    pyserial's ``socket://`` open ends by discarding what has arrived (``reset_input_buffer``),
    so bytes sent at once after ``accept`` race it, and on a loaded machine it threw away the
    StreamInfo and the first snapshot's frames (2 snapshots of 3 recorded: the test waited
    in vain). A board that streams all the time loses that moment too; a recording of three
    snapshots cannot. It stays connected after the last byte until :meth:`close`, like a
    board that keeps streaming, so the end of the recording is not a lost device.
    """

    def __init__(self, sources) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        host, port = self.server.getsockname()
        self.url = f"socket://{host}:{port}"
        self._done = threading.Event()
        self._ready: Callable[[], bool] | None = None
        threading.Thread(target=self._serve, args=([str(s) for s in sources],), daemon=True).start()

    def send_when(self, ready: Callable[[], bool]) -> "SocketSensor":
        """Start sending once ``ready()`` is true (checked every 20 ms after the client connected)."""
        self._ready = ready
        return self

    def _serve(self, sources: list[str]) -> None:
        conn, _ = self.server.accept()
        with conn:
            while not (self._ready is not None and self._ready()):
                if self._done.wait(0.02):
                    return
            for chunk in Replayer(sources, speed=0).chunks():
                conn.sendall(chunk.data)
            self._done.wait(600)

    def close(self) -> None:
        self._done.set()
        self.server.close()


def replay_all_and_check(tmp_path, sources, bundle, factory, on_snapshot, seen: list, n: int, timeout: float,
                         *, over_socket: bool = False):
    """Replay ``sources`` at full speed into an agent until ``seen`` has ``n`` entries; check the journal.

    Through a pty, or ``over_socket`` (:class:`SocketSensor`). The journal must hold the ``n``
    recorded snapshots in order at their recorded sample positions, each scored exactly like
    offline scoring of the same features.
    """
    if over_socket:
        device = SocketSensor(sources)
        port = device.url
    else:
        port = str(tmp_path / "ttyBEARING")
        device = ReplayThread(sources, Path(port), speed=0).start()
    agent, thread = run_in_thread(agent_config(tmp_path, port, bundle=bundle), factory, on_snapshot)
    if over_socket:
        device.send_when(lambda: agent.boards[0].connected)
    try:
        wait_for(lambda: len(seen) == n, timeout, f"{n} snapshots")
    finally:
        agent.stop()
        thread.join(60)
        device.close()
    rows = assert_scores_match_offline(tmp_path, tmp_path / "journal.sqlite", bundle)
    assert [r["first_index"] for r in rows] == [k * N for k in range(n)]
    return rows



def test_replay_25_files_scores_equal_offline_and_alarm_exact(tmp_path, bundle, truth):
    factory = MockFactory()
    seen = []  # (first_index, relay pin, led pin, led pattern) right after each snapshot

    def on_snapshot(row, agent):
        seen.append((row.first_index, factory.pin(RELAY).state, factory.pin(LED).state, gpio(agent).pattern))

    rows = replay_all_and_check(tmp_path, raw_test2_files(), bundle, factory, on_snapshot, seen, 25, 300)
    assert_features_exact(rows, truth)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert {r["bundle_id"] for r in rows} == {manifest["bundle_id"]}  # every row names its bundle
    # The alarm latches from the first offline alarm on (no one acknowledges); the relay is on exactly from the
    # first snapshot at Danger on ([levels] relay_on = "danger"); the LED blinks while the latch is at Alert.
    alarms = [bool(r["alarm"]) for r in rows]
    latched = list(np.logical_or.accumulate(alarms))
    expected_relay = list(np.logical_or.accumulate([r["level"] == "danger" for r in rows]))
    assert any(expected_relay), "the model never reached Danger on the failure end of test 2"
    assert [relay for _, relay, _, _ in seen] == expected_relay
    for (_, relay, led, pattern), at_alert, at_danger in zip(seen, latched, expected_relay):
        assert pattern == ("alarm" if at_danger else "alert" if at_alert else "normal")
        if at_danger:
            assert led is True  # alarm pattern: steady on
    assert [r["state"] for r in rows] == ["alarm" if x else "normal" for x in latched]
    # stopping switched the outputs off and journaled a clean stop
    assert journal_events(tmp_path / "journal.sqlite")[-1]["kind"] == "stop"
    assert factory.pin(RELAY).state is False


def test_ack_from_command_line_clears_latched_alarm(tmp_path, bundle):
    factory = MockFactory()
    link = tmp_path / "ttyBEARING"
    # the failure end only: alarms within a few snapshots
    replay = ReplayThread(raw_test2_files()[-12:-2], link, speed=0).start()
    scored = []
    agent, thread = run_in_thread(agent_config(tmp_path, str(link), bundle=bundle), factory,
                                  lambda row, a: scored.append(row))
    journal = tmp_path / "journal.sqlite"
    try:
        wait_for(lambda: len(scored) == 10, 300, "10 snapshots")
        assert factory.pin(RELAY).state is True, "the failure end of test 2 should have raised the alarm"
        assert cli.main(["ack", "--journal", str(journal)]) == 0
        wait_for(lambda: journal_events(journal, "alarm_acknowledged"), 60, "the acknowledgement")
        # the condition is still active: relay stays, buzzer silenced
        assert agent.alarm.latched and agent.alarm.acknowledged and not agent.alarm.buzzer
        # the GPIO button acknowledges too (pressed = pulled to ground); a second ack is ignored
        factory.pin(23).drive_low()
        wait_for(lambda: journal_events(journal, "ack_ignored"), 60, "the button press")
    finally:
        agent.stop()
        thread.join(60)
        replay.close()


def test_corrupted_and_dropped_frames_never_score_a_partial_snapshot(tmp_path, bundle, truth):
    link = tmp_path / "ttyBEARING"
    faults = FaultConfig(corrupt_rate=2e-6, drop_rate=0.004, garbage_rate=0.01, seed=3)
    replay = ReplayThread(raw_test2_files(), link, speed=0, faults=faults).start()
    agent, thread = run_in_thread(agent_config(tmp_path, str(link), bundle=bundle))
    try:
        wait_for(lambda: replay.stats is not None, 300, "the replay to finish")
        # every byte written is decoded (a read's snapshots are handled before the loop looks at stop)
        wait_for(lambda: agent.boards[0].decoder.stats.bytes_in == replay.stats.bytes_written, 120,
                 "the agent to decode the whole stream")
    finally:
        agent.stop()
        thread.join(60)
        replay.close()
    journal = tmp_path / "journal.sqlite"
    rows = journal_rows(journal)
    j = Journal(journal, create=False)
    counters = j.counters()
    j.close()
    assert replay.stats.faults["corrupted"] + replay.stats.faults["dropped"] > 0
    assert 0 < len(rows) < 25
    assert counters["snapshots_discarded_gap"] >= 1
    assert counters["bad_checks"] + counters["frames_missing"] > 0
    assert journal_events(journal, "frames_lost")
    assert_features_exact(rows, truth)  # what was scored is exactly a whole recorded snapshot
    assert_scores_match_offline(tmp_path, journal, bundle)


def test_device_disappears_and_comes_back(tmp_path, bundle, truth):
    link = tmp_path / "ttyBEARING"
    faults = FaultConfig(disconnect_every=600, down_time=0.4)
    replay = ReplayThread(raw_test2_files(), link, speed=0, faults=faults).start()
    fault_at = {}  # first_index -> the agent's fault as it handled that snapshot
    agent, thread = run_in_thread(agent_config(tmp_path, str(link), bundle=bundle), None,
                                  lambda row, a: fault_at.__setitem__(row.first_index, a.alarm.fault))
    try:
        wait_for(lambda: replay.stats is not None, 300, "the replay to finish")
        # resumed by itself after the last unplug: the last recorded snapshot arrives, and data
        # flowing again ended the no-data fault (checked as it arrived: 2 s later the stream's end is one)
        wait_for(lambda: 24 * N in fault_at, 120, "the last snapshot")
        assert "no valid data" not in (fault_at[24 * N] or "")
    finally:
        agent.stop()
        thread.join(60)
        replay.close()
    journal = tmp_path / "journal.sqlite"
    assert replay.stats.disconnects >= 3
    lost, back = journal_events(journal, "device_lost"), journal_events(journal, "device_connected")
    assert len(lost) == replay.stats.disconnects and len(back) == replay.stats.disconnects + 1
    assert len(journal_events(journal, "sensor_fault_begin")) >= 1
    assert len(journal_events(journal, "sensor_fault_end")) >= 1
    rows = journal_rows(journal)
    assert rows[-1]["first_index"] == 24 * N  # resumed by itself after the last unplug
    assert len(rows) >= 25 - replay.stats.disconnects  # at most one snapshot lost per unplug
    assert_features_exact(rows, truth)
    assert_scores_match_offline(tmp_path, journal, bundle)


def test_learning_mode_records_features_and_exports_them(tmp_path, truth):
    factory = MockFactory()
    link = tmp_path / "ttyBEARING"
    replay = ReplayThread(raw_test2_files(), link, speed=0).start()
    config = agent_config(tmp_path, str(link), learn=True,
                          learning={"channel_names": ["Bearing 1", "Bearing 2", "Bearing 3", "Bearing 4"]})
    rows = []
    agent, thread = run_in_thread(config, factory, lambda row, a: rows.append(row))
    try:
        wait_for(lambda: len(rows) == 25, 300, "25 snapshots")
        assert gpio(agent).pattern == "learning"
    finally:
        agent.stop()
        thread.join(60)
        replay.close()
    recorded = journal_rows(tmp_path / "journal.sqlite")
    assert all(r["bundle_id"] is None and r["error"] is None and r["state"] == "learning" for r in recorded)
    assert {r["device_id"] for r in recorded} == {"bearing-replay"}
    out = tmp_path / "healthy.csv"
    assert cli.main(["export", "--journal", str(tmp_path / "journal.sqlite"), "--since", "2004-02-12",
                     "--until", "2004-02-13", "-o", str(out)]) == 0
    table = read_feature_table(out)
    day1 = truth.timestamps < np.datetime64("2004-02-13")
    assert table.channel_names == truth.channel_names
    np.testing.assert_array_equal(table.timestamps, truth.timestamps[day1])
    np.testing.assert_array_equal(table.values, truth.values[day1])  # repr floats: bit-exact


def run_until(config, replay: ReplayThread, predicate, timeout: float, what: str, factory=None) -> Agent:
    agent, thread = run_in_thread(config, factory or MockFactory())
    replay.start()
    try:
        wait_for(lambda: predicate(agent), timeout, what)
    finally:
        agent.stop()
        thread.join(60)
        replay.close()
    return agent


def fault_details(journal: Path) -> list[str]:
    return [e["detail"] for e in journal_events(journal, "sensor_fault_begin")]


def test_sensor_fault_when_the_data_stops(tmp_path, bundle):
    link = tmp_path / "ttyBEARING"
    config = agent_config(tmp_path, str(link), bundle=bundle, faults={"no_data_timeout_s": 0.5})
    replay = ReplayThread(raw_test2_files()[:3], link, speed=0)

    def stopped(agent):  # the replay has ended, the port stays open, nothing arrives
        # The agent's thread sets the state, then the LED: wait for both rather than catch them in between.
        return replay.stats is not None and agent.alarm.display == "fault" and gpio(agent).pattern == "fault"

    # Generous: an emulated ARM CPU (.ci/arm-edge.sh) needs 30-60 s for the 3 snapshots.
    run_until(config, replay, stopped, 180, "the no-data fault on the display and the LED")
    assert any(d.startswith("no valid data for") for d in fault_details(tmp_path / "journal.sqlite"))


def test_sensor_fault_on_a_high_bad_frame_rate(tmp_path, bundle):
    link = tmp_path / "ttyBEARING"
    config = agent_config(tmp_path, str(link), bundle=bundle)
    replay = ReplayThread(raw_test2_files()[:4], link, speed=0, faults=FaultConfig(drop_rate=0.3, seed=1))
    journal = tmp_path / "journal.sqlite"
    run_until(config, replay, lambda a: a.alarm.fault and "bad or lost" in a.alarm.fault, 120, "the bad-frame fault")
    assert any("frames bad or lost in the last 10 s (limit 5%)" in d for d in fault_details(journal))
    assert journal_rows(journal) == []  # 30 % of frames lost: no whole snapshot, nothing scored


def test_stream_that_does_not_match_is_not_recorded(tmp_path):
    link = tmp_path / "ttyBEARING"
    config = agent_config(tmp_path, str(link), learn=True, learning={"channel_names": ["a", "b", "c"]})
    replay = ReplayThread(raw_test2_files()[:2], link, speed=0)
    journal = tmp_path / "journal.sqlite"
    run_until(config, replay, lambda a: replay.stats is not None and a.alarm.fault, 120, "the mismatch fault")
    assert "has 4 channels but [learning] channel_names lists 3" in journal_events(journal, "stream_mismatch")[0]["detail"]
    assert journal_rows(journal) == []


def test_socket_url_works_like_a_serial_device(tmp_path, truth):
    """A sensor on the network: the replay's bytes over TCP, the agent on socket://."""
    sensor = SocketSensor(raw_test2_files()[:3])
    rows = []
    agent, thread = run_in_thread(agent_config(tmp_path, sensor.url, learn=True), MockFactory(),
                                  lambda row, a: rows.append(row))
    sensor.send_when(lambda: agent.boards[0].connected)
    try:
        # Generous: an emulated ARM CPU (.ci/arm-edge.sh) needs 30-60 s for the 3 snapshots.
        wait_for(lambda: len(rows) == 3, 180, "3 snapshots over TCP")
    finally:
        agent.stop()
        thread.join(60)
        sensor.close()
    assert_features_exact(journal_rows(tmp_path / "journal.sqlite"), truth)


def test_agent_never_imports_tensorflow_while_scoring(tmp_path, bundle):
    """The Pi installs only [edge]: import and run the agent's modules, scoring real snapshots."""
    link = tmp_path / "ttyBEARING"
    code = (
        "import sys, threading\n"
        "from edge_agent import service\n"
        "from edge_agent.cli import main as cli, run, status, export, install, score\n"
        "from edge_agent.config import parse_config\n"
        "done = threading.Event(); rows = []\n"
        "cfg = parse_config({'agent': {'bundle': sys.argv[1], 'interval_s': 0}, 'serial': {'port': sys.argv[2]},"
        " 'gpio': {'pin_factory': 'mock'}, 'journal': {'path': sys.argv[3]}})\n"
        "a = service.Agent(cfg, on_snapshot=lambda r, a: (rows.append(r.error), len(rows) == 3 and done.set()))\n"
        "t = a.start(); done.wait(60); a.stop(); t.join()\n"
        "cli.main(['status', '--journal', sys.argv[3]])\n"
        "print('SCORED', rows)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('tensorflow', 'keras', 'sklearn', 'pandas', 'train', 'convert'))\n"
        "print('FORBIDDEN', bad)\n"
    )
    replay = ReplayThread(raw_test2_files()[:3], link, speed=0).start()
    try:
        proc = subprocess.run([sys.executable, "-c", code, str(bundle), str(link), str(tmp_path / "j.sqlite")],
                              capture_output=True, text=True, timeout=120)
    finally:
        replay.close()
    assert proc.returncode == 0, proc.stderr
    assert "SCORED [None, " in proc.stdout  # T = 2: the 2nd and 3rd snapshots were scored by the model
    assert "FORBIDDEN []" in proc.stdout


# --- the agent as a process: refusals, kill -9, SIGHUP ------------------------------------

def agent_cmd(tmp: Path, link: Path, bundle: Path, *extra: str) -> list[str]:
    config = tmp / "agent.toml"
    config.write_text('[gpio]\npin_factory = "mock"\n[serial]\nread_timeout_s = 0.05\n'
                      'reconnect_initial_s = 0.05\nreconnect_max_s = 0.2\n')
    return [sys.executable, "-m", "edge_agent.cli.main", "run", "--config", str(config), "--bundle", str(bundle),
            "--port", str(link), "--journal", str(tmp / "journal.sqlite"), "--interval", "0", *extra]


def test_bad_config_and_bad_bundle_are_refused_at_start(tmp_path, bundle):
    bad_key = tmp_path / "typo.toml"
    bad_key.write_text("[gpio]\nled_pn = 5\n")
    proc = subprocess.run([sys.executable, "-m", "edge_agent.cli.main", "run", "--config", str(bad_key)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"{bad_key}: unknown key [gpio] led_pn" in proc.stderr
    bad_value = tmp_path / "value.toml"
    bad_value.write_text("[agent]\ninterval_s = -5\n")
    proc = subprocess.run([sys.executable, "-m", "edge_agent.cli.main", "run", "--config", str(bad_value)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "[agent] interval_s must be >= 0 and <= 86400 (a day), got -5.0" in proc.stderr
    broken = shutil.copytree(bundle, tmp_path / "broken")
    with (broken / "model_float32.tflite").open("ab") as fh:
        fh.write(b"\0")
    proc = subprocess.run(agent_cmd(tmp_path, tmp_path / "nodevice", broken), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert "cannot load bundle" in proc.stderr and "model_float32.tflite" in proc.stderr
    assert not (tmp_path / "journal.sqlite").exists()  # refused before touching anything


@pytest.mark.slow
def test_kill_9_keeps_the_journal_and_restart_resumes_history(tmp_path, bundle, truth):
    link = tmp_path / "ttyBEARING"
    journal = tmp_path / "journal.sqlite"
    # Held before snapshot 7: the kill lands while snapshot 5 or 6 streams in or is journaled, and the
    # rest waits for the restarted agent (a stream paced in real time could end before the kill, or
    # drop frames when a loaded machine fell 1 s behind it).
    replay = HeldReplay(raw_test2_files(), link, hold_before=(7,))
    cmd = agent_cmd(tmp_path, link, bundle)
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Timeouts are generous: the emulated Pi of .ci/arm-edge.sh runs 10-30x slower than a desktop.
        wait_for(lambda: len(rows_so_far(journal)) >= 5, 300, "5 snapshots")
        first.send_signal(signal.SIGKILL)
        first.wait(60)
        before = len(journal_rows(journal))
        second = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        replay.release()
        try:
            wait_for(replay.finished.is_set, 300, "the replay to finish")
            wait_for(lambda: journal_rows(journal)[-1]["first_index"] == 24 * N, 120, "the last snapshot")
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(120) == 0
    finally:
        replay.close()
    assert sqlite3.connect(journal).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert journal_events(journal, "restart"), "the restart after kill -9 was not journaled"
    rows = journal_rows(journal)
    after = rows[before:]
    assert after, "nothing scored after the restart"
    # history restored: the first snapshot after the restart already has a score (T = 2)
    assert after[0]["error"] is not None
    assert_features_exact(rows, truth)
    assert_scores_match_offline(tmp_path, journal, bundle)


@pytest.mark.slow
def test_sighup_with_broken_bundle_keeps_the_old_one(tmp_path, bundle, truth):
    live = shutil.copytree(bundle, tmp_path / "bundle")
    link = tmp_path / "ttyBEARING"
    journal = tmp_path / "journal.sqlite"
    # the stream waits at snapshots 3 and 8 while the test swaps the bundle: the refusal and the reload
    # happen mid-stream however slow the machine (a stream at 4x real time once ran out first)
    replay = HeldReplay(raw_test2_files(), link, hold_before=(3, 8))
    proc = LoggedProcess(agent_cmd(tmp_path, link, live), tmp_path / "agent.log")
    model = live / "model_float32.tflite"
    good = model.read_bytes()
    try:
        # Timeouts are generous: the emulated Pi of .ci/arm-edge.sh runs 10-30x slower than a desktop.
        wait_for(lambda: len(rows_so_far(journal)) >= 3, 300, "3 snapshots")
        model.write_bytes(good[:-10])  # a half-copied bundle
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: journal_events(journal, "bundle_rejected"), 120, "the rejection")
        n = len(journal_rows(journal))
        replay.release()
        wait_for(lambda: len(journal_rows(journal)) >= n + 2, 120, "scoring to go on")
        model.write_bytes(good)
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: len(journal_events(journal, "bundle_loaded")) == 2, 120, "the reload")
        replay.release()
        wait_for(replay.finished.is_set, 300, "the replay to finish")
        wait_for(lambda: journal_rows(journal)[-1]["first_index"] == 24 * N, 120, "the last snapshot")
    finally:
        proc.stop()
        replay.close()
    rejected = journal_events(journal, "bundle_rejected")[0]["detail"]
    assert "model_float32.tflite" in rejected
    rows = journal_rows(journal)
    # every snapshot scored exactly once, none lost across the two reloads
    assert [r["first_index"] for r in rows] == [k * N for k in range(25)]
    assert len({r["bundle_id"] for r in rows}) == 1
    assert_features_exact(rows, truth)
    assert_scores_match_offline(tmp_path, journal, bundle)


@pytest.mark.slow
def test_full_test2_984_snapshots(tmp_path, bundle, full_npz):
    count = []
    rows = replay_all_and_check(tmp_path, [full_npz], bundle, MockFactory(), lambda row, a: count.append(row),
                                count, 984, 600, over_socket=True)
    truth = features_of([full_npz])
    np.testing.assert_allclose([r["features"] for r in rows], truth.values, rtol=0, atol=1e-12)
    alarms = [bool(r["alarm"]) for r in rows if r["alarm"] is not None]
    assert any(alarms)
