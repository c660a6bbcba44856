"""``bearing-agent diagnose``: the physics diagnosis of the next running snapshot, on request (issue 24 #4)."""
from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory

from edge_agent.cli.main import main
from edge_agent.journal import Journal
from edge_agent.service import Agent
from tests.agent_fixtures import ReplayThread, agent_config, bundle_dir, raw_test2_files, wait_for


def pending(path) -> list[tuple[str, str]]:
    j = Journal(path, create=False)
    try:
        return [(k, s) for k, s in j.db.execute("SELECT kind, source FROM requests WHERE done IS NULL")]
    finally:
        j.close()


def test_a_request_is_queued_once_and_refused_for_a_bundle_that_cannot_diagnose(tmp_path, capsys):
    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    assert main(["diagnose", "--journal", str(path)]) == 0
    assert main(["diagnose", "--journal", str(path)]) == 0
    assert pending(path) == [("diagnose", "command line")]  # a request already waiting is not queued twice
    assert "the agent diagnoses its next running snapshot" in capsys.readouterr().out
    j = Journal(path, create=False)
    j.set_state(physics={"available": False, "why_not": "no physics diagnosis: this bundle carries no ..."})
    j.close()
    assert main(["diagnose", "--journal", str(path)]) == 1
    assert capsys.readouterr().out == "not queued: no physics diagnosis: this bundle carries no ...\n"


def test_the_agent_diagnoses_the_next_running_snapshot_on_request(tmp_path):
    """Healthy snapshots (no alarm): nothing is diagnosed until the request, then the next running one is."""
    sources = raw_test2_files()[:11]
    replay = ReplayThread(sources, tmp_path / "tty", speed=1).start()
    rows = []
    agent = Agent(agent_config(tmp_path, str(tmp_path / "tty"), bundle=bundle_dir(root=tmp_path / "b"),
                               faults={"no_data_timeout_s": 600.0}),
                  pin_factory=MockFactory(), on_snapshot=lambda row, a: rows.append(row))
    thread = agent.start()
    try:
        wait_for(lambda: len(rows) >= 2, 120, "two snapshots")
        assert agent.on_alarm.diagnosed == 0 and all(r.level in (None, "normal") for r in rows)
        assert main(["diagnose", "--journal", str(tmp_path / "journal.sqlite")]) == 0
        wait_for(lambda: agent.on_alarm.diagnosed == 1, 60, "the requested diagnosis")
    finally:
        agent.stop()
        thread.join(30)
        replay.close()
    j = Journal.open_readonly(tmp_path / "journal.sqlite")
    try:
        physics, events = j.get_state("physics"), j.events(last=10, kind="physics_diagnosis")
    finally:
        j.close()
    assert physics["level"] == "request" and physics["part"] in ("outer_race", "inner_race", "rolling_element",
                                                                 "cage", "none")
    assert len(events) == 1 and events[0]["detail"].startswith("requested (command line): ")
