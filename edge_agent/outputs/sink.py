"""Where the agent's results go: one interface for every output.

A sink receives, in the agent's loop thread:

* ``on_snapshot(row)``: each snapshot, scored or (learning mode) recorded, as
  the :class:`~edge_agent.journal.SnapshotRow` the journal stores;
* ``on_event(event)``: each :class:`Event` (start, alarm raised, sensor fault, ...);
* ``on_state(state)``: the :class:`Shown` state, after anything that may have
  changed it (often: a sink must make an unchanged state cheap);
* ``close()``: once, at a clean stop.

The GPIO outputs (:mod:`edge_agent.outputs.gpio`) and the journal
(:mod:`edge_agent.outputs.journal_sink`) are the first two sinks; the agent
builds its sinks from :data:`edge_agent.outputs.factory.SINK_FACTORIES`, so a
publisher (MQTT, metrics) is one more module implementing this interface,
one config section, and one entry in that list: nothing in the loop.

The contract: **a failing sink never stops another sink.** :class:`Sinks`
calls every sink in order, whatever an earlier one raised; a sink that raises
is logged (with a traceback the first time per method) and called again next
time. A sink must not block the loop for long: the serial stream is read by
the same thread. (Retries, disabling a broken sink and reporting it are the
hardening issue's; this is the contract they build on.)
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from firmware_io.errors import BearingEdgeError

if TYPE_CHECKING:
    from edge_agent.journal import SnapshotRow

log = logging.getLogger("edge_agent")


class SinkError(BearingEdgeError, RuntimeError):
    """A sink cannot be set up (pins in use, no permission); the message says what to check."""


@dataclass(frozen=True)
class Event:
    """Something that happened, for the journal's events table and any publisher."""

    kind: str  # e.g. "alarm_raised", "sensor_fault_begin", "bundle_loaded"
    detail: str
    bundle_id: str | None  # the bundle running when it happened (None in learning mode)
    time: float = field(default_factory=time.time)  # unix seconds


@dataclass(frozen=True)
class Shown:
    """What the outputs show: the LED's state (normal / alarm / fault / learning), buzzer, relay."""

    display: str
    buzzer: bool
    relay: bool
    #: the latched alarm's level (alert or danger; normal without an alarm): the LED blinks an Alert
    level: str = "normal"


class Sink(Protocol):
    """The outputs' contract (see the module docstring)."""

    def on_snapshot(self, row: SnapshotRow) -> None: ...

    def on_event(self, event: Event) -> None: ...

    def on_state(self, state: Shown) -> None: ...

    def close(self) -> None: ...


class Sinks:
    """Every sink behind one: each call goes to each sink in order; a failure stops none of the others."""

    def __init__(self, sinks: list[Sink]) -> None:
        self.sinks = list(sinks)
        self._failed: set[tuple[int, str]] = set()  # (sink, method) already logged with a traceback

    def __iter__(self):
        return iter(self.sinks)

    def on_snapshot(self, row: SnapshotRow) -> None:
        self._each("on_snapshot", row)

    def on_event(self, event: Event) -> None:
        self._each("on_event", event)

    def on_state(self, state: Shown) -> None:
        self._each("on_state", state)

    def close(self) -> None:
        self._each("close")

    def _each(self, method: str, *args: object) -> None:
        for sink in self.sinks:
            try:
                getattr(sink, method)(*args)
            except Exception as exc:  # the contract: the next sink still runs
                first = (id(sink), method) not in self._failed
                self._failed.add((id(sink), method))
                log.error("output %s.%s failed: %s: %s", type(sink).__name__, method, type(exc).__name__, exc,
                          exc_info=first)
