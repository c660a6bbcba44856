"""The alarm latch: raised, acknowledged, cleared; a fault never hides an alarm."""
from __future__ import annotations

from edge_agent.alarms.alarm_state import AlarmState


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
