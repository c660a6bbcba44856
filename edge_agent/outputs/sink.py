"""Where the agent's results go: one interface for every output.

A sink receives each journaled snapshot row, each event and each change of
the shown state. The GPIO outputs and the journal are the first two sinks;
a publisher (MQTT, metrics) is one more module implementing this interface.
"""
from __future__ import annotations

from typing import Any, Protocol


class Sink(Protocol):
    """The outputs' contract (first sketch; shaped by the agent split)."""

    def on_snapshot(self, row: Any) -> None: ...

    def on_event(self, event: Any) -> None: ...

    def on_state(self, state: Any) -> None: ...

    def close(self) -> None: ...
