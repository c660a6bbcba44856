"""What the journal says about the agent now: running or not, state, last scores, counters, events.

``bearing-agent status`` prints it; a status page or a publisher imports it
(no argparse, no printing here).
"""
from __future__ import annotations

import time

from edge_agent.journal import Journal

#: A heartbeat older than this means the agent is not running (it writes every 10 s).
STALE_S = 30.0


def agent_running(heartbeat: dict) -> bool:
    """Whether the journal's heartbeat says an agent is running now (fresh, and not a clean stop)."""
    return bool(heartbeat) and not heartbeat.get("stopped") and time.time() - heartbeat["time"] < STALE_S


def collect_status(journal: Journal, last: int = 10) -> dict:
    """Everything ``status`` prints, as one dict (also what ``--json`` prints)."""
    heartbeat = journal.get_state("heartbeat") or {}
    return {
        "running": agent_running(heartbeat),
        "heartbeat_age_s": time.time() - heartbeat["time"] if heartbeat else None, "agent": heartbeat,
        "alarm": journal.get_state("alarm") or {},
        "snapshots": journal.snapshots(last=last),
        "counters": journal.counters(),
        "events": journal.events(last=8),
    }
