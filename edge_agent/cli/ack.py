"""``bearing-agent ack``: acknowledge a latched alarm, from any shell.

It needs write access to the journal file only, not to the agent process:
:func:`edge_agent.status.acknowledge` queues a request that the agent
applies within about half a second (or when it next starts). The latch is
read first: with no alarm waiting for an acknowledgement nothing is queued,
and the command says so and exits 1 (the agent would only ignore it).
"""
from __future__ import annotations

import argparse

from edge_agent.cli.journal_options import add_journal_options, journal_from_args
from edge_agent.status import acknowledge


def configure(p: argparse.ArgumentParser) -> None:
    add_journal_options(p)


def run(args: argparse.Namespace) -> int:
    journal = journal_from_args(args, write=True)
    try:
        latch = journal.get_state("alarm") or {}  # journaled the moment it changes
        if not latch.get("latched") or latch.get("acknowledged"):
            print("nothing to acknowledge: " + ("the alarm is already acknowledged (it ends when the error is back "
                                                 "under the threshold)" if latch.get("latched") else
                                                 "no alarm is latched"))
            return 1
        ack = acknowledge(journal, "command line")
    finally:
        journal.close()
    # One message for each situation: "applies it within a second" is only true of a running agent.
    when = ("the agent applies it within about a second" if ack.agent_running
            else "the agent applies it when it starts (it does not seem to be running)")
    print(f"acknowledgement queued; {when}")
    return 0
