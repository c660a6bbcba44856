"""The probation's decisions with the real bundle and the recorded healthy snapshots: roll back, hold, commit,
and a probation a restart interrupted."""
from __future__ import annotations

import json
import shutil

import pytest

from gpiozero.pins.mock import MockFactory

from edge_agent.config import AgentSection, DeploySection
from edge_agent.deploy.probation import Probation
from edge_agent.deploy.slots import Slots
from edge_agent.journal import AgentJournal, Journal
from edge_agent.reload import load_scorer
from edge_agent.scoring.history import FeatureHistory
from edge_agent.liveness import agent_running
from tests.agent_fixtures import agent_config, features_of, raw_test2_files, wait_for
from tests.support.remade_bundles import alarms_on_healthy_data, remade

HEALTHY = features_of(raw_test2_files()[:6])  # 2004-02-12: healthy, inside the training period


def on_probation(tmp_path, real_bundle, resign, **section):
    """A probation of the always-alarming bundle beside the real one, both scoring from the same history."""
    events = []
    journal = AgentJournal.open(tmp_path / "journal.sqlite")
    probation = Probation(journal, Slots(tmp_path / "bundle"), DeploySection(**section),
                          lambda kind, detail: events.append((kind, detail)))
    old = load_scorer(AgentSection(bundle=str(real_bundle)))
    new = load_scorer(AgentSection(bundle=str(remade(real_bundle, tmp_path / "C", resign, alarms_on_healthy_data))))
    history = FeatureHistory()
    old.scorer.continue_from(history)
    new.scorer.continue_from(history)
    probation.state = {"slot": "a", "path": str(tmp_path / "slots" / "a"), "previous_bundle_id": "old"}
    assert probation.begin(old, new) is False
    return probation, new, events, journal


def judge_all(probation, new):
    verdicts = []
    for stamp, x in zip(HEALTHY.timestamps.astype(int).astype(float), HEALTHY.values):
        verdicts.append(probation.observe(new.scorer.score(x, time_s=stamp), x, stamp, None, 1.0))
        if verdicts[-1] is not None and verdicts[-1].action == "commit":
            probation.commit(verdicts[-1].why)
            break
    return verdicts


def test_rollback_on_the_first_alarm_the_old_bundle_does_not_raise(tmp_path, real_bundle, resign):
    probation, new, events, journal = on_probation(tmp_path, real_bundle, resign, probation_snapshots=3,
                                                   probation_hours=0)
    verdicts = judge_all(probation, new)
    first = next(v for v in verdicts if v is not None)
    assert first.action == "rollback" and "that the old one judged normal" in first.why
    assert first.old_score is not None and not first.old_score.alarm  # the old bundle's verdict stands
    journal.close()


def test_hold_keeps_the_new_bundle_journals_each_disagreement_and_commits_after_the_probation(
        tmp_path, real_bundle, resign):
    probation, new, events, journal = on_probation(tmp_path, real_bundle, resign, probation_snapshots=3,
                                                   probation_hours=0, on_alarm="hold")
    (tmp_path / "slots" / "a").mkdir(parents=True)
    verdicts = judge_all(probation, new)
    assert verdicts[-1].action == "commit" and "alarms the old bundle did not raise (kept)" in verdicts[-1].why
    kinds = [k for k, _ in events]
    assert kinds[0] == "deploy_probation" and kinds[-1] == "deploy_committed"
    assert 1 <= kinds.count("deploy_disagreement") <= 3
    assert (tmp_path / "bundle").resolve() == (tmp_path / "slots" / "a").resolve()  # the link moved at the commit
    assert journal.get_state("deploy")["phase"] == "committed" and not probation.in_probation
    journal.close()


