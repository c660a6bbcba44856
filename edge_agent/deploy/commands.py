"""What ``bearing-agent deploy`` does, without printing: stage a bundle in the inactive slot, verify it when no
agent is running to do so, queue the request in the journal, and wait for the agent's answer.

The agent owns the swap, the probation and the link (:mod:`edge_agent.deploy.probation`); this side only
writes the inactive slot (never the one the link names) and a journal request, so a deploy interrupted at any
point leaves the agent on a verified bundle.
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.config import Config
from edge_agent.deploy.names import COMMITTED, LOADING_PHASES, PROBATION, SLOT_NAMES, UNDER_WAY
from edge_agent.deploy.probation import DEPLOY, ROLLBACK, STATE_KEY, request_source
from edge_agent.deploy.slots import SlotError, Slots
from edge_agent.journal import Journal, JournalError
from edge_agent.liveness import agent_running


class DeployError(SlotError):
    """A deploy that cannot go ahead (a bundle that fails its checks, a deploy already under way, ...)."""


@dataclass(frozen=True)
class Outcome:
    """What became of a queued request: the agent's deploy state once it handled it, or None (no answer yet)."""

    request_id: int
    agent_running: bool
    state: dict[str, Any] | None


def deploy(config: Config, journal: Journal, source: str | Path, by: str, *,
           wait_s: float) -> tuple[str, Path, Outcome]:
    """Stage ``source`` in the inactive slot and ask the agent to deploy it; returns (slot, its folder, outcome).

    With no agent running the bundle is verified here (every check the agent makes, the probe included), so a bad
    bundle is named now; the agent deploys it, on probation, when it starts. Raises :class:`DeployError`,
    :class:`~edge_agent.deploy.slots.SlotError` or :class:`~edge_agent.journal.JournalError` with the reason.
    """
    slots = Slots(config.agent.bundle)
    slots.check_pointer()
    heartbeat = journal.get_state("heartbeat") or {}
    running = agent_running(heartbeat)
    if running and heartbeat.get("bundle_path") not in (None, config.agent.bundle):
        raise DeployError(f"the running agent loads {heartbeat['bundle_path']}, this configuration names "
                          f"{config.agent.bundle}: give deploy the agent's own --config")
    last = journal.get_state(STATE_KEY) or {}
    if running and last.get("phase") in UNDER_WAY:
        raise DeployError(f"a deploy of {last.get('bundle_id') or 'a bundle'} (slot {last.get('slot')}) is under "
                          "way: wait for its commit ('bearing-agent deploy --status') or roll it back "
                          "('bearing-agent deploy --rollback') first")
    if not running and _pending(journal):
        raise DeployError("a deploy or rollback is already queued for the agent's next start: start the agent "
                          "('systemctl start bearing-agent') and deploy again once it has taken it")
    slot, folder = slots.stage(source)
    if not running:
        verify(config, folder, journal.get_state("bundle_version"))
    request_id = _queue(journal, DEPLOY, request_source(by, slot))
    return slot, folder, wait_for_answer(journal, request_id, running, wait_s)


def rollback(journal: Journal, by: str, *, wait_s: float) -> Outcome:
    """Ask the agent to go back to the previous bundle: at once during probation, else the one before the last
    commit (loaded and checked again). Raises :class:`DeployError` when nothing can be rolled back."""
    heartbeat = journal.get_state("heartbeat") or {}
    running = agent_running(heartbeat)
    last = journal.get_state(STATE_KEY) or {}
    if last.get("phase") not in (PROBATION, COMMITTED) or (last.get("phase") == COMMITTED
                                                          and not last.get("previous_path")):
        raise DeployError("nothing to roll back to: the last deploy is "
                          + (f"{last['phase'].replace('_', ' ')}" if last.get("phase") else "none")
                          + "; 'bearing-agent deploy --status' shows the slots")
    request_id = _queue(journal, ROLLBACK, request_source(by))
    return wait_for_answer(journal, request_id, running, wait_s)


def verify(config: Config, folder: Path, version_floor: Any = None) -> str:
    """Every check the agent makes at a load (checksums, bundle id, signature and downgrade, reference windows,
    the probe in a child process); returns the bundle id, or raises DeployError naming what failed."""
    from edge_agent.scoring.bundle import BundleError, load_bundle
    from edge_agent.scoring.runtime import RuntimeUnavailable

    a = config.agent
    try:
        bundle = load_bundle(folder, a.variant or None, a.runtime, probe=True, trusted_keys=a.trusted_keys or None,
                             version_floor=version_floor if isinstance(version_floor, int) else None,
                             allow_downgrade=a.allow_downgrade)
    except (BundleError, RuntimeUnavailable) as exc:
        raise DeployError(f"refused, nothing changed (the agent keeps its bundle): {exc}") from None
    return bundle.bundle_id


def wait_for_answer(journal: Journal, request_id: int, running: bool, wait_s: float, poll_s: float = 0.2) -> Outcome:
    """The agent's deploy state once it has handled ``request_id`` and left the loading phase (up to ``wait_s``)."""
    deadline = time.monotonic() + wait_s
    while running:
        state = journal.get_state(STATE_KEY) or {}
        if state.get("request") == request_id and state.get("phase") not in LOADING_PHASES:
            return Outcome(request_id, running, state)
        refused = [e for e in journal.events(last=20, kind="deploy_refused")
                   if e["detail"].startswith(f"request {request_id} ")]
        if refused:
            return Outcome(request_id, running, {"phase": "refused", "why": refused[-1]["detail"]})
        if time.monotonic() >= deadline:
            break
        time.sleep(poll_s)
    return Outcome(request_id, running, None)


def status(config: Config, journal: Journal) -> dict[str, Any]:
    """What ``deploy --status`` prints: the link, each slot's bundle, the running bundle and the last deploy."""
    slots = Slots(config.agent.bundle)
    heartbeat = journal.get_state("heartbeat") or {}
    active = slots.active()
    return {
        "pointer": str(slots.pointer), "points_at": str(active) if active else None,
        "pointer_slot": slots.slot_of(active),
        "slots": {n: {"path": str(slots.path(n)), "bundle_id": slots.bundle_id(n)} for n in SLOT_NAMES},
        "agent_running": agent_running(heartbeat),
        "running_bundle_id": heartbeat.get("bundle_id"),
        "deploy": (heartbeat.get("deploy") or {}) | {"state": journal.get_state(STATE_KEY)},
        "events": [e for e in journal.events(last=200) if e["kind"].startswith("deploy_")][-8:],
    }


def _queue(journal: Journal, kind: str, source: str) -> int:
    try:
        return journal.request(kind, source)
    except sqlite3.Error as exc:
        raise JournalError(f"{journal.path}: cannot queue the {kind.replace('_', ' ')} ({exc}): the journal does "
                           "not take writes now (disk full? another process writing?)") from None


def _pending(journal: Journal) -> bool:
    """A deploy or rollback request the agent has not taken yet."""
    try:
        rows = journal.db.execute("SELECT 1 FROM requests WHERE done IS NULL AND kind IN (?, ?) LIMIT 1",
                                  (DEPLOY, ROLLBACK)).fetchall()
    except sqlite3.Error:
        return False
    return bool(rows)

