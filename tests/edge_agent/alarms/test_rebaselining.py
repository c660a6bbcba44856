"""Re-baselining as a logged operator act: learned over the settle period, judged at Danger only meanwhile,
journaled with who and why, kept across a restart, reversible; the commissioning baseline is never replaced."""
from __future__ import annotations

import numpy as np
import pytest

from edge_agent.alarms.rebaselining import Rebaselining
from edge_agent.features.table import read_feature_table
from edge_agent.journal import AgentJournal, SnapshotRow
from edge_agent.scoring.bundle import load_bundle
from edge_agent.status import request_source
from edge_agent.scoring.scorer import SnapshotScorer

CADENCE_S = 600.0


@pytest.fixture(scope="module")
def bundle(converted):
    return load_bundle(converted(1, ("float32",)).bundle_dir)


@pytest.fixture(scope="module")
def healthy(feature_table_path):
    table = read_feature_table(feature_table_path)
    return table.values[:400]  # IMS test 2's healthy days


class Machine:
    """A scorer and its journal, fed like the agent feeds them (a row per snapshot, then the part)."""

    def __init__(self, bundle, path):
        self.journal = AgentJournal.open(path)
        self.scorer = SnapshotScorer(bundle)
        self.events: list[tuple[str, str]] = []
        self.part = Rebaselining(self.journal, lambda kind, detail: self.events.append((kind, detail)))
        self.part.attach(self.scorer)
        self.t = 1.7e9

    def feed(self, X):
        levels = []
        for x in X:
            self.t += CADENCE_S
            s = self.scorer.score(x, time_s=self.t)
            self.journal.record_snapshot(SnapshotRow(
                time=self.t, first_index=0, stream_id=None, features=list(map(float, x)), error=s.error,
                threshold=s.threshold, over_threshold=s.over_threshold, alarm=s.alarm, state="normal",
                bundle_id=self.scorer.bundle.bundle_id, latency_ms=1.0, machine_state=s.state, level=s.level))
            self.part.after_snapshot(self.t, s.state)
            levels.append(s.level)
        return levels

    def close(self):
        self.journal.close()


def test_a_rebaseline_learns_for_its_settle_period_then_switches_and_can_be_undone(bundle, healthy, tmp_path):
    m = Machine(bundle, tmp_path / "j.sqlite")
    commissioning = m.scorer.baselines.commissioning.median.copy()
    m.feed(healthy[:50])
    m.part.request("rebaseline", request_source("alice", ""), m.t)
    assert m.events[-1][0] == "rebaseline_refused" and "needs a reason" in m.events[-1][1]

    m.part.request("rebaseline", request_source("alice", "bearing 1 replaced, WO 4711"), m.t)
    assert m.events[-1][0] == "rebaseline_started" and "alice" in m.events[-1][1]
    assert m.scorer.judge.danger_only
    # the new bearing runs 3.5 dB louder (x1.5) on every channel: novel and over the old Alert limit (+2 dB),
    # under its Danger limit: while learning only Danger is raised, so nothing is
    louder = healthy[50:50 + 150] * 1.5
    levels = m.feed(louder[:140])
    assert set(levels) == {"normal"} and m.events[-1][0] == "rebaseline_started"  # 140 x 10 min < 24 h
    m.feed(louder[140:150])
    kind, detail = m.events[-1]
    assert kind == "rebaseline_done" and "bearing 1 replaced" in detail and "+3.5 dB" in detail
    np.testing.assert_allclose(m.scorer.baselines.active.median, 1.5 * np.median(healthy[50:200], axis=0),
                               rtol=0.05)
    np.testing.assert_array_equal(m.scorer.baselines.commissioning.median, commissioning)  # never replaced
    assert not m.scorer.judge.danger_only
    m.close()

    # a restart takes the active baseline back from the journal
    again = Machine(bundle, tmp_path / "j.sqlite")
    np.testing.assert_allclose(again.scorer.baselines.active.median, m.scorer.baselines.active.median)
    np.testing.assert_allclose(again.scorer.judge.decision.baseline.median, m.scorer.baselines.active.median)
    again.part.request("rebaseline_undo", request_source("bob", ""), again.t)
    assert again.events[-1][0] == "rebaseline_undone" and "bob" in again.events[-1][1]
    np.testing.assert_array_equal(again.scorer.judge.decision.baseline.median, commissioning)
    again.part.request("rebaseline_undo", request_source("bob", ""), again.t)
    assert again.events[-1][0] == "rebaseline_undo_ignored"
    again.close()


def test_while_learning_a_failing_bearing_still_raises_danger(bundle, healthy, tmp_path):
    m = Machine(bundle, tmp_path / "j.sqlite")
    m.feed(healthy[:20])
    m.part.request("rebaseline", request_source("alice", "overhaul"), m.t)
    levels = m.feed(healthy[20:30] * 4.0)  # +12 dB: far past Danger (+6 dB)
    assert "danger" in levels and "alert" not in levels
    m.close()
