"""The status page (``bearing-agent web``) on a year of journal: response times and peak memory.

A journal with 500,000 snapshot rows (the ``[journal] max_snapshots`` default:
one every 63 s for a year, with alarm periods and a few thousand events) is
written first; then the real ``bearing-agent web`` process serves it on a free
127.0.0.1 port and is asked, over HTTP, what the page asks:

* ``/api/timeline`` for 24 h, 7 days and everything (600 points, downsampled
  by SQLite in the process), and ``/api/status``: median and 90th percentile
  of the full request (connect, query, JSON, read);
* the same 7-day view while a writer appends snapshots as fast as it can
  (what a replay at ``--speed 0 --interval 0`` does to the journal);
* the process's peak RSS (``VmHWM``) after all of it.

Goals: the 7-day view under 200 ms, peak RSS at most 30 MiB.

Run: ``python -m benchmarks.bench_web`` (``--quick``: 100,000 rows, fewer repeats).
"""
from __future__ import annotations

import argparse
import compileall
import json
import math
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from benchmarks.harness import BenchResult
from edge_agent.journal import Journal, SnapshotRow
from firmware_io.recordings import ims as datasets

GOAL_7D_MS = 200.0
GOAL_RSS_MIB = 30.0
ROWS, QUICK_ROWS = 500_000, 100_000
YEAR_S = 365 * 86400.0
CHANNELS = ["Bearing 1", "Bearing 2", "Bearing 3", "Bearing 4"]
THRESHOLD = 0.3024


