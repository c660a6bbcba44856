"""Ingest speed: the kit's ``train.ingest`` against a plain pandas ``read_csv`` loop.

Both turn the bundled raw IMS test-2 snapshot files (25 real files, CRLF,
20,480 x 4 each) into the mean |x| per channel. The kit validates every file
(row and column counts, numbers, names, duplicate times), converts to exact
counts and spreads the files over the CPU cores; the baseline is the loop most
tutorials write (``pd.read_csv(sep="\\t", header=None)`` then ``abs().mean()``),
with no validation, on one core. Also shown: the kit on one process, to
separate the parallel speed-up from the parser. Figures are MB/s of raw text
and files/s, medians over repeats in the same run. The results must agree to 1e-12.

Run: ``python -m benchmarks.bench_ingest`` (quick: fewer repeats).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from benchmarks.harness import BenchResult, measure
from train import datasets
from train.ingest import ingest


def _files() -> list[Path]:
    return sorted(p for p in datasets.RAW_TEST2_DIR.iterdir() if p.is_file())


def pandas_loop(files: list[Path]) -> np.ndarray:
    """The baseline: one pandas read per file, mean |x| per column."""
    import pandas as pd

    return np.array([pd.read_csv(f, sep="\t", header=None).abs().mean().to_numpy() for f in files])


def run(quick: bool = False) -> BenchResult:
    files = _files()
    mb = sum(f.stat().st_size for f in files) / 1e6
    repeats = 3 if quick else 7
    kit_values = ingest([datasets.RAW_TEST2_DIR], progress=False).table.values
    diff = float(np.abs(kit_values - pandas_loop(files)).max())
    variants = {
        f"kit, {os.cpu_count()} processes": lambda: ingest([datasets.RAW_TEST2_DIR], progress=False),
        "kit, 1 process": lambda: ingest([datasets.RAW_TEST2_DIR], progress=False, workers=1),
        "pandas read_csv loop (baseline)": lambda: pandas_loop(files),
    }
    timings = {name: measure(fn, repeats=repeats, warmup=1, calls=1) for name, fn in variants.items()}
    base = timings["pandas read_csv loop (baseline)"].median
    figures = {"files": len(files), "megabytes": mb, "max_abs_diff_vs_pandas": diff}
    rows = []
    for name, t in timings.items():
        figures[name] = {**t.as_dict(), "mb_per_s": mb / t.median, "files_per_s": len(files) / t.median,
                         "speedup_vs_pandas": base / t.median}
        rows.append(f"| {name} | {t.fmt('s')} | {mb / t.median:.1f} | {len(files) / t.median:.1f} | "
                    f"{base / t.median:.2f}x |")
    md = (f"{len(files)} raw IMS test-2 files ({mb:.1f} MB of text), median over {repeats} repeats; "
          f"kit and pandas agree to {diff:.2g}.\n\n"
          "| variant | time (p10-p90) | MB/s | files/s | vs pandas |\n|---|---:|---:|---:|---:|\n"
          + "\n".join(rows) + "\n")
    return BenchResult("ingest", "Ingest of raw IMS files: kit vs pandas", figures, md)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv).markdown)
