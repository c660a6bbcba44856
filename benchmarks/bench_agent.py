"""The agent on a live stream: CPU, peak memory and alarm latency, in real time.

``bearing-replay`` streams the 25 bundled IMS test-2 snapshots (looping) as
4 channels x 20 kHz int16 frames, in real time, into a pty; ``bearing-agent
run`` (a separate process, the real CLI, mock GPIO pins) reads it, scores
**every** snapshot (``--interval 0``: about one a second, the worst case;
the default 600 s scores one in ten minutes) and journals it. Measured over
the window after the first snapshot:

* the agent's CPU use (user + system time / wall time, in % of one core);
* its peak RSS (``VmHWM``: the high-water mark since start);
* the latency from a snapshot's last byte to the alarm output, as the agent
  journals it per snapshot (``perf_counter`` from the moment the read that
  returned the snapshot's last byte saw its first byte, to after the GPIO
  outputs were set; an upper bound).

Baseline in the same run: a process that only reads the same stream with
the agent's serial link and throws the bytes away (the floor of reading
160 kB/s in Python). Goals: CPU <= 5 % of one core, peak RSS <= 50 MiB,
latency <= 20 ms.

The project's own modules are byte-compiled first, as ``pip install`` does on
the device: with ``PYTHONDONTWRITEBYTECODE`` set (as in the development
shell), the agent would otherwise compile its ~30 modules from source at every
start, which costs ~1.3 MiB of resident memory that no installed agent pays.

Run: ``python -m benchmarks.bench_agent`` (``--quick``: ~15 s windows instead
of ~45 s). Set ``BEARING_EDGE_BENCH_BUNDLE`` to use an existing bundle;
otherwise one is trained briefly and converted first (not timed).
"""
from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import psutil  # noqa: E402

from benchmarks.harness import BenchResult  # noqa: E402
from edge_agent.journal import Journal  # noqa: E402
from firmware_io.recordings import ims as datasets  # noqa: E402

GOAL_CPU_PCT = 5.0
GOAL_RSS_MIB = 50.0
GOAL_LATENCY_MS = 20.0
REPO = datasets.REPO_ROOT

# The floor: read the stream with the agent's own transport and discard it.
_READER_SCRIPT = """
import sys
from edge_agent.stream.serial_link import SerialLink
link = SerialLink(sys.argv[1], read_timeout_s=0.1)
while True:
    link.read()
"""


def _bundle(tmp: Path, quick: bool) -> Path:
    given = os.environ.get("BEARING_EDGE_BENCH_BUNDLE")
    if given:
        return Path(given)
    from convert.pipeline import convert_model_dir
    from train.fit import fit_model_dir

    fit_model_dir(datasets.FEATURES_TEST2, tmp / "model", datasets.TEST2_TRAIN_UNTIL, timesteps=2,
                  epochs=10 if quick else 30, make_plots=False)
    return convert_model_dir(tmp / "model", tmp / "bundle", variants=("float32",),
                             data=datasets.FEATURES_TEST2).bundle_dir


def _byte_compile() -> None:
    """Write the ``__pycache__`` files an installed agent has (pip compiles at install time)."""
    for package in ("edge_agent", "firmware_io"):
        if not compileall.compile_dir(REPO / package, quiet=1):
            raise RuntimeError(f"cannot byte-compile {REPO / package}")


