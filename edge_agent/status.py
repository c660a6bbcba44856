"""What the journal says about the agent now, and the acknowledgement a user queues for it.

``bearing-agent status`` and ``bearing-agent ack`` print these; a status page
or a publisher imports them (no argparse and no printing here). Everything
goes through the journal file (SQLite in WAL mode), so it works from another
process while the agent runs, with read/write access to the journal only.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any
from pathlib import Path

from edge_agent.config import load_config
from edge_agent.facts import condition_states, node_facts
from edge_agent.journal import Journal, JournalError
from edge_agent.journal.access import write_problem
from edge_agent.liveness import STALE_S, agent_running, heartbeat_age  # noqa: F401 (readers import them from here)


def open_journal(journal: str | Path | None = None, config: str | Path | None = None, *,
                 write: bool = False) -> Journal:
    """The agent's existing journal: at ``journal``, else at ``[journal] path`` of ``config`` (or the default).

    Read-only (``status``, ``export``) unless ``write`` (``ack``): a command that
    only reads never writes, not even the tables into a foreign or newer file.
    Raises :class:`~edge_agent.journal.JournalError` when there is no journal
    there (it is never created from here), when it is not one this version
    reads, or (``write``) when this user may not write it, saying which group
    to join; :class:`~edge_agent.config.ConfigError` for a bad configuration file.
    """
    path = Path(journal or load_config(config).journal.path)
    if not write:
        return Journal.open_readonly(path)
    problem = write_problem(path) if path.is_file() else None
    if problem:
        raise JournalError(f"{path}: {problem}")
    return Journal(path, create=False)


def diagnosis_words(diagnosis: dict) -> str:
    """A row of :meth:`~edge_agent.journal.Journal.latest_diagnosis` in words: "bearing 1, outer race, 72 % of
    the error" (what ``status`` prints and the page shows)."""
    share = diagnosis.get("top_share")
    return diagnosis["diagnosis"] + ("" if share is None else f", {100 * share:.0f} % of the error")


def deploy_words(deploy: dict) -> str:
    """The ``deploy`` fact in words (what ``status`` prints): the last deploy's phase and, on probation, its progress."""
    phase = str(deploy.get("phase")).replace("_", " ")
    words = f"{phase} {deploy.get('deployed_bundle_id') or ''} (slot {deploy.get('deployed_slot') or '-'}" + \
        (f", replacing {deploy['previous_bundle_id']}" if deploy.get("previous_bundle_id") else "") + ")"
    p = deploy.get("probation")
    if isinstance(p, dict):
        words += (f": {p.get('running_snapshots')} of {p.get('snapshots_needed')} running snapshots, "
                  f"{p.get('hours', 0):.2f} of {p.get('hours_needed')} h")
    elif deploy.get("why"):
        words += f": {deploy['why']}"
    return words


def collect_status(journal: Journal, last: int = 10) -> dict:
    """Everything ``status`` prints, as one dict (also what ``--json`` prints)."""
    heartbeat = journal.get_state("heartbeat") or {}
    snapshots = journal.snapshots(last=last)
    diagnosis = journal.latest_diagnosis()
    return {
        "running": agent_running(heartbeat),
        # machine state, level, alarm, fault, diagnosis: the same facts every reader shows (edge_agent.facts)
        "facts": node_facts(heartbeat, snapshots[-1] if snapshots else None, diagnosis,
                            journal.get_state("baseline"), **condition_states(journal)),
        "heartbeat_age_s": heartbeat_age(heartbeat), "agent": heartbeat,
        "alarm": journal.get_state("alarm") or {},
        "diagnosis": diagnosis,  # the newest snapshot over the threshold's bearing and defect
        "snapshots": snapshots,
        "counters": journal.counters(),
        "events": journal.events(last=8),
    }


@dataclass(frozen=True)
class Acknowledgement:
    """What the journal said when an acknowledgement was queued."""

    #: an alarm was latched at the agent's last journal write (else the request changes nothing now)
    alarm_latched: bool
    #: an agent is running and applies the request within about half a second (else when it starts)
    agent_running: bool


