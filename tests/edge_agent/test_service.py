"""The agent as a whole, without a stream: what it takes back from the journal at start."""
from __future__ import annotations

from gpiozero.pins.mock import MockFactory

from edge_agent.config import parse_config
from edge_agent.journal import Journal, SnapshotRow


def row(t, first_index, **kw):
    base = dict(time=t, first_index=first_index, stream_id=None, features=[0.1, 0.2], error=None,
                threshold=None, over_threshold=None, alarm=None, state="normal", bundle_id="b1", latency_ms=1.0)
    return SnapshotRow(**{**base, **kw})


def test_restart_resumes_the_cadence_and_features_from_the_journal_rows(tmp_path):
    from edge_agent.service import Agent

    path = tmp_path / "j.sqlite"
    j = Journal(path)
    for k in range(3):
        j.record_snapshot(row(1.7e9 + 600 * k, k * 1024, features=[0.1 * k, 0.2]))
    j.close()
    config = parse_config({"agent": {"learn": True, "interval_s": 600.0},
                           "serial": {"port": str(tmp_path / "no-such-device")}, "gpio": {"pin_factory": "mock"},
                           "journal": {"path": str(path)}, "learning": {"samples_per_snapshot": 1024}}, "<test>")
    agent = Agent(config, pin_factory=MockFactory())
    # the next snapshot is due 600 s after the last journaled one, not at once
    assert agent.boards[0].assembler.last_timestamp == 1.7e9 + 1200
    assert [f.tolist() for f in agent.history] == [[0.0, 0.2], [0.1, 0.2], [0.2, 0.2]]
    agent.stop()
    agent.run()  # start and clean stop: journals the snapshot length that export reports
    j = Journal(path, create=False)
    assert j.get_state("samples_per_snapshot") == 1024
    assert [e["kind"] for e in j.events(last=2)] == ["start", "stop"]
    j.close()


def learning_config(tmp_path, path):
    return parse_config({"agent": {"learn": True, "interval_s": 600.0},
                         "serial": {"port": str(tmp_path / "no-such-device")}, "gpio": {"pin_factory": "mock"},
                         "journal": {"path": str(path)}, "learning": {"samples_per_snapshot": 1024}}, "<test>")


def test_one_agent_per_journal_the_second_names_the_first_and_writes_nothing(tmp_path):
    """Issue 11 #8: a second agent on the same journal used to write restart/start/stop into the first's."""
    import os

    import pytest

    from edge_agent.journal import JournalError
    from edge_agent.service import Agent

    path = tmp_path / "j.sqlite"
    config = learning_config(tmp_path, path)
    first = Agent(config, pin_factory=MockFactory())
    j = Journal(path, create=False)
    before = j.events(last=100), j.counters()
    with pytest.raises(JournalError, match=rf"another agent \(pid {os.getpid()}\) is using this journal") as refused:
        Agent(config, pin_factory=MockFactory())
    assert refused.value.exit_code == 75  # the unit's Restart= retries: the other one may stop
    assert (j.events(last=100), j.counters()) == before
    first.stop()
    first.run()  # a clean stop releases the lock
    second = Agent(config, pin_factory=MockFactory())
    second.stop()
    second.run()
    assert [e["kind"] for e in j.events(last=4)] == ["start", "stop", "start", "stop"]
    j.close()


def test_a_rejected_deploy_is_in_the_heartbeat_at_once_not_at_the_next_flush(tmp_path, real_bundle, monkeypatch):
    """The MQTT state, the page and status read the deploy fact from the heartbeat. A rejected deploy changed no
    snapshot and swapped nothing, so it reached them only with the next periodic flush (up to 10 s; 8.5 s measured
    in tests/e2e/test_deploy_visible_e2e.py), and not at all here, where that flush is an hour away."""
    import shutil

    from edge_agent import service
    from edge_agent.cli import main as cli
    from edge_agent.liveness import agent_running
    from tests.agent_fixtures import agent_config, wait_for

    monkeypatch.setattr(service, "FLUSH_S", 3600.0)
    shutil.copytree(real_bundle, tmp_path / "bundles" / "v1")
    (tmp_path / "bundle").symlink_to("bundles/v1")
    broken = shutil.copytree(real_bundle, tmp_path / "B")
    (broken / "model_float32.tflite").write_bytes((broken / "model_float32.tflite").read_bytes()[:-100])
    journal = tmp_path / "journal.sqlite"
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nbundle = "{tmp_path / "bundle"}"\n[journal]\npath = "{journal}"\n')

    def heartbeat() -> dict:
        j = Journal.open_readonly(journal)
        try:
            return j.get_state("heartbeat") or {}
        finally:
            j.close()

    agent = service.Agent(agent_config(tmp_path, str(tmp_path / "no-device"), bundle=tmp_path / "bundle"),
                          pin_factory=MockFactory())
    thread = agent.start()
    try:
        wait_for(lambda: journal.exists() and agent_running(heartbeat()), 60, "the agent's first heartbeat")
        assert heartbeat()["deploy"]["phase"] is None
        assert cli.main(["deploy", str(broken), "--config", str(config), "--wait", "120"]) == 2
        wait_for(lambda: heartbeat()["deploy"]["phase"] == "rejected", 30, "the rejection in the heartbeat")
    finally:
        agent.stop()
        thread.join(60)
    assert heartbeat()["bundle_id"] == agent.loaded.bundle.bundle_id
