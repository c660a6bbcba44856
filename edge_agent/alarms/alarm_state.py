"""What the agent shows: normal, alarm (latched until acknowledged), sensor fault, learning.

The scorer's debounced alarm says whether the bearing looks abnormal *now*;
a person must still notice it. So an alarm **latches**: once raised it keeps
the relay energised and the status LED steady until someone acknowledges it
(button or ``bearing-agent ack``), even if the condition clears meanwhile at
3 a.m. Acknowledging silences the buzzer; the alarm then ends as soon as the
condition is also clear. A sensor fault (no valid data, too many bad frames,
device gone) is shown separately, because "no alarm" from a sensor that is
not delivering data means nothing.

Precedence of what the LED shows: alarm > fault > learning > normal. An
alarm is never hidden by a later fault.
"""
from __future__ import annotations

from dataclasses import dataclass

NORMAL, ALARM, FAULT, LEARNING = "normal", "alarm", "fault", "learning"

#: (event kind, detail) tuples returned by the transitions, for the journal.
Event = tuple[str, str]


@dataclass
class AlarmState:
    """The latch and fault flags; every transition returns the events it caused."""

    learning: bool = False
    condition: bool = False  # the scorer's debounced alarm, as last reported
    latched: bool = False  # raised and not yet ended (needs ack and a clear condition)
    acknowledged: bool = False
    fault: str | None = None  # reason of the current sensor fault

    @property
    def display(self) -> str:
        if self.latched:
            return ALARM
        if self.fault:
            return FAULT
        return LEARNING if self.learning else NORMAL

    @property
    def buzzer(self) -> bool:
        return self.latched and not self.acknowledged

    @property
    def relay(self) -> bool:
        return self.latched

    def update(self, alarm: bool) -> list[Event]:
        """Feed the scorer's debounced alarm for one scored snapshot."""
        events: list[Event] = []
        if alarm and not self.condition:
            if not self.latched or self.acknowledged:
                events.append(("alarm_raised", "debounced reconstruction error over the threshold"))
            self.latched, self.acknowledged = True, False
        elif not alarm and self.condition:
            if self.acknowledged:
                events.append(("alarm_cleared", "condition cleared after acknowledgement"))
                self.latched, self.acknowledged = False, False
            else:
                events.append(("alarm_condition_cleared", "condition cleared; alarm stays latched until acknowledged"))
        self.condition = bool(alarm)
        return events

    def acknowledge(self, source: str) -> list[Event]:
        """A person saw the alarm: silence it, and end it if the condition is already clear."""
        if not self.latched or self.acknowledged:
            return [("ack_ignored", f"acknowledge from {source}: no unacknowledged alarm")]
        events: list[Event] = [("alarm_acknowledged", f"by {source}")]
        if self.condition:
            self.acknowledged = True
        else:
            self.latched = False
            events.append(("alarm_cleared", "acknowledged after the condition cleared"))
        return events

    def set_fault(self, reason: str | None) -> list[Event]:
        """Enter (reason given) or leave (None) the sensor-fault state."""
        if reason and not self.fault:
            self.fault = reason
            return [("sensor_fault_begin", reason)]
        if not reason and self.fault:
            was, self.fault = self.fault, None
            return [("sensor_fault_end", f"valid data again (was: {was})")]
        if reason:
            self.fault = reason  # still faulty, possibly for a new reason: no new event
        return []

    def to_dict(self) -> dict:
        return {"condition": self.condition, "latched": self.latched, "acknowledged": self.acknowledged}

    def restore(self, d: dict) -> None:
        """Take back the latch after a restart: an unacknowledged alarm survives a power cut."""
        self.condition = bool(d.get("condition", False))
        self.latched = bool(d.get("latched", False))
        self.acknowledged = bool(d.get("acknowledged", False))