@pytest.mark.parametrize("link_moved", [False, True])
def test_a_probation_a_restart_interrupted_ends_as_the_link_says(tmp_path, real_bundle, link_moved):
    """Restarted during probation: the link still names the old bundle, which runs (rolled back); or, stopped between
    moving the link and journaling the commit, the deployed bundle runs (committed)."""
    pointer = tmp_path / "bundle"
    pointer.symlink_to(shutil.copytree(real_bundle, tmp_path / "v1"))
    deployed = json.loads((real_bundle / "manifest.json").read_text())["bundle_id"] if link_moved else "new-one"
    journal = AgentJournal.open(tmp_path / "journal.sqlite")
    journal.set_state(deploy={"phase": "probation", "slot": "b", "bundle_id": deployed, "previous_bundle_id": "x"})
    journal.close()
    from edge_agent.service import Agent

    agent = Agent(agent_config(tmp_path, str(tmp_path / "no-device"), bundle=pointer), pin_factory=MockFactory())
    agent.stop()
    agent.run()
    j = Journal.open_readonly(tmp_path / "journal.sqlite")
    kinds = [e["kind"] for e in j.events(last=10) if e["kind"].startswith("deploy_")]
    detail = j.events(last=1, kind=kinds[-1])[0]["detail"] if kinds else ""
    heartbeat = j.get_state("heartbeat")
    j.close()
    if link_moved:
        assert kinds == ["deploy_committed"] and "the agent stopped just after moving the link" in detail
        assert heartbeat["deploy"]["phase"] == "committed"
    else:
        assert kinds == ["deploy_rolled_back"]
        assert "the agent restarted during the probation of new-one in slot b" in detail
        assert heartbeat["deploy"]["phase"] == "rolled_back"
    assert heartbeat["bundle_id"] == agent.loaded.bundle.bundle_id


def heartbeat_of(path) -> dict:
    j = Journal.open_readonly(path)
    try:
        return j.get_state("heartbeat") or {}
    finally:
        j.close()


def test_in_learning_mode_a_deploy_is_committed_at_once_and_the_link_made(tmp_path, real_bundle, capsys):
    from edge_agent.cli import main as cli
    from edge_agent.service import Agent

    pointer, journal = tmp_path / "bundle", tmp_path / "journal.sqlite"  # no bundle yet: learning mode
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nbundle = "{pointer}"\n[journal]\npath = "{journal}"\n')
    agent = Agent(agent_config(tmp_path, str(tmp_path / "no-device"), bundle=pointer, learn=True),
                  pin_factory=MockFactory())
    thread = agent.start()
    try:
        wait_for(lambda: journal.exists() and agent_running(heartbeat_of(journal)), 60, "the agent's first heartbeat")
        assert cli.main(["deploy", str(real_bundle), "--config", str(config), "--wait", "120"]) == 0
    finally:
        agent.stop()
        thread.join(60)
    assert "committed" in capsys.readouterr().out and not agent.learning
    assert pointer.resolve() == (tmp_path / "slots" / "a").resolve()
    j = Journal.open_readonly(journal)
    kinds = [e["kind"] for e in j.events(last=20)]
    j.close()
    assert kinds.index("learning_ended") < kinds.index("deploy_committed") and "deploy_probation" not in kinds


def test_rollback_when_the_new_bundle_cannot_score_a_snapshot_the_old_one_scored(tmp_path, real_bundle, resign):
    """A NaN error on live data (a model that passed its reference windows: item 3 refuses one that is NaN there)."""
    from dataclasses import replace

    from edge_agent.scoring.scorer import NOT_FINITE

    probation, new, events, journal = on_probation(tmp_path, real_bundle, resign, probation_snapshots=3,
                                                   probation_hours=0)
    stamps = HEALTHY.timestamps.astype(int).astype(float)
    assert probation.observe(new.scorer.score(HEALTHY.values[0], time_s=stamps[0]), HEALTHY.values[0], stamps[0],
                             None, 1.0) is None  # the first window of T = 2: neither scores yet
    stamp, x = stamps[1], HEALTHY.values[1]
    scored = new.scorer.score(x, time_s=stamp)
    verdict = probation.observe(replace(scored, error=float("nan"), over_threshold=None, fault=NOT_FINITE), x, stamp,
                                None, 1.0)
    assert verdict.action == "rollback" and "could not score the snapshot of 2004-02-12 10:42:39 UTC" in verdict.why
    assert "not finite" in verdict.why and verdict.old_score.error > 0
    journal.close()
