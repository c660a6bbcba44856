"""``bearing-agent deploy BUNDLE``: update the bundle with a probation and an automatic rollback.

The bundle (a folder or ``.tar.gz`` made by ``bearing-convert``) is copied into the slot the link
``[agent] bundle`` does not name; the running agent verifies it, runs it on probation beside the old one
and commits it or rolls back by itself (docs/edge_agent.md#updating-the-bundle). ``--status`` shows the
slots and the probation, ``--rollback`` goes back by hand. The logic is :mod:`edge_agent.deploy.commands`.
"""
from __future__ import annotations

import argparse
import getpass
import os

from edge_agent.cli.journal_options import add_journal_options, journal_from_args
from edge_agent.cli.terminal_text import printable
from edge_agent.config import load_config
from edge_agent.deploy import commands
from edge_agent.deploy.commands import DeployError
from edge_agent.journal import format_time
from edge_agent.strict_json import dumps
from firmware_io.errors import BearingEdgeError

#: The longest the command waits for the agent's answer by default (a Pi verifies and probes a bundle in seconds).
DEFAULT_WAIT_S = 300.0


class DeployUsageError(BearingEdgeError, ValueError):
    """A command line deploy cannot act on; the message says what it takes."""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be a number of seconds from 0 to 3600, got {text[:30]!r}")
    return value


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", nargs="?", help="the new bundle: a folder or .tar.gz written by bearing-convert")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--status", action="store_true", help="show the slots, the running bundle and the probation")
    what.add_argument("--rollback", action="store_true",
                      help="go back to the previous bundle (during probation at once, after a commit by reloading it)")
    add_journal_options(p)
    p.add_argument("--wait", type=_seconds, default=DEFAULT_WAIT_S, metavar="SECONDS",
                   help=f"how long to wait for the running agent's answer (default {DEFAULT_WAIT_S:.0f}; "
                        "0: do not wait)")
    p.add_argument("--by", default=None, help="who deploys (journaled; default: the login name, or SUDO_USER)")
    p.add_argument("--json", action="store_true", help="--status: print one JSON object")


def run(args: argparse.Namespace) -> int:
    if bool(args.bundle) == (args.status or args.rollback):
        raise DeployUsageError("give a bundle to deploy (deploy BUNDLE), or --status, or --rollback")
    by = (args.by or os.environ.get("SUDO_USER") or getpass.getuser())[:100]
    config = load_config(args.config)
    journal = journal_from_args(args, write=not args.status)
    try:
        if args.status:
            return _print_status(commands.status(config, journal), args.json)
        if args.rollback:
            outcome = commands.rollback(journal, by, wait_s=args.wait)
            return _print_outcome(outcome, "rollback")
        slot, folder, outcome = commands.deploy(config, journal, args.bundle, by, wait_s=args.wait)
        print(printable(f"copied {args.bundle} into slot {slot} ({folder})"))
        return _print_outcome(outcome, "deploy")
    finally:
        journal.close()


def _print_outcome(outcome: commands.Outcome, what: str) -> int:
    state = outcome.state
    if not outcome.agent_running:
        print(f"{what} queued: the agent does not seem to be running; it takes it when it starts "
              "('bearing-agent deploy --status' shows the outcome)")
        return 0
    if state is None:
        print(f"{what} queued (request {outcome.request_id}); no answer from the agent yet: "
              "'bearing-agent deploy --status' shows the outcome")
        return 0
    phase, why = state.get("phase"), state.get("why")
    if phase == "probation":
        print(printable(f"the agent runs {state.get('bundle_id')} from slot {state.get('slot')} on probation, the "
                        f"old bundle {state.get('previous_bundle_id')} judging beside it; it commits or rolls back "
                        "by itself ('bearing-agent deploy --status')"))
        return 0
    if phase == "committed" and what == "deploy":
        print(printable(f"the agent committed {state.get('bundle_id')} from slot {state.get('slot')}: {why}"))
        return 0
    if phase == "rolled_back":
        print(printable(f"rolled back: {why}"))
        return 0 if what == "rollback" else 1
    raise DeployError(f"the agent refused the {what}: {why}")


def _say(line: str) -> None:
    """Print a line of text the journal holds: escaped, never raw."""
    print(printable(line))


def _print_status(status: dict, as_json: bool) -> int:
    if as_json:
        print(dumps(status, indent=2, default=str))
        return 0
    _say(f"link: {status['pointer']} -> {status['points_at'] or '(missing)'}"
        + (f" (slot {status['pointer_slot']}: what a restart loads)" if status["pointer_slot"] else ""))
    for name, slot in status["slots"].items():
        _say(f"slot {name}: {slot['bundle_id'] or '(empty)'}")
    d = status["deploy"]
    running = "running" if status["agent_running"] else "not running (last known)"
    _say(f"agent: {running}, bundle {status['running_bundle_id'] or '-'}"
        + (f" from slot {d['slot']}" if d.get("slot") else ""))
    state = d.get("state") or {}
    if state.get("phase"):
        when = format_time(state["since"]) + " UTC" if state.get("since") else "-"
        _say(f"last deploy: {state['phase'].replace('_', ' ')}: {state.get('bundle_id') or '-'} into slot "
            f"{state.get('slot') or '-'} by {state.get('by')} at {when} (previous {state.get('previous_bundle_id') or '-'})"
            + (f"; {state['why']}" if state.get("why") else ""))
    p = d.get("probation")
    if p:
        _say(f"probation: {p['running_snapshots']} of {p['snapshots_needed']} running snapshots, {p['hours']:.2f} of "
            f"{p['hours_needed']:g} h, {p['disagreements']} alarms the old bundle did not raise (on_alarm = "
            f"{p['on_alarm']})")
    if status["events"]:
        _say("deploy events:")
        for e in status["events"]:
            _say(f"  {format_time(e['time'])}  {e['kind']:24} {e['detail']}")
    return 0
