"""Ingest speed: the kit's ``train.ingest`` against a plain pandas ``read_csv`` loop.

Both turn raw IMS test-2 snapshot files (CRLF, 20,480 x 4 each) into the mean
|x| per channel: the 25 bundled real files (quick), or 200 files (the full run:
the 25 real files copied 8 times under later timestamps, so that the
process pool has enough files to pay off, as on a real 984-file test). The kit validates every file
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
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.harness import BenchResult, measure
from firmware_io.recordings import ims as datasets
from train.ingest import ingest


def _files() -> list[Path]:
    return sorted(p for p in datasets.RAW_TEST2_DIR.iterdir() if p.is_file())


def _replicate(files: list[Path], folder: Path, copies: int) -> list[Path]:
    """``copies`` x the real files, renamed to later years so every timestamp is unique."""
    out = []
    for c in range(copies):
        for f in files:
            dst = folder / f"{int(f.name[:4]) + c:04d}{f.name[4:]}"
            shutil.copyfile(f, dst)
            out.append(dst)
    return sorted(out)


def pandas_loop(files: list[Path]) -> np.ndarray:
    """The baseline: one pandas read per file, mean |x| per column."""
    import pandas as pd

    return np.array([pd.read_csv(f, sep="\t", header=None).abs().mean().to_numpy() for f in files])


def run(quick: bool = False) -> BenchResult:
    with tempfile.TemporaryDirectory() as tmp:
        files = _files() if quick else _replicate(_files(), Path(tmp), 8)
        return _run(files, files[0].parent, repeats=3 if quick else 5)


def _run(files: list[Path], folder: Path, repeats: int) -> BenchResult:
    mb = sum(f.stat().st_size for f in files) / 1e6
    kit = ingest([folder], progress=False)
    diff = float(np.abs(kit.table.values - pandas_loop(files)).max())
    variants = {
        "kit (default: one process per core)": lambda: ingest([folder], progress=False, workers=os.cpu_count()),
        "kit, 1 process": lambda: ingest([folder], progress=False, workers=1),
        "pandas read_csv loop (baseline)": lambda: pandas_loop(files),
    }
    timings = {name: measure(fn, repeats=repeats, warmup=1, calls=1) for name, fn in variants.items()}
    base = timings["pandas read_csv loop (baseline)"].median
    figures = {"files": len(files), "megabytes": mb, "cores": os.cpu_count(), "max_abs_diff_vs_pandas": diff}
    rows = []
    for name, t in timings.items():
        figures[name] = {**t.as_dict(), "mb_per_s": mb / t.median, "files_per_s": len(files) / t.median,
                         "speedup_vs_pandas": base / t.median}
        rows.append(f"| {name} | {t.fmt('s')} | {mb / t.median:.1f} | {len(files) / t.median:.1f} | "
                    f"{base / t.median:.2f}x |")
    md = (f"{len(files)} raw IMS test-2 files ({mb:.1f} MB of text), {os.cpu_count()} cores, median over "
          f"{repeats} repeats; kit and pandas agree to {diff:.2g}. The kit validates every file and "
          "converts to exact counts; the baseline does neither.\n\n"
          "| variant | time (p10-p90) | MB/s | files/s | vs pandas |\n|---|---:|---:|---:|---:|\n"
          + "\n".join(rows) + "\n")
    return BenchResult("ingest", "Ingest of raw IMS files: kit vs pandas", figures, md)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv).markdown)
