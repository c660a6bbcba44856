"""The agent's counters: cumulative across runs, as ``bearing-agent status`` shows them.

Each source (a sensor board, the agent's own snapshot counts) reports what
it counted during this run; :meth:`Counters.update` accumulates the increase
since its previous reading (a source that starts again from zero, such as a
new decoder, counts from zero again instead of going negative) and
:meth:`Counters.totals` adds what earlier runs journaled. Reading never
changes anything: only ``update`` does.
"""
from __future__ import annotations

#: The largest count the journal holds (SQLite INTEGER is signed 64-bit). A hostile device
#: can claim 2^64 - 1 ticks of uptime or a jump of 2^64 samples: the counter saturates here
#: instead of making the journal write (and the agent) fail.
COUNTER_MAX = (1 << 63) - 1


class Counters:
    """This run's counts on top of ``journaled`` (the journal's counters at start)."""

    def __init__(self, journaled: dict[str, int]) -> None:
        self.journaled = dict(journaled)
        self._run: dict[str, int] = {}  # this run's accumulated count per name
        self._seen: dict[tuple[str, str], int] = {}  # (source, name) -> its last reading
        self._latest: dict[str, int] = {}  # values that are the source's own, not sums

    def update(self, readings: dict[str, int], *, source: str = "agent",
               latest: dict[str, int] | None = None) -> None:
        """Take a source's cumulative ``readings``; ``latest`` values replace the previous ones."""
        for name, value in readings.items():
            value = int(value)
            seen = self._seen.get((source, name), 0)
            self._run[name] = self._run.get(name, 0) + (value - seen if value >= seen else value)
            self._seen[(source, name)] = value
        if latest:
            self._latest.update(latest)

    def totals(self) -> dict[str, int]:
        """Cumulative counters: this run's plus those journaled by earlier runs; this run is one more start."""
        out = {name: self.journaled.get(name, 0) + v for name, v in self._run.items()}
        out["starts"] = self.journaled.get("starts", 0) + 1
        out.update(self._latest)
        return {name: min(value, COUNTER_MAX) for name, value in out.items()}
