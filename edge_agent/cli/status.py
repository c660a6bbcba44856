"""``bearing-agent status``: the agent's state, last scores, counters and events, from the journal.

It works from another shell while the agent runs (the journal is in WAL
mode), with read access to the journal file only. What it prints comes from
:func:`edge_agent.status.collect_status`; ``--json`` prints that dict as is.
The diagnosis line names the bearing and the defect of the newest snapshot that was over the threshold.
"""
from __future__ import annotations

import argparse

from edge_agent.cli.journal_options import add_journal_options, journal_from_args
from edge_agent.cli.terminal_text import printable
from edge_agent.journal import format_time
from edge_agent.status import collect_status, deploy_words, diagnosis_words
from edge_agent.strict_json import dumps

#: The most snapshots ``-n`` shows (a screenful is 50; more is what ``export`` is for).
MAX_LAST = 100_000


def _last(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text[:7]) <= MAX_LAST or len(text) > 6:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {MAX_LAST:,} "
                                         f"(for more rows: bearing-agent export), got {text[:30]!r}")
    return int(text)


def configure(p: argparse.ArgumentParser) -> None:
    add_journal_options(p)
    p.add_argument("-n", "--last", type=_last, default=10,
                   help=f"how many recent snapshots to show (default 10, at most {MAX_LAST:,})")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _fmt(t: float | None) -> str:
    return "-" if t is None else format_time(t)


def run(args: argparse.Namespace) -> int:
    journal = journal_from_args(args)
    try:
        status = collect_status(journal, args.last)
    finally:
        journal.close()
    if args.json:  # strict JSON: a non-finite error in the journal is null, never Infinity
        print(dumps(status, indent=2, default=str))
        return 0
    _print_text(status)
    return 0


def _say(line: str = "") -> None:
    """Print one line of text the device chose or the journal holds: escaped, never raw (issue 21 #22)."""
    print(printable(line))


def _print_text(status: dict) -> None:
    hb = status["agent"]
    if not hb:
        _say("agent: never started with this journal")
    else:
        running = ("running" if status["running"] else "stopped" if hb.get("stopped") else
                   "not running, or unable to write its journal (last heartbeat "
                   + (f"{status['heartbeat_age_s']:.0f} s ago" if status["heartbeat_age_s"] is not None else
                      "at an unknown time: written in another boot, or the clock changed since")
                   + "; see journalctl -u bearing-agent)")
        _say(f"agent: {running}, pid {hb.get('pid')}, {hb.get('mode')} mode, since {_fmt(hb.get('started'))}")
        # The latch as journaled the moment it changed (an acknowledgement is written at once), not the
        # heartbeat's copy, which is up to a flush old: "NOT acknowledged" for seconds after an ack (issue 21 #26).
        latch = status["alarm"] or {"latched": hb.get("alarm_latched"), "acknowledged": hb.get("alarm_acknowledged")}
        _say(f"state: {hb.get('display', '?').upper()}" + (f"  (fault: {hb['fault']})" if hb.get("fault") else "")
             + ("  alarm latched" + (", acknowledged" if latch.get("acknowledged") else ", NOT acknowledged")
                if latch.get("latched") else ""))
        f = status["facts"]
        _say(f"machine: {(f['machine_state'] or '-').upper()}  level: {(f['level'] or '-').upper()}"
             + (f"  alarm at {f['alarm_level'].upper()}" if f["alarm_level"] else "")
             + (f"  sensor fault: {f['fault']}" if f["fault"] else ""))
        if f["alarm_latched"] and f["diagnosis"]:
            most = f["dominant_diagnosis"]
            _say(f"alarm diagnosis: {f['diagnosis']} (the snapshot that raised it)"
                 + (f"; most of its snapshots: {most}" if most and most != f["diagnosis"] else ""))
        change = f["baseline_change"] or {}
        if change.get("since_commissioning"):
            c, a = change["since_commissioning"], change.get("since_active") or {}
            _say(f"change over the commissioning baseline: {c['feature']} {c['db']:+.1f} dB"
                 + (f"; over the active baseline: {a['feature']} {a['db']:+.1f} dB" if a and a != c else "")
                 + " (information, not an alarm)")
        _say_condition(f)
        if f["rebaseline"]:
            r = f["rebaseline"]
            _say(f"re-baseline in progress since {_fmt(r.get('since'))} UTC, by {r.get('by')}: {r.get('reason')} "
                 "(judged at Danger only meanwhile)")
        _say(f"bundle: {hb.get('bundle_id') or '-'}" + (f" (slot {f['slot']})" if f["slot"] else "")
             + f"  port: {hb.get('port')} "
             f"({'connected' if hb.get('connected') else 'not connected'})  device: {hb.get('device_id') or '-'}")
        if f["deploy"]:
            _say(f"deploy: {deploy_words(f['deploy'])}")
    if status["diagnosis"]:  # a version-1 journal, or one never over the threshold, has none
        d = status["diagnosis"]
        _say(f"diagnosis: {diagnosis_words(d)} (snapshot {_fmt(d['time'])} UTC, the last over the threshold) "
             "[the autoencoder's: where its error is, not a vibration analysis]")
    _say()
    _say(f"last {len(status['snapshots'])} snapshots:")
    _say(f"  {'time (UTC)':19}  {'first index':>12}  {'error':>10}  {'threshold':>10}  over  alarm  state     "
         "machine       level")
    for r in status["snapshots"]:
        err = "-" if r["error"] is None else f"{r['error']:.6g}"
        thr = "-" if r["threshold"] is None else f"{r['threshold']:.6g}"
        over = "-" if r["over_threshold"] is None else "yes" if r["over_threshold"] else "no"
        alarm = "-" if r["alarm"] is None else "yes" if r["alarm"] else "no"
        _say(f"  {_fmt(r['time']):19}  {r['first_index']:>12}  {err:>10}  {thr:>10}  {over:>4}  {alarm:>5}  "
             f"{r['state']:8}  {r.get('machine_state') or '-':12}  {r.get('level') or '-'}")
    _say()
    _say("counters:")
    for name, value in status["counters"].items():
        _say(f"  {name:28} {value}")
    _say()
    _say("recent events:")
    for e in status["events"]:
        _say(f"  {_fmt(e['time'])}  {e['kind']:22} {e['detail']}")


def _say_condition(f: dict) -> None:
    """Velocity with its ISO zone, and the physics diagnosis (or why there is none)."""
    v = f.get("velocity")
    if v:
        _say("velocity RMS 10-1000 Hz: " + ", ".join(f"{n} {mm:.2f} mm/s zone {z}" for n, mm, z in
                                                    zip(v["channels"], v["mm_s"], v["zones"]))
             + f" ({v['class']}; snapshot {_fmt(v['time'])} UTC)")
    p = f.get("physics_diagnosis")
    if not p:
        return
    if not p["available"]:
        _say(f"physics diagnosis: {p['why_not']}")
    elif p["part"] is None:
        _say("physics diagnosis: none yet (no alarming snapshot since the bundle was loaded)")
    else:
        _say(f"physics diagnosis: {p['part'].replace('_', ' ')}, confidence {p['confidence']:.2f} "
             f"(envelope spectrum of the {p['level']} snapshot {_fmt(p['time'])} UTC against the commissioning "
             f"baseline): {p['text']}")