def _replay(link: Path) -> subprocess.Popen:
    files = sorted(str(p) for p in datasets.RAW_TEST2_DIR.iterdir() if p.name[:4].isdigit())
    return subprocess.Popen([sys.executable, "-m", "firmware_io.simulator.replay_cli", *files, "--pty", "--link", str(link),
                             "--speed", "1", "--loops", "0"], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _measure(proc: subprocess.Popen, seconds: float) -> dict[str, float]:
    """CPU % of one core over ``seconds`` of wall time, and the peak RSS so far."""
    p = psutil.Process(proc.pid)
    c0, t0 = p.cpu_times(), time.monotonic()
    time.sleep(seconds)
    c1, t1 = p.cpu_times(), time.monotonic()
    status = dict(line.split(":", 1) for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines())
    kib = {k: int(status[k].split()[0]) for k in ("VmHWM", "RssAnon", "RssFile")}
    busy = (c1.user - c0.user) + (c1.system - c0.system)
    return {"cpu_pct": 100.0 * busy / (t1 - t0), "peak_rss_mib": kib["VmHWM"] / 1024.0,
            "rss_anon_mib": kib["RssAnon"] / 1024.0, "rss_file_mib": kib["RssFile"] / 1024.0, "wall_s": t1 - t0}


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _snapshot_rows(journal: Path) -> list[dict]:
    if not journal.exists():
        return []
    j = Journal(journal, create=False)
    try:
        return j.snapshots()
    finally:
        j.close()


def run(quick: bool = False) -> BenchResult:
    window = 15.0 if quick else 45.0
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as tmp_name:
        tmp = Path(tmp_name)
        bundle = _bundle(tmp, quick)
        _byte_compile()
        config = tmp / "agent.toml"
        config.write_text('[gpio]\npin_factory = "mock"\n')

        # the floor: a bare reader on the same real-time stream
        link = tmp / "tty-floor"
        replay = _replay(link)
        _wait(link.exists, 30)
        reader = subprocess.Popen([sys.executable, "-c", _READER_SCRIPT, str(link)], cwd=REPO)
        try:
            time.sleep(2.0)
            floor = _measure(reader, window / 3)
        finally:
            _stop(reader)
            _stop(replay)

        link = tmp / "tty-agent"
        journal = tmp / "journal.sqlite"
        replay = _replay(link)
        _wait(link.exists, 30)
        agent = subprocess.Popen([sys.executable, "-m", "edge_agent.cli.main", "run", "--config", str(config),
                                  "--bundle", str(bundle), "--port", str(link), "--journal", str(journal),
                                  "--interval", "0", "--log-level", "WARNING"], cwd=REPO)
        try:
            if not _wait(lambda: len(_snapshot_rows(journal)) >= 2, 60):
                raise RuntimeError("the agent journaled no snapshot within 60 s")
            n0 = len(_snapshot_rows(journal))
            figures = _measure(agent, window)
            replay_cpu = psutil.Process(replay.pid).cpu_percent(interval=1.0)
        finally:
            _stop(agent)
            _stop(replay)
        rows = _snapshot_rows(journal)
    window_rows = rows[n0:]
    latencies = sorted(r["latency_ms"] for r in window_rows if r["latency_ms"] is not None)
    scored = sum(r["error"] is not None for r in window_rows)
    lat_med = statistics.median(latencies) if latencies else float("nan")
    lat_p90 = latencies[int(0.9 * (len(latencies) - 1))] if latencies else float("nan")
    lat_max = latencies[-1] if latencies else float("nan")
    figures.update({
        "snapshots_in_window": len(window_rows), "snapshots_scored_in_window": scored,
        "latency_ms_median": lat_med, "latency_ms_p90": lat_p90, "latency_ms_max": lat_max,
        "floor_cpu_pct": floor["cpu_pct"], "floor_peak_rss_mib": floor["peak_rss_mib"],
        "floor_rss_anon_mib": floor["rss_anon_mib"], "floor_rss_file_mib": floor["rss_file_mib"],
        "cpu_vs_floor": figures["cpu_pct"] / floor["cpu_pct"] if floor["cpu_pct"] > 0 else float("nan"),
        "replay_cpu_pct": replay_cpu, "window_s": window,
        "latency_ms_all": [round(r["latency_ms"], 3) for r in window_rows if r["latency_ms"] is not None],
        "goal_cpu_pct": GOAL_CPU_PCT, "goal_rss_mib": GOAL_RSS_MIB, "goal_latency_ms": GOAL_LATENCY_MS,
    })

    def verdict(value: float, goal: float) -> str:
        return "meets" if value <= goal else "MISSES"

    f = figures
    markdown = "\n".join([
        f"`bearing-replay --speed 1` (25 IMS test-2 snapshots, looping) -> pty -> `bearing-agent run "
        f"--interval 0` (every snapshot scored: the worst case). Window {f['wall_s']:.0f} s after the first "
        f"snapshot; {f['snapshots_in_window']} snapshots journaled, {f['snapshots_scored_in_window']} scored.",
        "",
        "| figure | agent | floor (read + discard only) | goal |",
        "|---|---|---|---|",
        f"| CPU, % of one core | {f['cpu_pct']:.2f} % ({verdict(f['cpu_pct'], GOAL_CPU_PCT)}) | "
        f"{f['floor_cpu_pct']:.2f} % (agent = {f['cpu_vs_floor']:.2f} x floor) | <= {GOAL_CPU_PCT:g} % |",
        f"| peak RSS (VmHWM) | {f['peak_rss_mib']:.1f} MiB ({verdict(f['peak_rss_mib'], GOAL_RSS_MIB)}) | "
        f"{f['floor_peak_rss_mib']:.1f} MiB | <= {GOAL_RSS_MIB:g} MiB |",
        f"| of which private (RssAnon) / shared library pages (RssFile), at the end | "
        f"{f['rss_anon_mib']:.1f} / {f['rss_file_mib']:.1f} MiB | {f['floor_rss_anon_mib']:.1f} / "
        f"{f['floor_rss_file_mib']:.1f} MiB | - |",
        f"| last byte -> alarm output, median / p90 / max | {lat_med:.2f} / {lat_p90:.2f} / {lat_max:.2f} ms "
        f"({verdict(lat_max, GOAL_LATENCY_MS)}) | - | <= {GOAL_LATENCY_MS:g} ms |",
        "",
        f"The replay process itself used {f['replay_cpu_pct']:.1f} % of a core on the same machine. "
        "Latency is journaled by the agent per snapshot, from when the read returning the snapshot's last "
        "byte saw its first byte to after the GPIO outputs were set (then the row is written).",
    ])
    return BenchResult("agent", "Edge agent: CPU, memory, alarm latency on a live stream", figures, markdown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="~15 s windows instead of ~45 s")
    print(run(parser.parse_args().quick).markdown)


if __name__ == "__main__":
    main()
