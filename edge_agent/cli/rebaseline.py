"""``bearing-agent rebaseline --reason TEXT``: ask the agent for a new baseline (after a bearing change, an overhaul).

Like ``ack`` it only queues a request in the journal (write access to the journal file is all it needs); the
agent learns the new baseline over its settle period and journals who asked, why, and the old and new
baseline (docs/edge_agent.md#re-baselining). ``--undo`` goes back to the previous baseline, or cancels a
re-baseline in progress.
"""
from __future__ import annotations

import argparse
import getpass
import os

from edge_agent.cli.journal_options import add_journal_options, journal_from_args
from edge_agent.status import check_rebaseline_request, queue_rebaseline
from firmware_io.errors import BearingEdgeError


class RebaselineUsageError(BearingEdgeError, ValueError):
    """A --by or --reason that cannot be journaled; the message says what is accepted."""


def configure(p: argparse.ArgumentParser) -> None:
    add_journal_options(p)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--reason", help="why (journaled with the new baseline): e.g. 'bearing 1 replaced, WO 4711'")
    what.add_argument("--undo", action="store_true", help="back to the previous baseline (or cancel one in progress)")
    p.add_argument("--by", default=None, help="who asks (default: the login name, or SUDO_USER under sudo)")


def run(args: argparse.Namespace) -> int:
    by = args.by or os.environ.get("SUDO_USER") or getpass.getuser()
    try:  # checked before the journal is opened, by the rule the page and MQTT use too
        by, reason = check_rebaseline_request(by, args.reason or "", undo=args.undo)
    except ValueError as exc:
        raise RebaselineUsageError(f"--by / --reason: {exc}") from None
    journal = journal_from_args(args, write=True)
    try:
        running = queue_rebaseline(journal, by, reason, undo=args.undo)
    finally:
        journal.close()
    when = "the agent takes it within about a second" if running else \
        "the agent takes it when it starts (it does not seem to be running)"
    if args.undo:
        print(f"undo of the last re-baseline queued by {by}; {when}; 'bearing-agent status' shows the result")
    else:
        print(f"re-baseline queued by {by} ({reason}); {when}: it learns a new baseline over its settle period "
              "(24 h of running by default), judging at Danger only meanwhile; 'bearing-agent status' shows it")
    return 0
