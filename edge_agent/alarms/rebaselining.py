"""The agent's side of re-baselining: requests in, the settle period counted, the switch journaled.

The rules (who may ask, how long the agent learns, Danger-only meanwhile) are in
:mod:`edge_agent.scoring.rebaseline`; this part applies them in the agent's loop. It is given the
scorer and the journal, never the agent: the loop calls :meth:`Rebaselining.request` for each queued
request and :meth:`Rebaselining.after_snapshot` after each judged snapshot.
"""
from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from edge_agent.journal import Journal
from edge_agent.status import parse_request_source
from edge_agent.scoring.scorer import SnapshotScorer

log = logging.getLogger("edge_agent")

REBASELINE, UNDO = "rebaseline", "rebaseline_undo"
STATE_KEY = "baseline"


class Rebaselining:
    """Applies re-baseline requests to one scorer; journals every step through ``on_event(kind, detail)``."""

    def __init__(self, journal: Journal, on_event: Callable[[str, str], None], *, settle_hours: float = 24.0,
                 settle_snapshots: int = 30) -> None:
        self.journal, self.on_event = journal, on_event
        self.settle_hours, self.settle_snapshots = settle_hours, settle_snapshots
        self.scorer: SnapshotScorer | None = None
        self._running_since = 0  # running snapshots since the re-baseline in progress began

    def attach(self, scorer: SnapshotScorer | None) -> None:
        """The scorer to re-baseline (a new bundle's, after a reload); takes back the journaled state if it
        belongs to the same bundle (a new bundle brings its own commissioning baseline)."""
        self.scorer = scorer
        self._running_since = 0
        keeper = scorer.baselines if scorer is not None else None
        if keeper is not None:
            keeper.settle_hours, keeper.settle_snapshots = self.settle_hours, self.settle_snapshots
        saved = self.journal.get_state(STATE_KEY)
        if keeper is None or not isinstance(saved, dict) or saved.get("bundle_id") != scorer.bundle.bundle_id:
            return
        keeper.restore(saved, scorer.bundle.spec)
        scorer.judge.set_baseline(keeper.active)
        scorer.judge.danger_only = keeper.learning is not None
        if keeper.learning is not None:
            self._running_since = self._count_running(keeper.learning.since)

    def request(self, kind: str, source: str, last_time: float | None) -> None:
        """A queued ``rebaseline`` or ``rebaseline_undo`` request; ``last_time``: the newest snapshot's time."""
        by, reason = parse_request_source(source)
        keeper = self.scorer.baselines if self.scorer is not None else None
        if keeper is None:
            self.on_event("rebaseline_refused", f"by {by}: the agent is learning or its bundle has no baseline "
                                                "(made before the alarm levels): retrain with bearing-train fit")
            return
        if kind == REBASELINE:
            if not reason.strip():
                self.on_event("rebaseline_refused", f"by {by}: a re-baseline needs a reason (--reason TEXT)")
                return
            self.on_event(*keeper.start(by, reason, last_time if last_time is not None else 0.0))
            self.scorer.judge.danger_only = True
            self._running_since = 0
        else:
            self.on_event(*keeper.undo(by))
            self.scorer.judge.set_baseline(keeper.active)
            self.scorer.judge.danger_only = keeper.learning is not None
        self._save()

    def after_snapshot(self, time_s: float, machine_state: str) -> None:
        """Count a judged snapshot; at the end of the settle period, switch to the learned baseline."""
        keeper = self.scorer.baselines if self.scorer is not None else None
        if keeper is None or keeper.learning is None or machine_state != "running":
            return
        self._running_since += 1
        if not keeper.due(time_s, self._running_since):
            return
        X, times = self._running_features(keeper.learning.since)
        kind, detail = keeper.finish(self.scorer.bundle.spec, X, times)
        self.scorer.judge.set_baseline(keeper.active)
        self.scorer.judge.danger_only = False
        (log.warning if kind == "rebaseline_failed" else log.info)("%s: %s", kind.replace("_", " "), detail)
        self.on_event(kind, detail)
        self._save()

    def change(self, features: np.ndarray) -> dict | None:
        """How far this running snapshot's features are from the commissioning baseline and from the active one,
        in dB (the feature that rose most, and its rise): information for status and the page, not an alarm."""
        keeper = self.scorer.baselines if self.scorer is not None else None
        if keeper is None:
            return None
        out = {}
        for name, baseline in (("since_commissioning", keeper.commissioning), ("since_active", keeper.active)):
            db = baseline.change_db(features)
            i = int(np.argmax(db))
            out[name] = {"feature": baseline.feature_names[i], "db": round(float(db[i]), 2)}
        return out

    def _running_features(self, since: float) -> tuple[np.ndarray, np.ndarray]:
        rows = [r for r in self.journal.iter_snapshots(since=since) if r.get("machine_state") == "running"
                and r.get("bundle_id") == self.scorer.bundle.bundle_id]
        X = np.array([r["features"] for r in rows], dtype=np.float64).reshape(len(rows), -1)
        times = np.array([np.datetime64(int(r["time"]), "s") for r in rows])
        return X, times

    def _count_running(self, since: float) -> int:
        return sum(1 for r in self.journal.iter_snapshots(since=since) if r.get("machine_state") == "running")

    def _save(self) -> None:
        keeper = self.scorer.baselines
        self.journal.set_state(**{STATE_KEY: {**keeper.state(), "bundle_id": self.scorer.bundle.bundle_id}})
