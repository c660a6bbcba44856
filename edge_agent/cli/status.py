"""``bearing-agent status`` and ``bearing-agent ack``: read the journal, queue an acknowledgement.

Both work from another shell while the agent runs (the journal is in WAL
mode), so they need only read/write access to the journal file, not to the
agent process: ``ack`` queues a request that the agent applies within about
half a second.
"""
from __future__ import annotations

import argparse
import json
import sys

from edge_agent.config import ConfigError, load_config
from edge_agent.journal import Journal, JournalError, format_time
from edge_agent.status import agent_running, collect_status


def _journal_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--journal", help="journal path (default: [journal] path of --config, or the built-in default)")
    p.add_argument("--config", help="agent.toml to take the journal path from")


def open_journal(args: argparse.Namespace) -> Journal:
    path = args.journal or load_config(args.config).journal.path
    return Journal(path, create=False)


def open_journal_or_report(args: argparse.Namespace, command: str) -> Journal | None:
    """The journal for a read-side command, or None after printing why it cannot be opened."""
    try:
        return open_journal(args)
    except (JournalError, ConfigError) as exc:
        print(f"bearing-agent {command}: {exc}", file=sys.stderr)
        return None


def configure_status(p: argparse.ArgumentParser) -> None:
    _journal_args(p)
    p.add_argument("-n", "--last", type=int, default=10, help="how many recent snapshots to show (default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def configure_ack(p: argparse.ArgumentParser) -> None:
    _journal_args(p)


def _fmt(t: float | None) -> str:
    return "-" if t is None else format_time(t)


def main_status(args: argparse.Namespace) -> int:
    journal = open_journal_or_report(args, "status")
    if journal is None:
        return 2
    try:
        status = collect_status(journal, args.last)
    finally:
        journal.close()
    if args.json:
        print(json.dumps(status, indent=2, default=str))
        return 0
    hb = status["agent"]
    if not hb:
        print("agent: never started with this journal")
    else:
        run = ("running" if status["running"] else
               "stopped" if hb.get("stopped") else f"not running (last heartbeat {status['heartbeat_age_s']:.0f} s ago)")
        print(f"agent: {run}, pid {hb.get('pid')}, {hb.get('mode')} mode, since {_fmt(hb.get('started'))}")
        print(f"state: {hb.get('display', '?').upper()}" + (f"  (fault: {hb['fault']})" if hb.get("fault") else "")
              + ("  alarm latched" + (", acknowledged" if hb.get("alarm_acknowledged") else ", NOT acknowledged")
                 if hb.get("alarm_latched") else ""))
        print(f"bundle: {hb.get('bundle_id') or '-'}  port: {hb.get('port')} "
              f"({'connected' if hb.get('connected') else 'not connected'})  device: {hb.get('device_id') or '-'}")
    print(f"\nlast {len(status['snapshots'])} snapshots:")
    print(f"  {'time (UTC)':19}  {'first index':>12}  {'error':>10}  {'threshold':>10}  over  alarm  state")
    for r in status["snapshots"]:
        err = "-" if r["error"] is None else f"{r['error']:.6g}"
        thr = "-" if r["threshold"] is None else f"{r['threshold']:.6g}"
        over = "-" if r["over_threshold"] is None else "yes" if r["over_threshold"] else "no"
        alarm = "-" if r["alarm"] is None else "yes" if r["alarm"] else "no"
        print(f"  {_fmt(r['time']):19}  {r['first_index']:>12}  {err:>10}  {thr:>10}  {over:>4}  {alarm:>5}  {r['state']}")
    print("\ncounters:")
    for name, value in status["counters"].items():
        print(f"  {name:28} {value}")
    print("\nrecent events:")
    for e in status["events"]:
        print(f"  {_fmt(e['time'])}  {e['kind']:22} {e['detail']}")
    return 0


def main_ack(args: argparse.Namespace) -> int:
    journal = open_journal_or_report(args, "ack")
    if journal is None:
        return 2
    try:
        alarm = journal.get_state("alarm") or {}
        heartbeat = journal.get_state("heartbeat") or {}
        journal.request("ack", "command line")
    finally:
        journal.close()
    if not alarm.get("latched"):
        print("no latched alarm at the last journal write; acknowledgement queued anyway")
    else:
        print("acknowledgement queued; the agent applies it within about a second")
    if not agent_running(heartbeat):
        print("note: the agent does not seem to be running; it will apply the acknowledgement when it starts")
    return 0
