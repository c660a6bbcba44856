"""Issue 22 #5 end to end: ``bearing-agent deploy`` against the real agent scoring a real replay on a pty.

The agent runs bundle A (the session's real bundle) through the link ``[agent] bundle``. Then, with the stream
held between steps (the test, not the machine's speed, decides which snapshots each bundle sees):

- B, a copy of A whose model was cut short (a half-copied bundle), is refused by the agent's load: A keeps
  scoring, ``deploy_rejected`` is journaled, the command exits non-zero with the reason;
- C, A re-made through the manifest code (checksums and id recomputed: it verifies and passes the reference
  windows) with its commissioning baseline at a tenth and a per-feature immediate limit far under the healthy
  errors, alarms on the first healthy snapshot: the agent rolls back to A by itself within the probation,
  before the alarm reaches the relay;
- D, A with its threshold 5 % higher (another id, the same decisions on healthy data), rolled back by hand
  during its probation (``deploy --rollback``), then deployed again and committed after the probation (3 running
  snapshots): the link now names D's slot, so a restart loads it;
- ``deploy --rollback`` by hand then loads A again and moves the link back to it.

Every step is read from ``bearing-agent status``/``deploy --status`` and from the MQTT state payload builder.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from edge_agent.cli import main as cli
from edge_agent.journal import Journal
from edge_agent.telemetry import payloads
from edge_agent.web import api as web_api
from edge_agent.liveness import agent_running
from tests.agent_fixtures import HeldReplay, agent_config, raw_test2_files, wait_for
from tests.e2e.test_agent_e2e import journal_events, rows_so_far, run_in_thread
from tests.support.remade_bundles import alarms_on_healthy_data, remade, threshold_5_percent_higher

RELAY = 22
HEALTHY = raw_test2_files()[:10]  # 2004-02-12, the start of test 2: healthy, inside the training period


def state_payload(journal_path: Path) -> dict:
    """What ``bearing-agent publish`` sends as the MQTT state, built from the journal as the publisher does."""
    j = Journal.open_readonly(journal_path)
    try:
        heartbeat = j.get_state("heartbeat") or {}
        last = j.snapshots(last=1)
        return payloads.state_message(running=agent_running(heartbeat), heartbeat=heartbeat,
                                      last_row=last[0] if last else None, counters=j.counters())
    finally:
        j.close()


def cli_out(capsys, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    rc = cli.main(list(argv))
    captured = capsys.readouterr()
    return rc, captured.out + captured.err


def test_deploy_rejects_rolls_back_and_commits_on_a_live_stream(tmp_path, agent_bundle, resign, capsys):
    a = shutil.copytree(agent_bundle, tmp_path / "bundles" / "v1")
    pointer = tmp_path / "bundle"
    pointer.symlink_to("bundles/v1")
    b = shutil.copytree(agent_bundle, tmp_path / "B")
    model = b / "model_float32.tflite"
    model.write_bytes(model.read_bytes()[:-100])
    c = remade(agent_bundle, tmp_path / "C", resign, alarms_on_healthy_data)
    d = remade(agent_bundle, tmp_path / "D", resign, threshold_5_percent_higher)
    journal = tmp_path / "journal.sqlite"
    config_file = tmp_path / "agent.toml"
    config_file.write_text(f'[agent]\nbundle = "{pointer}"\n[journal]\npath = "{journal}"\n')
    deploy = ("deploy", "--config", str(config_file), "--wait", "120")

    link = tmp_path / "ttyBEARING"
    replay = HeldReplay(HEALTHY, link, hold_before=(3, 5))
    factory = MockFactory()
    relay_seen: list[bool] = []
    config = agent_config(tmp_path, str(link), bundle=pointer, deploy={"probation_snapshots": 3, "probation_hours": 0})
    agent, thread = run_in_thread(config, factory, on_snapshot=lambda row, _: relay_seen.append(
        factory.pin(RELAY).state))
    a_id = agent.loaded.bundle.bundle_id
    try:
        wait_for(lambda: len(rows_so_far(journal)) >= 3, 120, "3 snapshots scored by A")

        # B: refused by the agent's load; A keeps running, the link untouched
        rc, out = cli_out(capsys, *deploy, str(b))
        assert rc == 2 and "model_float32.tflite" in out and "refused" in out, out
        assert journal_events(journal, "deploy_rejected") and agent.loaded.bundle.bundle_id == a_id
        assert pointer.resolve() == a.resolve()
        rc, out = cli_out(capsys, "deploy", "--status", "--config", str(config_file))
        assert rc == 0 and "last deploy: rejected" in out and f"bundle {a_id}" in out, out

        # C: loads, then alarms on the first healthy snapshot the old bundle judges normal: rolled back by itself
        rc, out = cli_out(capsys, *deploy, str(c))
        assert rc == 0 and "on probation" in out, out
        c_id = agent.loaded.bundle.bundle_id
        assert c_id != a_id
        assert state_payload(journal)["deploy"]["phase"] == "probation"
        j = Journal.open_readonly(journal)
        try:  # the status page's API: the same facts, with the probation's progress
            page = web_api.status(j)["state"]["facts"]
        finally:
            j.close()
        assert page["slot"] == "a" and page["bundle_id"] == c_id
        assert page["deploy"]["probation"]["snapshots_needed"] == 3 and page["deploy"]["previous_bundle_id"] == a_id
        replay.release()  # snapshots 3 and 4
        wait_for(lambda: journal_events(journal, "deploy_rolled_back"), 120, "the automatic rollback")
        rolled = journal_events(journal, "deploy_rolled_back")[-1]["detail"]
        assert f"{c_id} rolled back to {a_id}" in rolled and "that the old one judged normal" in rolled, rolled
        wait_for(lambda: len(rows_so_far(journal)) >= 5, 120, "snapshots 3 and 4")
        assert agent.loaded.bundle.bundle_id == a_id and pointer.resolve() == a.resolve()

        # D, rolled back by hand during its probation: at once, between two snapshots
        rc, out = cli_out(capsys, *deploy, str(d))
        assert rc == 0 and "on probation" in out, out
        rc, out = cli_out(capsys, "deploy", "--rollback", "--config", str(config_file), "--by", "bob")
        assert rc == 0 and "rolled back: by hand (bob)" in out, out
        assert agent.loaded.bundle.bundle_id == a_id and pointer.resolve() == a.resolve()

        # D again: on probation, committed after 3 running snapshots judged by both; the link moves to its slot
        rc, out = cli_out(capsys, *deploy, str(d))
        assert rc == 0 and "on probation" in out, out
        d_id = agent.loaded.bundle.bundle_id
        replay.release()  # snapshots 5..9
        wait_for(lambda: journal_events(journal, "deploy_committed"), 120, "the commit")
        wait_for(replay.finished.is_set, 120, "the replay to finish")
        wait_for(lambda: len(rows_so_far(journal)) == len(HEALTHY), 120, "every snapshot")
        rc, out = cli_out(capsys, "status", "--config", str(config_file))
        assert rc == 0 and f"bundle: {d_id} (slot a)" in out and "deploy: committed" in out, out
        committed_payload = state_payload(journal)
        assert committed_payload["slot"] == "a" and committed_payload["bundle_id"] == d_id
        assert committed_payload["deploy"]["phase"] == "committed"
        # A was not in a slot (an install from before deploy): B, C and D each went to slot a, which the link did
        # not name until D's commit; A stays where it was, the target of 'deploy --rollback'
        assert pointer.resolve() == (tmp_path / "slots" / "a").resolve()
        assert json.loads((pointer / "manifest.json").read_text())["bundle_id"] == d_id

        # by hand, after the commit: A is loaded and checked again, and the link goes back to it
        rc, out = cli_out(capsys, "deploy", "--rollback", "--config", str(config_file), "--by", "alice")
        assert rc == 0 and f"by hand (alice): back to {a_id}" in out, out
        assert agent.loaded.bundle.bundle_id == a_id and pointer.resolve() == a.resolve()
    finally:
        agent.stop()
        thread.join(60)
        replay.close()

    j = Journal.open_readonly(journal)
    kinds, rows = [e["kind"] for e in j.events(last=100)], j.snapshots()
    j.close()
    assert "alarm_raised" not in kinds and not any(relay_seen)  # C's alarm never reached the outputs
    deploys = [k for k in kinds if k.startswith("deploy_")]
    assert deploys == ["deploy_rejected", "deploy_probation", "deploy_rolled_back", "deploy_probation",
                       "deploy_rolled_back", "deploy_probation", "deploy_committed", "deploy_rolled_back"], deploys
    assert [r["first_index"] for r in rows] == [k * 20480 for k in range(len(HEALTHY))]  # none lost, none twice
    assert {r["bundle_id"] for r in rows[:5]} == {a_id} and {r["bundle_id"] for r in rows[5:]} == {d_id}
    payload = state_payload(journal)
    assert payload["slot"] is None and payload["bundle_id"] == a_id and payload["deploy"]["phase"] == "rolled_back"