def acknowledge(journal: Journal, source: str = "command line") -> Acknowledgement:
    """Queue an acknowledgement of the latched alarm for the agent to apply.

    The agent owns the alarm state, so this only queues a request in the
    journal; queuing one with no latched alarm is harmless (the agent
    journals ``ack_ignored``). A journal that refuses the write (disk full,
    locked for longer than the wait) raises :class:`~edge_agent.journal.JournalError`.
    """
    alarm = journal.get_state("alarm") or {}
    heartbeat = journal.get_state("heartbeat") or {}
    try:
        journal.request("ack", source, coalesce=True)
    except sqlite3.Error as exc:
        raise JournalError(f"{journal.path}: cannot queue the acknowledgement ({exc}): the journal does not take "
                           "writes now (disk full? another process writing?); the button on the device still "
                           "acknowledges, and `bearing-agent status` shows the journal fault") from None
    return Acknowledgement(alarm_latched=bool(alarm.get("latched")), agent_running=agent_running(heartbeat))


def queue_rebaseline(journal: Journal, by: str, reason: str, *, undo: bool = False) -> bool:
    """Queue a re-baseline (or its undo) for the agent; returns whether an agent seems to be running.

    Who and why travel in the request's source as JSON (:func:`request_source`); both are checked first
    (:func:`check_rebaseline_request`, ValueError naming the field)."""
    heartbeat = journal.get_state("heartbeat") or {}
    by, reason = check_rebaseline_request(by, reason, undo=undo)
    kind = "rebaseline_undo" if undo else "rebaseline"
    try:
        journal.request(kind, request_source(by, reason))
    except sqlite3.Error as exc:
        raise JournalError(f"{journal.path}: cannot queue the re-baseline ({exc}): the journal does not take "
                           "writes now (disk full? another process writing?)") from None
    return agent_running(heartbeat)


#: The longest reason a re-baseline command may carry (it is journaled and shown).
MAX_REASON = 500


def parse_rebaseline_command(payload: bytes, default_by: str = "mqtt") -> dict[str, Any]:
    """A ``cmd/rebaseline`` payload (``{"reason": "...", "by": "..."}`` or ``{"undo": true}``), checked:
    raises ValueError saying what is wrong. The same command the page's ``POST /api/rebaseline`` takes."""
    if len(payload) > 4096:
        raise ValueError(f"{len(payload)} bytes: a re-baseline command is a small JSON object (at most 4096 bytes)")
    try:
        d = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError('not JSON: send {"reason": "bearing 1 replaced", "by": "alice"} or {"undo": true}') from None
    if not isinstance(d, dict):
        raise ValueError('not a JSON object: send {"reason": "...", "by": "..."} or {"undo": true}')
    undo = d.get("undo", False) is True
    by, reason = check_rebaseline_request(d.get("by", default_by), d.get("reason", ""), undo=undo, default_by=default_by)
    return {"by": by, "reason": reason, "undo": undo}


def check_rebaseline_request(by: Any, reason: Any, *, undo: bool = False, default_by: str = "unknown") -> tuple[str, str]:
    """(who, why) of a re-baseline, as they are journaled: printable text of at most 100 / :data:`MAX_REASON`
    characters, a reason required unless it is an undo; a ValueError names what is wrong."""
    for name, value, limit in (("by", by, 100), ("reason", reason, MAX_REASON)):
        if not isinstance(value, str) or len(value) > limit or any(not c.isprintable() for c in value):
            raise ValueError(f"'{name}' must be printable text of at most {limit} characters")
    if not undo and not reason.strip():
        raise ValueError("a re-baseline needs a 'reason' (what changed on the machine)")
    return by.strip() or default_by, reason.strip()


def request_source(by: str, reason: str) -> str:
    """What a re-baseline request carries in the journal's ``requests.source``: who and why, as JSON."""
    return json.dumps({"by": by, "reason": reason}, ensure_ascii=False)


def parse_request_source(source: str) -> tuple[str, str]:
    """(who, why) of :func:`request_source`; anything else is taken as who, with no reason."""
    try:
        d = json.loads(source)
        return str(d.get("by", "unknown")), str(d.get("reason", ""))
    except (ValueError, AttributeError):
        return source, ""
