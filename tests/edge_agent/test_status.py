"""edge_agent.status: running or not from the heartbeat, the status dict, and a queued acknowledgement."""
from __future__ import annotations

import time

import pytest

from edge_agent.journal import Journal, JournalError
from edge_agent.status import STALE_S, acknowledge, agent_running, collect_status, open_journal


@pytest.mark.parametrize("heartbeat, running", [  # "time" is an age: the heartbeat is made when the test runs
    ({}, False),
    ({"time": 0, "pid": 1}, True),
    ({"time": 0, "pid": 1, "stopped": True}, False),  # a clean stop
    ({"time": STALE_S + 5, "pid": 1}, False),  # killed: the heartbeat went stale
])
def test_agent_running_reads_the_heartbeat(heartbeat, running):
    # (Made at collection, a "fresh" heartbeat went stale when the suite took longer than STALE_S to get here.)
    heartbeat = {**heartbeat, "time": time.time() - heartbeat["time"]} if heartbeat else heartbeat
    assert agent_running(heartbeat) is running


def test_collect_status_of_a_fresh_journal_and_one_with_an_agent(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    empty = collect_status(j)
    assert (empty["running"], empty["agent"], empty["heartbeat_age_s"], empty["snapshots"]) == (False, {}, None, [])
    j.set_state(heartbeat={"time": time.time() - 3, "pid": 7}, alarm={"latched": True})
    j.event("start", "test")
    status = collect_status(j, last=5)
    j.close()
    assert status["running"] is True and status["agent"]["pid"] == 7 and status["alarm"] == {"latched": True}
    assert 3 <= status["heartbeat_age_s"] < STALE_S
    assert [e["kind"] for e in status["events"]] == ["start"]


def test_acknowledge_queues_a_request_and_reports_what_the_journal_said(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    j.set_state(heartbeat={"time": time.time(), "pid": 1}, alarm={"latched": True})
    ack = acknowledge(j, "status page")
    assert (ack.alarm_latched, ack.agent_running) == (True, True)
    assert [(k, s) for _, k, s in j.take_requests()] == [("ack", "status page")]
    j.set_state(heartbeat={"time": time.time(), "pid": 1, "stopped": True}, alarm={"latched": False})
    assert acknowledge(j) == type(ack)(alarm_latched=False, agent_running=False)
    j.close()


def test_open_journal_never_creates_one(tmp_path):
    with pytest.raises(JournalError, match="no journal here"):
        open_journal(tmp_path / "none.sqlite")
    assert not (tmp_path / "none.sqlite").exists()
    config = tmp_path / "agent.toml"
    Journal(tmp_path / "there.sqlite").close()
    config.write_text(f'[journal]\npath = "{tmp_path / "there.sqlite"}"\n')
    journal = open_journal(config=config)  # --journal wins over --config, the config over the default
    assert str(journal.path) == str(tmp_path / "there.sqlite")
    journal.close()


def test_a_heartbeat_from_a_clock_that_stepped_back_is_not_a_running_agent():
    """Issue 21 #3: after the wall clock stepped back, a dead agent was shown running for as long as the step."""
    from edge_agent.liveness import heartbeat_age

    # an older agent (no boot id): the heartbeat's time is now an hour in the future
    future = {"time": time.time() + 3600, "pid": 1}
    assert not agent_running(future) and heartbeat_age(future) is None


def test_a_heartbeat_with_the_boot_and_monotonic_clock_is_judged_by_them():
    """Issue 21 #3: the same boot: the monotonic age and the pid decide; the wall clock does not."""
    import os
    import subprocess
    import sys

    from edge_agent.liveness import heartbeat_age, stamp

    mine = {"time": time.time() - 10 * 86400, "pid": os.getpid(), **stamp()}  # the wall clock jumped 10 days
    assert agent_running(mine) and 0 <= heartbeat_age(mine) < 1
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = {**mine, "pid": int(dead.stdout)}  # its process has exited: not running, however fresh
    assert not agent_running(gone)
    stale = {**mine, "monotonic": time.monotonic() - STALE_S - 1, "time": time.time()}
    assert not agent_running(stale)  # stale by the monotonic clock, however fresh the wall clock says
    other_boot = {**mine, "boot_id": "00000000-0000-0000-0000-000000000000"}
    assert not agent_running(other_boot) and heartbeat_age(other_boot) is None
