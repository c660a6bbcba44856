"""The Sink contract: every sink gets every call, a failing one stops none of the others."""
from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory

from edge_agent.journal import Journal
from edge_agent.outputs.factory import SINK_FACTORIES
from edge_agent.outputs.sink import Event, Shown, Sinks
from edge_agent.service import Agent
from tests.agent_fixtures import ReplayThread, agent_config, raw_test2_files, wait_for


class Recorder:
    def __init__(self):
        self.rows, self.events, self.states, self.closed = [], [], [], False

    def on_snapshot(self, row):
        self.rows.append(row)

    def on_event(self, event):
        self.events.append(event)

    def on_state(self, state):
        self.states.append(state)

    def close(self):
        self.closed = True


class Broken:
    def __getattr__(self, name):
        def fail(*args):
            raise OSError(f"{name} failed: broker unreachable")
        return fail


def test_a_failing_sink_does_not_stop_the_next_one(caplog):
    recorder = Recorder()
    sinks = Sinks([Broken(), recorder])
    sinks.on_event(Event("start", "test", None))
    sinks.on_state(Shown("normal", False, False))
    sinks.on_snapshot("row")
    sinks.on_snapshot("row")
    sinks.close()
    assert [e.kind for e in recorder.events] == ["start"] and recorder.rows == ["row", "row"]
    assert recorder.states == [Shown("normal", False, False)] and recorder.closed
    assert "output Broken.on_snapshot failed: OSError: on_snapshot failed" in caplog.text


@pytest.mark.parametrize("broken_first", [True, False])
def test_a_sink_added_through_the_factory_gets_every_snapshot_and_a_failing_one_stops_no_journal(
        tmp_path, broken_first):
    recorder = Recorder()
    extra = [lambda context: Broken(), lambda context: recorder]
    factories = (*extra, *SINK_FACTORIES) if broken_first else (*SINK_FACTORIES, *extra)
    link = tmp_path / "ttyBEARING"
    replay = ReplayThread(raw_test2_files()[:3], link, speed=0).start()
    seen = []
    agent = Agent(agent_config(tmp_path, str(link), learn=True), pin_factory=MockFactory(),
                  sink_factories=factories, on_snapshot=lambda row, a: seen.append(row))
    thread = agent.start()
    try:
        wait_for(lambda: len(seen) == 3, 30, "3 snapshots")
    finally:
        agent.stop()
        thread.join(120)
        replay.close()
    assert recorder.rows == seen and recorder.closed
    assert [e.kind for e in recorder.events][:2] == ["start", "device_connected"]
    assert recorder.events[-1].kind == "stop" and recorder.states[-1].display == "learning"
    j = Journal(tmp_path / "journal.sqlite", create=False)
    try:
        assert [r["first_index"] for r in j.snapshots()] == [r.first_index for r in seen]
        assert [e["kind"] for e in j.events(last=100)] == [e.kind for e in recorder.events]
    finally:
        j.close()
