"""``bearing-agent ack``: queue an acknowledgement, and say whether an agent will apply it now."""
from __future__ import annotations

import json
import time

from edge_agent.cli import main as cli
from edge_agent.journal import Journal


def test_status_and_ack_tell_a_stale_or_stopped_agent_from_a_running_one(tmp_path, capsys):
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    j.set_state(alarm={"latched": True, "acknowledged": False})
    for heartbeat, running in [({"time": time.time(), "pid": 1}, True),
                               ({"time": time.time(), "pid": 1, "stopped": True}, False),
                               ({"time": time.time() - 60, "pid": 1}, False)]:
        j.set_state(heartbeat=heartbeat)
        assert cli.main(["status", "--journal", str(path), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["running"] is running
        assert cli.main(["ack", "--journal", str(path)]) == 0
        assert ("does not seem to be running" in capsys.readouterr().out) is not running
    j.close()


def test_ack_reads_the_latch_first_and_queues_only_what_the_agent_would_apply(tmp_path, capsys):
    """Issue 21 #26: it said "queued; applied within about a second" (rc 0) also when the agent would ignore it."""
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    j.set_state(alarm={"latched": True, "acknowledged": False})
    assert cli.main(["ack", "--journal", str(path)]) == 0
    assert "acknowledgement queued; the agent applies it" in capsys.readouterr().out
    assert [(k, s) for _, k, s in j.take_requests()] == [("ack", "command line")]
    j.set_state(alarm={"latched": False})
    assert cli.main(["ack", "--journal", str(path)]) == 1
    assert capsys.readouterr().out == "nothing to acknowledge: no alarm is latched\n"
    j.set_state(alarm={"latched": True, "acknowledged": True})
    assert cli.main(["ack", "--journal", str(path)]) == 1
    assert "nothing to acknowledge: the alarm is already acknowledged" in capsys.readouterr().out
    assert j.take_requests() == []  # nothing queued for the agent to ignore
    j.close()


def test_status_shows_the_latch_as_journaled_not_the_heartbeats_older_copy(tmp_path, capsys):
    """Issue 21 #26: after an acknowledgement status said "NOT acknowledged" for seconds (the heartbeat's copy)."""
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    j.set_state(heartbeat={"time": time.time(), "pid": 1, "display": "alarm", "alarm_latched": True,
                           "alarm_acknowledged": False},
                alarm={"latched": True, "acknowledged": True, "condition": True})  # applied, heartbeat not flushed
    j.close()
    assert cli.main(["status", "--journal", str(path)]) == 0
    out = capsys.readouterr().out
    assert "alarm latched, acknowledged" in out and "NOT acknowledged" not in out


def test_ack_with_the_agent_stopped_does_not_promise_it_within_a_second(tmp_path, capsys):
    """Issue 11 #22: it said both "applies it within a second" and "does not seem to be running"."""
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    for _ in range(2):
        j.set_state(alarm={"latched": True}, heartbeat={"time": time.time(), "pid": 1, "stopped": True})
        assert cli.main(["ack", "--journal", str(path)]) == 0
        out = capsys.readouterr().out
        assert "within about a second" not in out and "when it starts" in out and len(out.splitlines()) == 1
        j.set_state(heartbeat={"time": time.time(), "pid": 1})
        assert cli.main(["ack", "--journal", str(path)]) == 0
        out = capsys.readouterr().out
        assert "within about a second" in out and "not seem to be running" not in out
    j.close()
