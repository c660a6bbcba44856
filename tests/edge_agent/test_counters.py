"""Cumulative counters: update accumulates, reading changes nothing, earlier runs are added."""
from __future__ import annotations

from edge_agent.counters import Counters


def test_update_accumulates_and_totals_only_read():
    c = Counters({"frames_ok": 100, "starts": 4})
    c.update({"frames_ok": 10, "bytes_in": 500}, source="board0", latest={"device_uptime_ms": 7})
    first = c.totals()
    assert first == {"frames_ok": 110, "bytes_in": 500, "starts": 5, "device_uptime_ms": 7}
    assert c.totals() == first  # reading twice: the same, nothing accumulated
    c.update({"frames_ok": 25, "bytes_in": 800}, source="board0")
    assert c.totals()["frames_ok"] == 125 and c.totals()["bytes_in"] == 800


def test_a_source_that_restarts_from_zero_counts_on_and_sources_add_up():
    c = Counters({})
    c.update({"frames_ok": 50}, source="board0")
    c.update({"frames_ok": 5}, source="board0")  # a new decoder: counts from zero again
    c.update({"frames_ok": 30}, source="board1")
    assert c.totals()["frames_ok"] == 85
