"""Re-baselining: a logged, human-confirmed act that gives the levels a new baseline, never an automatic one.

After a bearing change, an overhaul or a new operating point the machine's healthy vibration is not
the commissioning one, and every change is measured against a baseline that no longer fits. The field's
rule: re-baseline only when a person says so, and write down who and why; a baseline that followed the
machine by itself would absorb a slowly failing bearing.

``bearing-agent rebaseline --reason TEXT`` (or the page, or MQTT ``cmd/rebaseline``) queues the request.
The agent then **learns** a fresh baseline from the running snapshots it journals over the settle period
(``[levels] rebaseline_hours``, default 24 h: a day's cycle of load and temperature; and at least
``rebaseline_snapshots``, default 30), judging meanwhile against the old baseline at **Danger only**
(a new bearing running in is novel and may be louder for a while; a failing one still trips Danger). Then it
switches, and journals the old and the new baseline. ``--undo`` goes back to the previous one. The
commissioning baseline in the bundle is never replaced: ``status`` shows the change since commissioning
beside the change since the active baseline, so the long-term trend stays visible. The network is not
retrained on the device: that stays the desktop's job (``bearing-train fit``), as before.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_agent.features.spec import FeatureSpec
from edge_agent.scoring.baseline import Baseline, BaselineError

#: How many earlier baselines ``--undo`` can go back through.
MAX_UNDO = 10


@dataclass
class Learning:
    """A re-baseline in progress: since when (snapshot time, unix seconds), by whom, and why."""

    since: float
    by: str
    reason: str


@dataclass
class BaselineKeeper:
    """The commissioning baseline (the bundle's, never changed), the active one, and the re-baselines."""

    commissioning: Baseline
    active: Baseline
    previous: list[tuple[Baseline, str]] = field(default_factory=list)  # (baseline, who/why) for --undo
    learning: Learning | None = None
    settle_hours: float = 24.0
    settle_snapshots: int = 30

    def start(self, by: str, reason: str, since: float) -> tuple[str, str]:
        """Begin learning a fresh baseline from the running snapshots after ``since``; the journal's event."""
        self.learning = Learning(since, by, reason)
        return ("rebaseline_started", f"by {by}: {reason}; learning a new baseline from the running snapshots of "
                                      f"the next {self.settle_hours:g} h (at least {self.settle_snapshots}); "
                                      "judged against the old one at Danger only meanwhile")

    def due(self, now: float, n_running: int) -> bool:
        """Is the settle period over (snapshot time ``now``, ``n_running`` snapshots since it began)?"""
        return (self.learning is not None and now - self.learning.since >= self.settle_hours * 3600
                and n_running >= self.settle_snapshots)

    def finish(self, spec: FeatureSpec, X: np.ndarray, times: np.ndarray) -> tuple[str, str]:
        """Switch to the baseline of the running snapshots ``X`` learned; the journal's event."""
        assert self.learning is not None
        learning, self.learning = self.learning, None
        try:
            new = Baseline.fit(spec, X, times)
        except BaselineError as exc:
            return ("rebaseline_failed", f"by {learning.by}: {learning.reason}; the old baseline stays: {exc}")
        old = self.active
        self.previous = (self.previous + [(old, f"{learning.by}: {learning.reason}")])[-MAX_UNDO:]
        self.active = new
        return ("rebaseline_done", f"by {learning.by}: {learning.reason}; {len(X)} running snapshots "
                                   f"{new.since} .. {new.until}; {describe_change(old, new)}")

    def undo(self, by: str) -> tuple[str, str]:
        """Back to the baseline before the last re-baseline (or stop one in progress)."""
        if self.learning is not None:
            self.learning = None
            return ("rebaseline_undone", f"by {by}: the re-baseline in progress was cancelled; the baseline is unchanged")
        if not self.previous:
            return ("rebaseline_undo_ignored", f"by {by}: nothing to undo, the commissioning baseline is active")
        new, why = self.previous.pop()
        old, self.active = self.active, new
        return ("rebaseline_undone", f"by {by}: back to the baseline before '{why}'; {describe_change(old, new)}")

    def state(self) -> dict[str, Any]:
        return {"active": self.active.to_dict(),
                "previous": [[b.to_dict(), why] for b, why in self.previous],
                "learning": None if self.learning is None else vars(self.learning)}

    def restore(self, state: dict[str, Any], spec: FeatureSpec) -> None:
        """Take back a journaled state; a state that does not fit the bundle's features is ignored (a new
        bundle brings its own commissioning baseline)."""
        try:
            active = Baseline.from_dict(state["active"], spec)
            previous = [(Baseline.from_dict(b, spec), str(why)) for b, why in state.get("previous", [])]
            learning = state.get("learning")
            learning = Learning(float(learning["since"]), str(learning["by"]), str(learning["reason"])) \
                if isinstance(learning, dict) else None
        except (KeyError, TypeError, ValueError):
            return
        self.active, self.previous, self.learning = active, previous[-MAX_UNDO:], learning


def describe_change(old: Baseline, new: Baseline) -> str:
    """The largest moves from the old baseline to the new one, in dB, for the journal."""
    db = 20 * np.log10(new.median / old.median)
    order = np.argsort(-np.abs(db))[:3]
    return "largest changes: " + ", ".join(f"{old.feature_names[i]} {db[i]:+.1f} dB" for i in order)

