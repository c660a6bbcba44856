"""``bearing-bench``: run every benchmark and write RESULTS.md and results.json.

Each ``benchmarks/bench_*.py`` module measures one thing against its real
alternative in the same run and returns a :class:`benchmarks.harness.BenchResult`.
This command runs them one after another (never in parallel: they would
disturb each other's timings), shows progress, and records the machine.
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF C++ logs would bury the progress display
import importlib
import json
import platform
import sys
import time
import traceback
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Sequence

from rich.console import Console

from benchmarks.harness import BenchResult
from firmware_io.cli_support import main_single
from firmware_io.errors import BearingEdgeError

BENCH_DIR = Path(__file__).resolve().parent
#: Where a run writes by default: git-ignored, so a run never overwrites the committed benchmarks/RESULTS.md
#: (regenerate that one on purpose with ``--out benchmarks``).
DEFAULT_OUT = BENCH_DIR.parent / "bench-output"
#: Cheap first, so a broken environment shows up before the long ones run.
ORDER = ["features", "condition", "physics_diagnosis", "decoder", "firmware", "ingest", "inference", "training", "agent",
         "probation", "web", "fleet", "detection", "levels", "baselines"]

console = Console(stderr=True)


class BenchError(BearingEdgeError):
    """The benchmarks cannot run as asked (e.g. nowhere to write the results)."""


def discover() -> list[str]:
    names = sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for dist in ("numpy", "tensorflow-cpu", "tensorflow", "keras", "ai-edge-litert", "scikit-learn",
                 "pyserial", "gpiozero", "bearing-edge"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return {
        "load": [_load()],
        "cpu": cpu,
        "cores": os.cpu_count(),
        "affinity_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


#: Hand-written sections of the committed RESULTS.md (how figures vary with load and CPU, tables moved
#: from the README) live between these lines; every run carries them over below the machine.
KEPT_BEGIN, KEPT_END = "<!-- written by hand, kept by bearing-bench: begin -->", "<!-- kept: end -->"


def kept_sections(path: Path = BENCH_DIR / "RESULTS.md") -> str:
    """The hand-written block of the committed RESULTS.md, markers included ("" when there is none)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    start, end = text.find(KEPT_BEGIN), text.find(KEPT_END)
    return text[start:end + len(KEPT_END)] if 0 <= start < end else ""


def _load() -> float:
    """The 1-minute load average (0 where the platform has none)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def render_markdown(results: list[BenchResult], machine: dict, quick: bool, command: str,
                    failures: dict[str, str], elapsed: float, kept: str = "") -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
        f"{' (quick mode: fewer repeats and seeds)' if quick else ''}, in {elapsed:.0f} s.",
        "Every figure below was measured in this run; ratios compare figures measured side by side",
        "in the same run. Times are medians over repeats with the 10th-90th percentile in brackets.",
        "",
        "## Machine",
        "",
        f"- CPU: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB",
        f"- {machine['platform']}, Python {machine['python']}",
        "- " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()),
    ]
    if machine.get("load"):  # other processes' load changes every time figure: say how busy the machine was
        lines.append("- load average (1 min) at the start and end of the run: "
                     + " / ".join(f"{v:.1f}" for v in machine["load"]))
    lines += [
        "",
    ]
    if kept:
        lines += [kept, ""]
    for r in results:
        lines += [f"## {r.title}", "", r.markdown.strip(), ""]
    missed = missed_goals(results)
    if missed:
        lines += ["## Goals missed in this run", ""] + [f"- {m}" for m in missed] + [""]
    if failures:
        lines += ["## Benchmarks that failed", ""]
        lines += [f"- `{name}`: {msg}" for name, msg in failures.items()]
        lines.append("")
    return "\n".join(lines)


def missed_goals(results: list[BenchResult]) -> list[str]:
    """Every goal a result says this run missed, as ``<benchmark>: <goal>``."""
    return [f"{r.name}: {goal}" for r in results for goal, met in r.goals.items() if not met]


def _benchmark_name(name: str) -> str:
    if name not in discover():
        raise argparse.ArgumentTypeError(f"unknown benchmark {name!r}; available: {', '.join(discover())}")
    return name


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="fewer repeats and seeds (a few minutes)")
    p.add_argument("--only", nargs="+", metavar="NAME", type=_benchmark_name,
                   help=f"run only these (of {', '.join(discover())})")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="folder for RESULTS.md, results.json and plots (default bench-output/, git-ignored; "
                        "--out benchmarks regenerates the committed results)")


def run(args: argparse.Namespace) -> int:
    names = [n for n in discover() if not args.only or n in args.only]
    try:  # before an hour of benchmarks, not after
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchError(f"{args.out}: cannot write the results there ({exc.strerror}); pass --out DIR") from None
    os.environ["BEARING_BENCH_OUT"] = str(args.out.resolve())  # benchmarks that write plots put them here
    machine = machine_info()
    results: list[BenchResult] = []
    failures: dict[str, str] = {}
    started = time.perf_counter()
    for i, name in enumerate(names, 1):
        console.rule(f"[bold]{i}/{len(names)} {name}")
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.bench_{name}")
            result = module.run(quick=args.quick)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failures[name] = f"{type(exc).__name__}: {exc}"
            continue
        result.figures.setdefault("elapsed_s", round(time.perf_counter() - t0, 2))
        results.append(result)
        console.print(result.markdown)
    elapsed = time.perf_counter() - started
    machine["load"] = machine["load"] + [_load()]

    command = "bearing-bench" + (" --quick" if args.quick else "") + (
        f" --only {' '.join(args.only)}" if args.only else "")
    stem = "RESULTS" if not args.only else "RESULTS-partial"
    (args.out / f"{stem}.md").write_text(render_markdown(results, machine, args.quick, command, failures, elapsed,
                                                                  kept_sections()))
    missed = missed_goals(results)
    payload = {"command": command, "quick": args.quick, "machine": machine, "elapsed_s": elapsed,
               "results": {r.name: r.figures for r in results}, "failures": failures, "missed_goals": missed}
    json_name = "results.json" if not args.only else "results-partial.json"
    (args.out / json_name).write_text(json.dumps(payload, indent=2, default=str) + "\n")
    console.print(f"wrote {args.out / (stem + '.md')} and {args.out / json_name} in {elapsed:.0f} s")
    for m in missed:
        console.print(f"[bold red]goal missed[/]: {m}")
    # docs/cli.md: 1 = ran, and the answer is no (a goal missed, or a benchmark failed)
    return 1 if failures or missed else 0


def main(argv: Sequence[str] | None = None) -> int:
    return main_single("bearing-bench", sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
