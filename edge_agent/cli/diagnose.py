"""``bearing-agent diagnose``: ask the running agent for the physics diagnosis of its next running snapshot.

The agent diagnoses alarming snapshots by itself (docs/diagnosis.md#on-the-device); this asks for one now,
whatever the level, e.g. to see a machine's envelope spectrum against its commissioning baseline. Like
``ack`` it only queues a request in the journal (write access to the journal file, not to the agent); the
result is in ``bearing-agent status``, on the page and in the MQTT state, a few seconds later at the
agent's interval. A request already waiting is not queued twice.
"""
from __future__ import annotations

import argparse
import sqlite3

from edge_agent.cli.journal_options import add_journal_options, journal_from_args
from edge_agent.journal import JournalError
from edge_agent.liveness import agent_running

#: The request's kind: :data:`edge_agent.diagnosis.on_alarm.DIAGNOSE_REQUEST` (not imported: it pulls numpy).
DIAGNOSE_REQUEST = "diagnose"


def configure(p: argparse.ArgumentParser) -> None:
    add_journal_options(p)


def run(args: argparse.Namespace) -> int:
    journal = journal_from_args(args, write=True)
    try:
        physics = journal.get_state("physics") or {}
        if physics and not physics.get("available"):
            print(f"not queued: {physics.get('why_not')}")
            return 1
        try:
            journal.request(DIAGNOSE_REQUEST, "command line", coalesce=True)
        except sqlite3.Error as exc:
            raise JournalError(f"{journal.path}: cannot queue the request ({exc}): the journal does not take "
                               "writes now (disk full? another process writing?)") from None
        running = agent_running(journal.get_state("heartbeat") or {})
    finally:
        journal.close()
    print("diagnosis requested: the agent diagnoses its next running snapshot (not a stopped or starting machine, "
          "nor a sensor fault); see bearing-agent status"
          + ("" if running else " once it runs (it does not seem to be running)"))
    return 0