def fill_journal(path: Path, n: int, seed: int = 0) -> None:
    """``n`` snapshots over a year ending now, as the agent journals them, with 12 alarm periods and events."""
    rng = random.Random(seed)
    j = Journal(path)
    sid = j.stream_id("bench-board", "1.0", 20000, len(CHANNELS), 0.001, CHANNELS)
    t_end = time.time()
    step = YEAR_S / n
    alarms = {int(n * (k + 0.5) / 12): rng.randint(20, 300) for k in range(12)}
    rows, events, left = [], [], 0
    for i in range(n):
        t = t_end - YEAR_S + i * step
        if i in alarms:
            left = alarms[i]
            events.append((t, "alarm_raised", "debounced reconstruction error over the threshold"))
        in_alarm = left > 0
        left -= 1
        if left == 0:
            events.append((t, "alarm_cleared", "acknowledged after the condition cleared"))
        err = abs(rng.gauss(0.12, 0.03)) + (rng.uniform(0.5, 5.0) if in_alarm else 0.0)
        feats = [0.06 + 0.005 * math.sin(i / 500 + c) + rng.gauss(0, 0.002) for c in range(len(CHANNELS))]
        if i % 250 == 0:
            events.append((t, "frames_lost", "3 frames bad or missing, 0 samples missing"))
        rows.append((t, i * 20480, sid, json.dumps(feats), err, THRESHOLD, int(err > THRESHOLD), int(in_alarm),
                     "alarm" if in_alarm else "normal", "bench-bundle", 1.0, t))
    # One bulk transaction (the agent writes one row per transaction; the result is the same table).
    with j.transaction() as db:
        db.executemany("INSERT INTO snapshots (time, first_index, stream_id, features, error, threshold, "
                       "over_threshold, alarm, state, bundle_id, latency_ms, recorded) "
                       "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        db.executemany("INSERT INTO events (time, kind, detail, bundle_id) VALUES (?, ?, ?, 'bench-bundle')", events)
    j.event("bundle_loaded", f"bench-bundle from /var/lib/bearing-agent/bundle: variant float32, runtime "
                             f"ai-edge-litert, threshold {THRESHOLD}, debounce 3, T=1")
    j.set_state(heartbeat={"time": time.time(), "pid": 1, "started": t_end - YEAR_S, "mode": "scoring",
                           "bundle_id": "bench-bundle", "bundle_path": None, "port": "/dev/ttyACM0",
                           "connected": True, "display": "normal", "fault": None, "alarm_latched": False,
                           "alarm_acknowledged": False, "device_id": "bench-board", "interval_s": 0},
                alarm={"condition": False, "latched": False, "acknowledged": False})
    j.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as r:
        r.read()
    return time.perf_counter() - t0


def _times(url: str, repeats: int) -> dict[str, float]:
    _get(url)  # warm-up: SQLite's page cache and the OS file cache, as for a page that polls
    samples = sorted(_get(url) for _ in range(repeats))
    return {"median_ms": 1000 * statistics.median(samples),
            "p90_ms": 1000 * samples[min(len(samples) - 1, int(0.9 * len(samples)))], "repeats": repeats}


def _writer(path: Path, stop: threading.Event, counter: list[int]) -> None:
    """Append snapshots one transaction each, as fast as possible (the agent on a --speed 0 replay)."""
    j = Journal(path)
    sid = j.stream_id("bench-board", "1.0", 20000, len(CHANNELS), 0.001, CHANNELS)
    t = time.time()
    while not stop.is_set():
        t += 1.0
        j.record_snapshot(SnapshotRow(t, 0, sid, [0.06] * 4, 0.1, THRESHOLD, False, False, "normal", "bench-bundle", 1.0))
        counter[0] += 1
    j.close()


def _peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024.0


def run(quick: bool = False) -> BenchResult:
    n = QUICK_ROWS if quick else ROWS
    repeats = 7 if quick else 25
    for package in ("edge_agent", "firmware_io"):  # as installed by pip: no compiling at start-up
        compileall.compile_dir(datasets.REPO_ROOT / package, quiet=1)
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        path = Path(tmp) / "journal.sqlite"
        t0 = time.perf_counter()
        fill_journal(path, n)
        fill_s = time.perf_counter() - t0
        port = _free_port()
        proc = subprocess.Popen([sys.executable, "-m", "edge_agent.cli.main", "web", "--journal", str(path),
                                 "--listen", f"127.0.0.1:{port}", "--log-level", "WARNING"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    _get(base + "/static/style.css")
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError(f"bearing-agent web did not start: {proc.stderr.read().decode()}")
                    time.sleep(0.1)
            idle_rss = _peak_rss_mib(proc.pid)
            figures: dict = {"rows": n, "fill_s": fill_s, "idle_peak_rss_mib": idle_rss, "views": {}}
            for name, url in (("status", "/api/status"), ("timeline 24 h", "/api/timeline?range=24h&points=600"),
                              ("timeline 7 days", "/api/timeline?range=7d&points=600"),
                              ("timeline all (a year)", "/api/timeline?range=all&points=600"),
                              ("page files (index.html)", "/")):
                figures["views"][name] = _times(base + url, repeats)
            with urllib.request.urlopen(base + "/api/timeline?range=7d&points=600", timeout=30) as r:
                body = json.loads(r.read())
            figures["points_7d"] = len(body["buckets"])
            figures["rows_7d"] = body["rows"]
            stop, written = threading.Event(), [0]
            writer = threading.Thread(target=_writer, args=(path, stop, written), daemon=True)
            t_w = time.perf_counter()
            writer.start()
            try:
                figures["views"]["timeline 7 days, writer appending"] = _times(
                    base + "/api/timeline?range=7d&points=600", repeats)
            finally:
                stop.set()
                writer.join(30)
            figures["writer_rows_per_s"] = written[0] / (time.perf_counter() - t_w)
            figures["peak_rss_mib"] = _peak_rss_mib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(20)
    seven = figures["views"]["timeline 7 days"]["median_ms"]
    figures["timeline_7d_ms"] = seven
    ok = lambda v, goal: "met" if v <= goal else "NOT met"  # noqa: E731
    rows = [f"| {name} | {v['median_ms']:.1f} | {v['p90_ms']:.1f} |" for name, v in figures["views"].items()]
    markdown = "\n".join([
        f"`bearing-agent web` (its own process, standard library HTTP server) serving a journal of {n:,} "
        f"snapshots over a year ({figures['rows_7d']:,} in the last 7 days, downsampled to "
        f"{figures['points_7d']} points), asked over HTTP on 127.0.0.1; {repeats} requests per view after "
        f"one warm-up. The writer appended {figures['writer_rows_per_s']:,.0f} snapshots/s (one transaction "
        "each) during its row.",
        "",
        "| request | median ms | p90 ms |",
        "|---|---:|---:|",
        *rows,
        "",
        f"**7-day view: {seven:.1f} ms** (goal < {GOAL_7D_MS:g} ms: {ok(seven, GOAL_7D_MS)}); "
        f"**peak RSS {figures['peak_rss_mib']:.1f} MiB** after all requests ({figures['idle_peak_rss_mib']:.1f} MiB "
        f"before the first; goal <= {GOAL_RSS_MIB:g} MiB: {ok(figures['peak_rss_mib'], GOAL_RSS_MIB)}).",
    ])
    goals = {f"7-day view < {GOAL_7D_MS:g} ms": seven <= GOAL_7D_MS,
             f"peak RSS <= {GOAL_RSS_MIB:g} MiB": figures["peak_rss_mib"] <= GOAL_RSS_MIB}
    return BenchResult("web", "Status page: response time and memory on a year of journal", figures, markdown, goals)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    print(run(ap.parse_args().quick).markdown)
