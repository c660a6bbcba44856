"""Issue 11 #7: how a run ends in the journal: a clean stop says so, an error never claims it."""
from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory

from edge_agent.config import parse_config
from edge_agent.journal import Journal
from edge_agent.status import agent_running, collect_status


def config(tmp_path):
    return parse_config({"agent": {"learn": True}, "serial": {"port": str(tmp_path / "no-such-device")},
                         "gpio": {"pin_factory": "mock"}, "journal": {"path": str(tmp_path / "j.sqlite")},
                         "learning": {"samples_per_snapshot": 1024}}, "<test>")


def test_a_loop_ended_by_an_error_is_journaled_as_a_crash_and_the_next_start_as_a_restart(tmp_path, monkeypatch):
    from edge_agent.service import Agent

    agent = Agent(config(tmp_path), pin_factory=MockFactory())

    def broken_poll():
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    monkeypatch.setattr(agent.boards[0], "poll", broken_poll)
    with pytest.raises(OverflowError):
        agent.run()
    j = Journal.open_readonly(tmp_path / "j.sqlite")
    last = j.events(last=1)[0]
    status = collect_status(j)
    j.close()
    assert last["kind"] == "crash" and "OverflowError: Python int too large" in last["detail"]
    assert "clean stop" not in last["detail"]
    assert not status["agent"].get("stopped")  # status: "not running", never "stopped"

    again = Agent(config(tmp_path), pin_factory=MockFactory())
    again.stop()
    again.run()
    j = Journal.open_readonly(tmp_path / "j.sqlite")
    kinds = [e["kind"] for e in j.events(last=3)]
    heartbeat = j.get_state("heartbeat")
    j.close()
    assert kinds == ["restart", "start", "stop"]
    assert heartbeat["stopped"] is True and not agent_running(heartbeat)
