"""``bearing-agent ack``: acknowledge a latched alarm, from any shell.

It needs write access to the journal file only, not to the agent process:
:func:`edge_agent.status.acknowledge` queues a request that the agent
applies within about half a second (or when it next starts).
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
        ack = acknowledge(journal, "command line")
    finally:
        journal.close()
    # One message for each situation: "applies it within a second" is only true of a running agent.
    when = ("the agent applies it within about a second" if ack.agent_running
            else "the agent applies it when it starts (it does not seem to be running)")
    if not ack.alarm_latched:
        print(f"no latched alarm at the last journal write; acknowledgement queued anyway: {when}")
    else:
        print(f"acknowledgement queued; {when}")
    return 0
