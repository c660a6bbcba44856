"""Where the edge agent's memory goes: the libraries it needs, imported one at a time.

``python -m benchmarks.memory_floor BUNDLE`` starts a fresh Python process that
imports what the agent imports, step by step, and prints the resident set
(``VmRSS``) after each step. The last line is the floor set by the libraries
alone; the agent's peak (``bearing-bench``, agent section) is this floor plus
its own code and data. Use the bundle ``make demo`` writes (``demo-output/bundle``).

One run is not a figure: resident pages depend on the Python and numpy builds, the
TFLite runtime and its version, the allocator, and on what the machine's other
processes keep in memory (a loaded machine evicts and re-faults shared library
pages differently). So the script runs ``--repeat`` fresh processes (default 5)
and reports, per step, the **maximum** over the runs with the minimum beside it.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

# Each step runs in the same fresh process, in this order; VmRSS is read after each.
_SCRIPT = r"""
import json, sys
def rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
steps = [("Python interpreter", rss_mib())]
import numpy as np
steps.append(("import numpy", rss_mib()))
from edge_agent.scoring import runtime
runtime.load_interpreter  # the runtime library itself is imported on first use
from edge_agent.scoring.bundle import load_bundle
bundle = load_bundle(sys.argv[1])
steps.append(("TFLite runtime imported, bundle verified (its model loaded once)", rss_mib()))
runner = runtime.ModelRunner(bundle.model_path)
runner(np.zeros((1, bundle.spec.timesteps, bundle.spec.n_features), dtype=np.float32))
steps.append(("one interpreter created and invoked", rss_mib()))
from gpiozero import LED
from gpiozero.pins.mock import MockFactory
LED(17, pin_factory=MockFactory()).blink(0.1, 1.9)
steps.append(("gpiozero, mock pins, a blinking LED", rss_mib()))
import serial, sqlite3
sqlite3.connect(":memory:").execute("select 1")
steps.append(("pyserial, sqlite3 with one connection", rss_mib()))
print(json.dumps(steps))
"""


def measure_max(bundle: Path, repeat: int = 5) -> list[tuple[str, float, float]]:
    """Each step's (name, maximum RSS, minimum RSS) over ``repeat`` fresh processes."""
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    runs = [measure(bundle) for _ in range(repeat)]
    return [(name, max(run[k][1] for run in runs), min(run[k][1] for run in runs))
            for k, (name, _) in enumerate(runs[0])]


def measure(bundle: Path) -> list[tuple[str, float]]:
    out = subprocess.run([sys.executable, "-c", _SCRIPT, str(bundle)], check=True, capture_output=True,
                         text=True).stdout
    return [tuple(step) for step in json.loads(out.strip().splitlines()[-1])]


def markdown(steps: list[tuple[str, float, float]], repeat: int) -> str:
    lines = [f"| step (fresh process; max of {repeat} runs) | + MiB | RSS MiB, max | min |", "|---|---:|---:|---:|"]
    previous = 0.0
    for name, rss, low in steps:
        lines.append(f"| {name} | {rss - previous:+.1f} | {rss:.1f} | {low:.1f} |")
        previous = rss
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.memory_floor", description=__doc__.splitlines()[0])
    p.add_argument("bundle", type=Path, help="a bundle directory or .tar.gz (e.g. demo-output/bundle)")
    p.add_argument("--repeat", type=int, default=5, help="fresh processes to take the maximum over (default 5)")
    args = p.parse_args(argv)
    print(markdown(measure_max(args.bundle, args.repeat), args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
