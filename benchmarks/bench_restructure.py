"""The agent before and after the restructuring (issue 10): CPU, peak memory and alarm latency, as a pair.

The same live stream (``bearing-replay --speed 1`` on a pty, every snapshot
scored) is read by ``bearing-agent run`` built from two trees, in turns:
``before`` is the revision the restructuring started from
(:data:`BEFORE_REV`, checked out into a temporary ``git worktree`` and run with
its own sources first on ``PYTHONPATH``), ``after`` is this working tree. Both
use the same bundle, interpreter and libraries, so the pair isolates what the
new structure (sensor board, sinks, one feature history, ...) costs. Runs
alternate (before, after, before, after, ...) so a load change on the machine
hits both; CPU and latency are medians over the runs, peak RSS the maximum.

Needs a git checkout with that revision (a clone has it); says so otherwise.
Run: ``python -m benchmarks.bench_restructure [--quick]``.
"""
from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import bench_agent as ba
from benchmarks.harness import BenchResult

#: The last commit before the restructuring (issue 10 builds on it).
BEFORE_REV = "5568d26"
#: How each tree starts the agent: the command module moved in the restructuring.
AGENT_MODULE = {"before": "edge_agent.cli", "after": "edge_agent.cli.main"}


class BenchSkipped(RuntimeError):
    """The before tree cannot be had here (no git, or a clone without that revision)."""


def _worktree(dest: Path) -> Path:
    """Check ``BEFORE_REV`` out into ``dest`` (a detached git worktree) and byte-compile it."""
    if shutil.which("git") is None:
        raise BenchSkipped("git is not installed: cannot check out the tree from before the restructuring")
    proc = subprocess.run(["git", "-C", str(ba.REPO), "worktree", "add", "--detach", str(dest), BEFORE_REV],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchSkipped(f"cannot check out {BEFORE_REV} ({proc.stderr.strip()}); run from a git clone")
    for package in ("edge_agent", "firmware_io"):
        compileall.compile_dir(dest / package, quiet=1)
    return dest


def _remove_worktree(dest: Path) -> None:
    subprocess.run(["git", "-C", str(ba.REPO), "worktree", "remove", "--force", str(dest)], capture_output=True)


def _one_run(tmp: Path, tree: Path, which: str, bundle: Path, config: Path, window: float) -> dict:
    """One agent from ``tree`` on a fresh real-time pty stream: its figures and latencies."""
    replay, url, cleanup = ba._transport(tmp, "pty", tree)  # each agent with the replay of its own revision
    journal = tmp / f"journal-{which}-{time.monotonic_ns()}.sqlite"
    env = {**os.environ, "PYTHONPATH": str(tree)}  # the tree's own sources win over the editable install
    agent = subprocess.Popen([sys.executable, "-m", AGENT_MODULE[which], "run", "--config", str(config),
                              "--bundle", str(bundle), "--port", url, "--journal", str(journal),
                              "--interval", "0", "--log-level", "WARNING"], cwd=tree, env=env)
    try:
        if not ba._wait(lambda: len(ba._snapshot_rows(journal)) >= 2, 90):
            raise RuntimeError(f"the {which} agent journaled no snapshot within 90 s")
        n0 = len(ba._snapshot_rows(journal))
        figures = ba._measure(agent, window)
    finally:
        ba._stop(agent)
        cleanup()
    rows = ba._snapshot_rows(journal)[n0:]
    return {**figures, **ba._latencies(rows), "snapshots": len(rows)}


def run(quick: bool = False) -> BenchResult:
    window, pairs = (15.0, 2) if quick else (30.0, 3)
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="bench-restructure-") as tmp_name:
        tmp = Path(tmp_name)
        before = _worktree(tmp / "before")
        try:
            bundle = ba._bundle(tmp, quick)
            ba._byte_compile()
            config = tmp / "agent.toml"
            config.write_text('[gpio]\npin_factory = "mock"\n')
            for _ in range(pairs):
                runs["before"].append(_one_run(tmp, before, "before", bundle, config, window))
                runs["after"].append(_one_run(tmp, ba.REPO, "after", bundle, config, window))
        finally:
            _remove_worktree(before)

    def summary(rs: list[dict]) -> dict:
        return {"cpu_pct_median": statistics.median(r["cpu_pct"] for r in rs),
                "peak_rss_mib_max": max(r["peak_rss_mib"] for r in rs),
                "latency_ms_median": statistics.median(r["latency_ms_median"] for r in rs),
                "latency_ms_max": max(r["latency_ms_max"] for r in rs),
                "snapshots": sum(r["snapshots"] for r in rs), "runs": rs}

    figures = {"before_rev": BEFORE_REV, "window_s": window, "pairs": pairs,
               "load_average": [round(x, 2) for x in os.getloadavg()],
               "before": summary(runs["before"]), "after": summary(runs["after"])}
    b, a = figures["before"], figures["after"]
    markdown = "\n".join([
        f"`bearing-agent run --interval 0` on a real-time pty replay, built from `{BEFORE_REV}` (before the "
        f"restructuring) and from this tree (after), {pairs} alternating runs each of {window:.0f} s; "
        f"load average at the end {figures['load_average'][0]:.2f}.",
        "",
        "| figure | before | after | after / before |",
        "|---|---|---|---|",
        f"| CPU, % of one core (median of runs) | {b['cpu_pct_median']:.2f} % | {a['cpu_pct_median']:.2f} % | "
        f"{a['cpu_pct_median'] / b['cpu_pct_median']:.2f} |",
        f"| peak RSS, max over runs | {b['peak_rss_mib_max']:.1f} MiB | {a['peak_rss_mib_max']:.1f} MiB | "
        f"{a['peak_rss_mib_max'] / b['peak_rss_mib_max']:.2f} |",
        f"| last byte -> alarm output, median / max | {b['latency_ms_median']:.2f} / {b['latency_ms_max']:.2f} ms | "
        f"{a['latency_ms_median']:.2f} / {a['latency_ms_max']:.2f} ms | "
        f"{a['latency_ms_median'] / b['latency_ms_median']:.2f} (median) |",
        f"| snapshots scored in the windows | {b['snapshots']} | {a['snapshots']} | - |",
    ])
    return BenchResult("restructure", "The agent before and after the restructuring (issue 10)", figures, markdown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 pairs of 15 s runs instead of 3 pairs of 30 s")
    args = parser.parse_args()
    try:
        print(run(args.quick).markdown)
    except BenchSkipped as exc:
        print(f"bench_restructure: skipped: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
