"""Issue 24 #4 and #6: the real agent diagnoses the alarming snapshots of IMS test 2 from the physics, and only
after their outputs are set.

The agent runs the session's bundle (mean |x|, T = 2, converted with ``--physics-baseline`` on the healthy
bundled snapshots and ``--bearing ims``) on the 25 bundled IMS test-2 snapshots, replayed over a pty. One
more output sink, appended after the GPIO sink, records at each call how many physics diagnoses the agent
has run so far: the outputs of a snapshot are set (``on_state``) and its row journaled (``on_snapshot``)
before its diagnosis, or a diagnosis count would already have moved there. The order is observed, not timed.
"""
from __future__ import annotations

import pytest

from edge_agent.diagnosis.on_alarm import EVENT
from edge_agent.journal import Journal
from edge_agent.outputs.factory import SINK_FACTORIES
from edge_agent.service import Agent
from tests.agent_fixtures import bundle_dir, raw_test2_files, replay_into_agent


class OrderSink:
    """An output that notes, at every call, the agent's count of physics diagnoses run so far."""

    def __init__(self) -> None:
        self.agent: Agent | None = None
        self.calls: list[tuple] = []

    def _count(self) -> int:
        return self.agent.on_alarm.diagnosed if self.agent is not None else 0

    def on_state(self, state) -> None:
        self.calls.append(("outputs", state.display, self._count()))

    def on_snapshot(self, row) -> None:
        self.calls.append(("row", row.time, row.level, self._count()))

    def on_event(self, event) -> None:
        if event.kind == EVENT:
            self.calls.append(("diagnosis", event.detail, self._count()))

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("physics-agent")
    sources = raw_test2_files()
    sink = OrderSink()
    after: list[tuple] = []
    replay_into_agent(tmp, sources, bundle_dir(root=tmp_path_factory.mktemp("b")),
                      lambda row, a: after.append((row.time, a.on_alarm.diagnosed)), lambda: len(after) >= len(sources),
                      before_start=lambda agent: setattr(sink, "agent", agent),
                      sink_factories=[*SINK_FACTORIES, lambda context: sink])
    return {"sink": sink, "after": after, "journal": tmp / "journal.sqlite"}


def test_each_diagnosis_runs_after_its_snapshots_outputs_are_set_and_its_row_journaled(run):
    sink, after = run["sink"], run["after"]
    rows = [c for c in sink.calls if c[0] == "row"]
    assert len(rows) == len(after) == 25
    before = 0
    for (_, t, level, at_row), (t_after, count_after) in zip(rows, after):
        assert t == t_after
        # nothing ran between the previous snapshot's end and this one's journaled row (its outputs set before it)
        assert at_row == before, f"a diagnosis ran before the outputs of the snapshot at {t} were set"
        assert count_after - at_row in (0, 1)
        before = count_after
    diagnosed = [(t, level) for (_, t, level, at_row), (_, count_after) in zip(rows, after) if count_after > at_row]
    assert diagnosed and all(level in ("alert", "danger") for _, level in diagnosed)
    # the first alarm: its outputs showed the alarm while no diagnosis had run yet; the diagnosis came after
    first_alarm = next(i for i, c in enumerate(sink.calls) if c[0] == "outputs" and c[1] == "alarm")
    first_diagnosis = next(i for i, c in enumerate(sink.calls) if c[0] == "diagnosis")
    assert sink.calls[first_alarm][2] == 0 and first_alarm < first_diagnosis


def test_the_failing_end_of_test_2_is_named_outer_race_on_bearing_1_from_the_physics(run):
    details = [c[1] for c in run["sink"].calls if c[0] == "diagnosis"]
    assert details and "outer race (Bearing 1)" in details[0]
    assert sum("outer race" in d for d in details) >= len(details) - 1
    j = Journal.open_readonly(run["journal"])
    try:
        events = [e["detail"] for e in j.events(last=1000, kind=EVENT)]
        physics = j.get_state("physics")
    finally:
        j.close()
    assert events == details  # journaled, with the level it was taken at
    assert events[0].startswith(("at Alert: outer race", "at Danger: outer race"))
    assert physics["part"] == "outer_race" or "outer race" not in events[-1]


def test_status_mqtt_state_and_metrics_show_the_physics_diagnosis_and_the_velocity(run, capsys):
    """The same facts for every reader (edge_agent/facts.py): status, the MQTT state, Prometheus."""
    from prometheus_client import generate_latest

    from edge_agent.cli.main import main
    from edge_agent.facts import condition_states
    from edge_agent.telemetry import payloads
    from edge_agent.telemetry.metrics import TelemetryMetrics

    assert main(["status", "--journal", str(run["journal"])]) == 0
    out = capsys.readouterr().out
    j = Journal.open_readonly(run["journal"])
    try:
        physics, velocity = j.get_state("physics"), j.get_state("vibration")
        heartbeat, last = j.get_state("heartbeat"), j.snapshots(last=1)[0]
        state = payloads.state_message(running=False, heartbeat=heartbeat, last_row=last, counters=j.counters(),
                                       diagnosis=j.latest_diagnosis(), **condition_states(j))
        metrics = TelemetryMetrics("n1")
        metrics.update(j, heartbeat=heartbeat, running=False, counters=j.counters(), last_row=last, backlog={},
                       connected=None, published={})
    finally:
        j.close()
    line = next(line for line in out.splitlines() if line.startswith("physics diagnosis: "))
    assert line.startswith(f"physics diagnosis: outer race, confidence {physics['confidence']:.2f} (envelope spectrum "
                           f"of the {physics['level']} snapshot ")
    assert "against the commissioning baseline): outer race (Bearing 1): line at 2" in line
    speed = next(line for line in out.splitlines() if line.startswith("velocity RMS 10-1000 Hz: "))
    assert f"Bearing 1 {velocity['mm_s'][0]:.2f} mm/s zone {velocity['zones'][0]}" in speed and "group 2" in speed
    assert state["physics_diagnosis"]["part"] == "outer_race" and state["physics_diagnosis"]["available"] is True
    assert state["velocity"]["zones"] == velocity["zones"] and state["velocity"]["mm_s"] == velocity["mm_s"]
    payloads.encode(state)  # strict JSON
    text = generate_latest(metrics.registry).decode()
    assert f'bearing_edge_physics_diagnosis{{channel="Bearing 1",node="n1",part="outer_race"}} ' \
           f'{physics["confidence"]}' in text
    assert f'bearing_edge_velocity_rms_mm_s{{channel="Bearing 1",node="n1"}} {velocity["mm_s"][0]}' in text
    zone = "ABCD".index(velocity["zones"][0]) + 1
    assert f'bearing_edge_iso_zone{{channel="Bearing 1",node="n1"}} {zone:.1f}' in text
