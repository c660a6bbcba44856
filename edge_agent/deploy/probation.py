"""The agent's side of ``bearing-agent deploy``: a new bundle on probation beside the old one, then commit or roll back.

The deploy command copies the bundle into the inactive slot (:mod:`edge_agent.deploy.slots`) and queues a
``deploy`` request in the journal (as ``ack`` and ``rebaseline`` do). The agent loads the slot in its
helper thread with every check of a reload (checksums, signature, reference windows, the probe, the live
stream). Refused, it journals ``deploy_rejected`` and the old bundle keeps running. Accepted, the new bundle
scores and the old one stays loaded beside it, judging the same snapshots (:meth:`Probation.observe`):

- the new bundle cannot score a snapshot the old one scored (a NaN error, no error): roll back at once;
- it alarms (Alert or Danger) on a running snapshot the old one judged normal: roll back at once, before
  the alarm reaches the relay (``[deploy] on_alarm = "rollback"``), or keep it and journal each one
  (``"hold"``: a bundle meant to see more);
- after ``[deploy] probation_snapshots`` running snapshots judged by both and ``probation_hours``, commit:
  the link ``[agent] bundle`` is moved to the new slot, so a restart loads it.

Until the commit the link names the old bundle, so an agent that dies during probation (the new model
crashed it, a power cut) restarts on the old one, and journals that the probation ended there
(:meth:`Probation.at_start`). Two interpreters run only during probation. This part decides and journals;
the agent swaps the bundles. It keeps its state in the journal (``deploy``) and the heartbeat shows it.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from edge_agent.deploy.names import (COMMITTED, LOADING, LOADING_PHASES, PROBATION, REJECTED, RESTORING,
                                     ROLLED_BACK, UNDER_WAY)
from edge_agent.deploy.slots import SlotError, Slots
from edge_agent.scoring.history import FeatureHistory

if TYPE_CHECKING:
    import numpy as np

    from edge_agent.config import DeploySection
    from edge_agent.journal import AgentJournal
    from edge_agent.reload import LoadedBundle
    from edge_agent.scoring.scorer import Score

log = logging.getLogger("edge_agent")

#: the journal request kinds ``bearing-agent deploy`` queues
DEPLOY, ROLLBACK = "deploy", "deploy_rollback"
#: the journal state key of the last deploy
STATE_KEY = "deploy"


@dataclass(frozen=True)
class Verdict:
    """What a snapshot on probation decided: ``rollback`` (with the old bundle's score of it, which stands) or
    ``commit``."""

    action: str
    why: str
    old_score: "Score | None" = None


def request_source(by: str, slot: str | None = None) -> str:
    """What a deploy or rollback request carries in the journal's ``requests.source``: who, and which slot."""
    return json.dumps({"by": by} | ({"slot": slot} if slot else {}), ensure_ascii=False)


class Probation:
    """The last deploy: its state in the journal, the old bundle kept during probation, and the decisions."""

    def __init__(self, journal: "AgentJournal", slots: Slots, section: "DeploySection",
                 on_event: Callable[[str, str], None]) -> None:
        self.journal, self.slots, self.section, self.on_event = journal, slots, section, on_event
        saved = journal.get_state(STATE_KEY)
        self.state: dict[str, Any] | None = saved if isinstance(saved, dict) else None
        #: the old bundle, judging every snapshot beside the new one during probation (else None)
        self.previous: LoadedBundle | None = None
        self._began = 0.0  # time.monotonic() of the swap (hours of probation: not moved by a clock change)
        self._compared = self._disagreements = 0
        #: the running bundle and its slot: resolved once per bundle, not per snapshot (three path resolutions)
        self._slot_of: tuple[Any, str | None] = (None, None)

    @property
    def in_probation(self) -> bool:
        return self.previous is not None

    @property
    def loading(self) -> bool:
        return bool(self.state) and self.state.get("phase") in LOADING_PHASES

    def at_start(self, running_id: str | None) -> list[tuple[str, str]]:
        """The events of a deploy the last run left unfinished (the link names the bundle that runs now)."""
        phase = (self.state or {}).get("phase")
        if phase not in UNDER_WAY:
            return []
        if phase == PROBATION and running_id is not None and running_id == self.state.get("bundle_id"):
            why = "the agent stopped just after moving the link to it (the commit was not journaled before)"
            self._save(phase=COMMITTED, why=why)
            return [("deploy_committed", f"{running_id} in slot {self.state.get('slot')} committed: {why}")]
        why = (f"the agent restarted during the {'probation' if phase == PROBATION else 'loading'} of "
               f"{self.state.get('bundle_id') or 'the bundle'} in slot {self.state.get('slot')}: it runs the "
               f"committed bundle {running_id or '(none: learning mode)'} that [agent] bundle names; "
               "deploy again to retry")
        self._save(phase=ROLLED_BACK, why=why)
        return [("deploy_rolled_back", why)]

    def take(self, request_id: int, kind: str, source: str, running: "LoadedBundle | None") -> str | None:
        """A queued deploy, or a rollback by hand after a commit: the folder to load, or None (refused: journaled).
        (A rollback during probation is the agent's :meth:`rolled_back` at once.)"""
        try:
            asked = json.loads(source)
            by = str(asked.get("by", "unknown"))[:100]
        except (ValueError, AttributeError):
            asked, by = {}, "unknown"
        if self.in_probation or self.loading:
            return self._refuse(request_id, by, f"a deploy of {self.state.get('bundle_id') or 'a bundle'} is "
                                                "under way: wait for its commit, or roll it back first")
        running_id = running.bundle.bundle_id if running else None
        if kind == ROLLBACK:
            last = self.state or {}
            target = last.get("previous_path")
            if last.get("phase") != COMMITTED or not target:
                return self._refuse(request_id, by, "nothing to roll back to: no deploy was committed since the last "
                                                    "rollback")
            self._save(phase=RESTORING, request=request_id, by=by, path=target, since=time.time(), why=None)
            log.info("deploy --rollback by %s: loading %s", by, target)
            return target
        try:
            folder = self.slots.path(str(asked.get("slot")))
        except SlotError as exc:
            return self._refuse(request_id, by, str(exc))
        active = self.slots.active()
        self._save(phase=LOADING, request=request_id, by=by, slot=self.slots.slot_of(folder), path=str(folder),
                   bundle_id=None, previous_bundle_id=running_id, previous_path=str(active) if active else None,
                   since=time.time(), why=None)
        log.info("deploy by %s: loading slot %s", by, folder)
        return str(folder)

    def _refuse(self, request_id: int, by: str, why: str) -> None:
        self.on_event("deploy_refused", f"request {request_id} by {by}: {why}")
        return None

    def rejected(self, problem: str, running_id: str | None) -> None:
        """The slot failed a check: the running bundle stays, the link is untouched."""
        restoring = (self.state or {}).get("phase") == RESTORING
        why = f"{problem}; still running {running_id or '(learning mode)'}"
        self._save(phase=COMMITTED if restoring else REJECTED, why=why)
        log.error("deploy %s: %s", "rollback refused" if restoring else "rejected", why)
        self.on_event("deploy_rollback_refused" if restoring else "deploy_rejected", why)

    def begin(self, old: "LoadedBundle | None", new: "LoadedBundle") -> bool:
        """The new bundle was swapped in: start its probation with ``old`` judging beside it, or finish a rollback
        by hand (moves the link back). Returns True when it is committed at once (nothing ran before it)."""
        state = self.state or {}
        new_id = new.bundle.bundle_id
        if state.get("phase") == RESTORING:
            problem = self._point_at(state["path"])
            why = (f"by hand ({state.get('by')}): back to {new_id} from {state['path']}, replacing "
                   f"{state.get('bundle_id')}" + (f". NOT made permanent: {problem}" if problem else ""))
            self._save(phase=ROLLED_BACK, why=why)
            log.warning("deploy: rolled back %s", why)
            self.on_event("deploy_rolled_back", why)
            return True
        self._save(phase=PROBATION, bundle_id=new_id)
        if old is None:  # learning mode: nothing to compare with or go back to
            self.commit("no bundle ran before it (learning mode): committed at once")
            return True
        self.previous = old
        # The old scorer keeps its own copy of the machine's history: the new one appends to the agent's.
        old.scorer.continue_from(FeatureHistory(vectors=old.scorer.history.last(old.scorer.timesteps)), prime=False)
        self._began, self._compared, self._disagreements = time.monotonic(), 0, 0
        s = self.section
        detail = (f"{new_id} in slot {state.get('slot')} on probation beside {old.bundle.bundle_id}: "
                  f"{s.probation_snapshots} running snapshots and {s.probation_hours:g} h; on an alarm the old "
                  f"bundle does not raise: {s.on_alarm}")
        log.info("deploy: %s", detail)
        self.on_event("deploy_probation", detail)
        return False

    def observe(self, new: "Score | None", features: "np.ndarray", time_s: float | None,
                samples: "np.ndarray | None", scale: float) -> Verdict | None:
        """Judge the snapshot the new bundle scored (``new``) with the old bundle too; say when to roll back or
        commit."""
        old = self.previous.scorer.score(features, time_s=time_s, samples=samples, scale=scale)
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time_s)) if time_s is not None else "now"
        if _scored(old) and not _scored(new):
            return Verdict("rollback", f"the new bundle could not score the snapshot of {when} UTC "
                                       f"({new.fault if new is not None and new.fault else 'no error'}) that the "
                                       f"old one scored ({old.error:.4g})", old)
        if _judged(new) and _judged(old):
            self._compared += 1
            if new.alarm and not old.alarm:
                self._disagreements += 1
                why = (f"the new bundle raised {new.level.upper()} on the snapshot of {when} UTC (error "
                       f"{new.error:.4g}, threshold {new.threshold:.4g}) that the old one judged normal (error "
                       f"{old.error:.4g}, threshold {old.threshold:.4g})")
                if self.section.on_alarm == "rollback":
                    return Verdict("rollback", why, old)
                self.on_event("deploy_disagreement", f"{why}; kept ([deploy] on_alarm = \"hold\")")
        hours = (time.monotonic() - self._began) / 3600.0
        if self._compared >= self.section.probation_snapshots and hours >= self.section.probation_hours:
            return Verdict("commit", f"after {self._compared} running snapshots judged by both and {hours:.2f} h"
                                     + (f", {self._disagreements} alarms the old bundle did not raise (kept)"
                                        if self._disagreements else ", no disagreement"))
        return None

    def rolled_back(self, why: str, new_id: str | None, request_id: int | None = None) -> None:
        """The agent went back to the old bundle (:attr:`previous`; ``request_id``: asked by ``deploy --rollback``):
        journal it and let the new one go."""
        self.previous = None
        detail = f"{new_id} rolled back to {(self.state or {}).get('previous_bundle_id')}: {why}"
        log.warning("deploy: %s", detail)
        self._save(phase=ROLLED_BACK, why=why, **({"request": request_id} if request_id is not None else {}))
        self.on_event("deploy_rolled_back", detail)

    def commit(self, why: str) -> None:
        """Probation passed: the link moves to the new slot (a restart loads it); the old bundle is let go."""
        self.previous = None
        state = self.state or {}
        problem = self._point_at(state["path"])
        detail = (f"{state.get('bundle_id')} in slot {state.get('slot')} committed {why}; the previous bundle "
                  f"{state.get('previous_bundle_id') or '-'} stays for 'bearing-agent deploy --rollback'")
        if problem:
            detail += f". NOT made permanent: {problem}"
        log.info("deploy: %s", detail)
        self._save(phase=COMMITTED, why=why + (f"; {problem}" if problem else ""))
        self.on_event("deploy_committed", detail)

    def _point_at(self, folder) -> str | None:
        """Move the link; the reason it could not be moved (the new bundle still runs until a restart), else None."""
        try:
            self.slots.point_at(folder)
            return None
        except (OSError, SlotError) as exc:
            log.error("deploy: cannot move %s to %s: %s", self.slots.pointer, folder, exc)
            return f"cannot point {self.slots.pointer} at {folder} ({exc}): a restart loads the old bundle"

    def cancelled(self, why: str) -> None:
        """A SIGHUP reload swapped in [agent] bundle during probation: the probation ends there."""
        if self.in_probation:
            self.rolled_back(why, (self.state or {}).get("bundle_id"))

    def fact(self, running: "LoadedBundle | None") -> dict[str, Any]:
        """The ``deploy`` fact: the running bundle's slot and the last deploy, with the probation's progress."""
        state = self.state or {}
        fact: dict[str, Any] = {
            "slot": self._slot(running),
            "phase": state.get("phase"), "deployed_bundle_id": state.get("bundle_id"),
            "deployed_slot": state.get("slot"), "previous_bundle_id": state.get("previous_bundle_id"),
            "by": state.get("by"), "since": state.get("since"), "why": state.get("why"),
        }
        if self.in_probation:
            s = self.section
            fact["probation"] = {"running_snapshots": self._compared, "snapshots_needed": s.probation_snapshots,
                                 "hours": round((time.monotonic() - self._began) / 3600.0, 3),
                                 "hours_needed": s.probation_hours, "disagreements": self._disagreements,
                                 "on_alarm": s.on_alarm}
        return fact

    def _slot(self, running: "LoadedBundle | None") -> str | None:
        if running is None:
            return None
        if self._slot_of[0] is not running.bundle:  # a bundle never moves to another slot while loaded
            self._slot_of = (running.bundle, self.slots.slot_of(running.bundle.path))
        return self._slot_of[1]

    def _save(self, **changes: Any) -> None:
        self.state = {**(self.state or {}), **changes}
        self.journal.set_state(**{STATE_KEY: self.state})


def _scored(score: "Score | None") -> bool:
    return score is not None and score.error is not None and math.isfinite(score.error)


def _judged(score: "Score | None") -> bool:
    """A running snapshot the bundle judged (a level was decided on it)."""
    return _scored(score) and score.state == "running" and score.fault is None
