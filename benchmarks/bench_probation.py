"""What a deploy's probation costs the agent: a second bundle loaded and every snapshot scored twice.

``python -m benchmarks.bench_probation BUNDLE`` starts fresh Python processes that load the bundle as the
agent does (``edge_agent.reload.load_scorer``: verified, probed, its scorer built), score snapshots with it,
then load it a second time (a second interpreter and a second copy of the model's bytes: what
``bearing-agent deploy`` keeps during probation), score with both, and let the second go. It prints the
resident set (``VmRSS``) and its peak (``VmHWM``) after each step, and the scoring time per snapshot with one
bundle and with two. Figures are the maximum over ``--repeat`` processes (the minimum beside it): resident
pages depend on the machine (see benchmarks/memory_floor.py). The agent's own figures are bench_agent's.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from benchmarks.harness import BenchResult

_SCRIPT = r"""
import gc, json, sys, time
import numpy as np
from edge_agent.config import AgentSection
from edge_agent.reload import load_scorer

def memory():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return [int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")]

def score(scorers, n):
    x = np.full(scorers[0].n_features, 0.1)
    started = time.perf_counter()
    for k in range(n):
        for s in scorers:
            s.score(x, time_s=1.0e9 + 600 * k)
    return (time.perf_counter() - started) / n * 1000

section = AgentSection(bundle=sys.argv[1])
n = int(sys.argv[2])
first = load_scorer(section)
one_ms = score([first.scorer], n)
steps = [("one bundle loaded and scoring (outside a deploy)", *memory(), one_ms)]
second = load_scorer(section)
two_ms = score([first.scorer, second.scorer], n)
steps.append(("a second bundle loaded, both scoring (probation)", *memory(), two_ms))
del second
gc.collect()
score([first.scorer], n)
steps.append(("the second let go (commit or rollback)", *memory(), None))
print(json.dumps(steps))
"""


def measure(bundle: Path, snapshots: int) -> list[list]:
    out = subprocess.run([sys.executable, "-c", _SCRIPT, str(bundle), str(snapshots)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def markdown(runs: list[list[list]]) -> str:
    lines = [f"| step (fresh process; max / min of {len(runs)} runs) | VmRSS MiB | VmHWM MiB | ms per snapshot |",
             "|---|---:|---:|---:|"]
    for k, (name, *_rest) in enumerate(runs[0]):
        rss = [run[k][1] for run in runs]
        hwm = [run[k][2] for run in runs]
        ms = [run[k][3] for run in runs if run[k][3] is not None]
        lines.append(f"| {name} | {max(rss):.1f} / {min(rss):.1f} | {max(hwm):.1f} / {min(hwm):.1f} | "
                     + (f"{max(ms):.2f} / {min(ms):.2f}" if ms else "-") + " |")
    return "\n".join(lines)


def run(quick: bool = False) -> BenchResult:
    """For ``bearing-bench``: bench_agent's bundle (T=2, float32), 5 fresh processes (2 when quick)."""
    import tempfile

    from benchmarks.bench_agent import _bundle

    with tempfile.TemporaryDirectory(prefix="bench-probation-") as tmp:
        runs = [measure(_bundle(Path(tmp), quick), 50) for _ in range(2 if quick else 5)]
    hwm = {name: max(run[k][2] for run in runs) for k, (name, *_rest) in enumerate(runs[0])}
    one, two = list(hwm.values())[0], max(list(hwm.values())[1:])
    return BenchResult("probation", "What a deploy's probation costs: a second bundle loaded beside the first",
                       figures={"runs": runs, "extra_peak_mib": round(two - one, 2)}, markdown=markdown(runs)
                       + f"\n\nExtra peak memory while two bundles score: {two - one:+.1f} MiB (the issue's "
                       "budget for the agent outside a deploy is +1 MiB; during a probation it is this).")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_probation", description=__doc__.splitlines()[0])
    p.add_argument("bundle", type=Path, help="a bundle directory or .tar.gz (e.g. demo-output/bundle)")
    p.add_argument("--repeat", type=int, default=5, help="fresh processes (default 5)")
    p.add_argument("--snapshots", type=int, default=50, help="snapshots scored per step (default 50)")
    args = p.parse_args(argv)
    if args.repeat < 1 or args.snapshots < 1:
        p.error("--repeat and --snapshots must be at least 1")
    print(markdown([measure(args.bundle, args.snapshots) for _ in range(args.repeat)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
