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
alarm is never hidden by a later fault; the fault stays a fact of its own
(:attr:`AlarmState.fault`) that every reader shows beside the alarm.

An alarm has a level (:mod:`edge_agent.scoring.levels`): **alert** (plan
maintenance) or **danger** (act now). The latch keeps the highest level reached
until it ends; the relay and the buzzer follow ``[levels] relay_on`` and
``buzzer_on`` (both ``danger`` by default: an Alert lights the LED in its own
rhythm, a Danger also switches the relay and sounds the buzzer). A latched
alarm also keeps the diagnosis of the snapshot that raised it, and counts the
diagnoses over the alarm, so what is shown is the alarm's, not the newest row's.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from edge_agent.scoring.level_names import LEVELS, rank

NORMAL, ALARM, FAULT, LEARNING = "normal", "alarm", "fault", "learning"

#: (event kind, detail) tuples returned by the transitions, for the journal.
Event = tuple[str, str]


#: An ``ack_ignored`` event at most this often.
IGNORED_EVERY_S = 60.0


@dataclass
class AlarmState:
    """The latch and fault flags; every transition returns the events it caused."""

    learning: bool = False
    condition: bool = False  # the scorer's debounced alarm, as last reported
    latched: bool = False  # raised and not yet ended (needs ack and a clear condition)
    acknowledged: bool = False
    fault: str | None = None  # reason of the current sensor fault
    level: str = "normal"  # the scorer's level, as last reported
    latched_level: str = "normal"  # the highest level since the alarm was raised
    relay_on: str = "danger"  # the lowest latched level that energises the relay ([levels] relay_on)
    buzzer_on: str = "danger"  # ... and sounds the buzzer until acknowledged ([levels] buzzer_on)
    diagnosis: str | None = None  # of the snapshot that raised the alarm (or the first clear one in it)
    diagnoses: dict[str, int] = field(default_factory=dict)  # every clear diagnosis over the alarm, counted
    #: when an ``ack_ignored`` was last returned (monotonic), and the ignored ones since: a flood of
    #: acknowledgements is one event a minute, not one each (issue 21 #5)
    _ignored_at: float = field(default=-float("inf"), repr=False, compare=False)
    _ignored_since: int = field(default=0, repr=False, compare=False)

    @property
    def display(self) -> str:
        if self.latched:
            return ALARM
        if self.fault:
            return FAULT
        return LEARNING if self.learning else NORMAL

    @property
    def buzzer(self) -> bool:
        return (self.latched and not self.acknowledged and self.buzzer_on != "never"
                and _at_least(self.latched_level, self.buzzer_on))

    @property
    def relay(self) -> bool:
        return self.latched and _at_least(self.latched_level, self.relay_on)

    @property
    def dominant_diagnosis(self) -> str | None:
        """The diagnosis most snapshots of this alarm had (the first one on a tie), or None."""
        return max(self.diagnoses, key=self.diagnoses.get) if self.diagnoses else None

    def update(self, alarm: bool, level: str | None = None, diagnosis: str | None = None,
               why: str = "debounced reconstruction error over the threshold") -> list[Event]:
        """Feed the scorer's verdict for one judged snapshot: in alarm or not, its level (alert or danger;
        default danger, the old rule's), its diagnosis in words when it has a clear one, and why."""
        level = level if level in LEVELS else ("danger" if alarm else "normal")
        events: list[Event] = []
        if alarm and not self.condition:
            if not self.latched or self.acknowledged:
                events.append(("alarm_raised", f"{level}: {why}"))
                self.diagnosis, self.diagnoses, self.latched_level = diagnosis, {}, level
            self.latched, self.acknowledged = True, False
        elif alarm and self.latched and _at_least(level, self.latched_level) and level != self.latched_level:
            events.append(("alarm_escalated", f"{self.latched_level} -> {level}: {why}"))
            self.acknowledged = False  # a danger after an acknowledged alert must be heard again
        elif not alarm and self.condition:
            if self.acknowledged:
                events.append(("alarm_cleared", "condition cleared after acknowledgement"))
                self._end()
            else:
                events.append(("alarm_condition_cleared", "condition cleared; alarm stays latched until acknowledged"))
        if self.latched and _at_least(level, self.latched_level):
            self.latched_level = level
        if self.latched and alarm and diagnosis:
            self.diagnosis = self.diagnosis or diagnosis
            self.diagnoses[diagnosis] = self.diagnoses.get(diagnosis, 0) + 1
        self.condition, self.level = bool(alarm), level
        return events

    def _end(self) -> None:
        self.latched, self.acknowledged = False, False
        self.latched_level, self.diagnosis, self.diagnoses = "normal", None, {}

    def acknowledge(self, source: str) -> list[Event]:
        """A person saw the alarm: silence it, and end it if the condition is already clear."""
        if not self.latched or self.acknowledged:
            self._ignored_since += 1
            now = time.monotonic()
            if now - self._ignored_at < IGNORED_EVERY_S:
                return []
            more = f" ({self._ignored_since - 1} more since the last such event)" if self._ignored_since > 1 else ""
            self._ignored_at, self._ignored_since = now, 0
            return [("ack_ignored", f"acknowledge from {source}: no unacknowledged alarm{more}")]
        events: list[Event] = [("alarm_acknowledged", f"by {source}")]
        if self.condition:
            self.acknowledged = True
        else:
            self._end()
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
        return {"condition": self.condition, "latched": self.latched, "acknowledged": self.acknowledged,
                "level": self.level, "latched_level": self.latched_level, "diagnosis": self.diagnosis,
                "diagnoses": dict(self.diagnoses)}

    def restore(self, d: dict) -> None:
        """Take back the latch after a restart: an unacknowledged alarm survives a power cut."""
        self.condition = bool(d.get("condition", False))
        self.latched = bool(d.get("latched", False))
        self.acknowledged = bool(d.get("acknowledged", False))
        # a latch journaled before the levels was the old rule's alarm: danger
        self.level = d.get("level") if d.get("level") in LEVELS else ("danger" if self.condition else "normal")
        latched_level = d.get("latched_level")
        self.latched_level = latched_level if latched_level in LEVELS else ("danger" if self.latched else "normal")
        self.diagnosis = d.get("diagnosis") if isinstance(d.get("diagnosis"), str) else None
        diagnoses = d.get("diagnoses")
        self.diagnoses = {str(k): int(v) for k, v in diagnoses.items() if isinstance(v, int)} \
            if isinstance(diagnoses, dict) else {}


def _at_least(level: str, other: str) -> bool:
    return rank(level) >= rank(other)
