"""Issue 11 #7, end to end: the journal's filesystem fills up during a replay and is freed again.

The real replay on a pty, the real bundle, the agent's loop, its journal on a
2 MB tmpfs of its own. The filesystem is filled to the last byte after the
6th snapshot and freed after the 22nd, from the agent's own ``on_snapshot``
hook (so exactly there, however loaded the machine). What must hold: the agent
scores all 25, the relay follows the alarm exactly as offline scoring decides
it (on from the first alarm, never switched off by the journal), the LED shows
the journal fault while there is no alarm, and once there is room the rows
queued meanwhile are in the journal, in order, scored as offline.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from edge_agent.journal import Journal
from edge_agent.outputs.gpio import StatusOutputs
from edge_agent.service import Agent
from tests.agent_fixtures import ReplayThread, agent_config, raw_test2_files, wait_for
from tests.filesystems import fill, small_tmpfs

N = 20480
RELAY = 22
FILL_AFTER, FREE_AFTER = 5, 21  # snapshot indexes (0-based) after which the disk is filled / freed


@pytest.fixture
def journal_fs(tmp_path):
    with small_tmpfs(tmp_path / "fs", "2m") as fs:
        yield fs


def read_journal(path: Path) -> tuple[list[dict], list[dict], dict]:
    j = Journal.open_readonly(path)
    try:
        return j.snapshots(), j.events(last=1000), j.counters()
    finally:
        j.close()


def test_a_full_journal_disk_never_stops_the_scoring_or_the_relay_and_loses_no_row(tmp_path, journal_fs,
                                                                                   agent_bundle):
    factory = MockFactory()
    seen: list[tuple[int, bool, str, str | None]] = []  # (first_index, relay pin, LED pattern, journal fault)
    filler: list[Path] = []

    def on_snapshot(row, agent):
        gpio = next(s for s in agent.sinks if isinstance(s, StatusOutputs))
        seen.append((row.first_index, factory.pin(RELAY).state, gpio.pattern, agent.journal.fault))
        if len(seen) == FILL_AFTER + 1:
            filler.append(fill(journal_fs))
        elif len(seen) == FREE_AFTER + 1:
            filler[0].unlink()

    link = tmp_path / "ttyBEARING"
    replay = ReplayThread(raw_test2_files(), link, speed=0).start()
    config = agent_config(tmp_path, str(link), bundle=agent_bundle, journal={"path": str(journal_fs / "j.sqlite")})
    agent = Agent(config, pin_factory=factory, on_snapshot=on_snapshot)
    thread = agent.start()
    try:
        wait_for(lambda: len(seen) == 25, 120, "25 snapshots scored")
        # with room again, the next write (a snapshot, or the 10 s flush) takes the queue
        wait_for(lambda: len(read_journal(journal_fs / "j.sqlite")[0]) == 25, 60, "the queued rows journaled")
        assert thread.is_alive()
    finally:
        agent.stop()
        thread.join(120)
        replay.close()
    assert not thread.is_alive()

    rows, events, counters = read_journal(journal_fs / "j.sqlite")
    assert [r["first_index"] for r in rows] == [k * N for k in range(25)]  # every row, in order
    assert [r["first_index"] for r in rows] == [i for i, *_ in seen]
    # the journal was really refused while full
    assert any(fault and "full" in fault for *_, fault in seen[FILL_AFTER + 2:FREE_AFTER + 1])
    # scores: the agent went on with the model's window through the outage (T = 2: from the 2nd row)
    scored = [r for r in rows if r["error"] is not None]
    assert len(scored) == 24
    # the relay is exactly the latched Danger of the journaled decisions ([levels] relay_on = "danger"), through the
    # outage too; the LED shows the latched alarm (blinking at Alert, steady at Danger)
    latched = list(np.logical_or.accumulate([bool(r["alarm"]) for r in rows]))
    expected_relay = list(np.logical_or.accumulate([r["level"] == "danger" for r in rows]))
    assert any(expected_relay[FILL_AFTER + 1:FREE_AFTER + 1]), "no Danger during the outage: nothing proven"
    assert [relay for _, relay, _, _ in seen] == expected_relay
    # the LED: the alarm wins; else the journal fault, from the write that failed (seen after it) to the one that
    # worked again, so each snapshot shows the fault as it was after the previous one's write or after its own
    for k, ((_, relay, pattern, fault), alarm, danger) in enumerate(zip(seen, latched, expected_relay)):
        alarm_pattern = "alarm" if danger else "alert"
        shown = {alarm_pattern if alarm else "fault" if f else "normal" for f in (fault, seen[k - 1][3] if k else None)}
        assert pattern in shown, (k, pattern, shown)
    assert "fault" in [p for (_, _, p, _), alarm in zip(seen, latched) if not alarm]
    kinds = [e["kind"] for e in events]
    assert kinds.index("journal_fault_begin") < kinds.index("journal_fault_end") < kinds.index("stop")
    assert kinds[-1] == "stop" and events[-1]["detail"] == "clean stop"
    assert "crash" not in kinds and counters.get("journal_rows_dropped", 0) == 0
    faults = [e["detail"] for e in events if e["kind"] == "sensor_fault_begin"]
    assert any(d.startswith("journal cannot be written") for d in faults)
