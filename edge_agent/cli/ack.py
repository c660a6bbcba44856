"""``bearing-agent ack``: acknowledge a latched alarm, from any shell, while the agent runs.

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
    if not ack.alarm_latched:
        print("no latched alarm at the last journal write; acknowledgement queued anyway")
    else:
        print("acknowledgement queued; the agent applies it within about a second")
    if not ack.agent_running:
        print("note: the agent does not seem to be running; it will apply the acknowledgement when it starts")
    return 0
