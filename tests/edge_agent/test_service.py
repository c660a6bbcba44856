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
