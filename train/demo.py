"""``python -m train.demo --out DIR``: the whole desktop story on the bundled IMS test 2.

A clear sequence of steps (:func:`run_demo`), each printing what it did:

1. ingest the bundled raw test-2 snapshot files (shows ingest works on real files
   and that they match the bundled feature table);
2. fit the default model on the bundled full test-2 feature table
   (``data/ims/features/ims_test2_features.csv``), healthy until 2004-02-15 12:52:39;
3. print the summary of the model directory.

Later steps (conversion, the edge agent) are added to :func:`run_demo` after these.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np


def step(n: int, text: str) -> None:
    print(f"\n== step {n}: {text}", flush=True)


def ingest_bundled_raw(out: Path) -> Path:
    """Step 1: the bundled raw files -> a feature table, checked against the bundled one."""
    from edge_agent.feature_table import read_feature_table
    from train import datasets
    from train.ingest import ingest

    path = out / "raw_test2_features.csv"
    result = ingest([datasets.RAW_TEST2_DIR], path, progress=False)
    full = read_feature_table(datasets.FEATURES_TEST2)
    rows = np.searchsorted(full.timestamps, result.table.timestamps)
    diff = float(np.abs(full.values[rows] - result.table.values).max())
    print(f"ingested {result.n_files} raw files from {datasets.RAW_TEST2_DIR} -> {path}")
    print(f"largest difference to the matching rows of {datasets.FEATURES_TEST2.name}: {diff:.3g}")
    return path


def fit_bundled(out: Path, seed: int, epochs: int):
    """Step 2: the default model on the full bundled test 2."""
    from train import datasets
    from train.fit import fit_model_dir

    model_dir = out / "model"
    print(f"training on {datasets.FEATURES_TEST2} until {datasets.TEST2_TRAIN_UNTIL} "
          f"({epochs} epochs, seed {seed}) ...", flush=True)
    return fit_model_dir(datasets.FEATURES_TEST2, model_dir, datasets.TEST2_TRAIN_UNTIL, seed=seed, epochs=epochs)


def run_demo(out: str | Path, seed: int = 0, epochs: int = 100) -> dict:
    """Run every step into ``out``; returns the paths and results for later steps."""
    from train.report import summary

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    step(1, "ingest the bundled raw IMS test-2 files")
    table = ingest_bundled_raw(out)
    step(2, "fit the LSTM autoencoder on the healthy period of IMS test 2")
    fit = fit_bundled(out, seed, epochs)
    step(3, "summary of the model directory")
    print(summary(fit.out))
    return {"raw_table": table, "model_dir": fit.out, "fit": fit}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    p = argparse.ArgumentParser(prog="python -m train.demo", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("demo-output"), help="output folder (default demo-output)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=100)
    args = p.parse_args(argv)
    try:
        run_demo(args.out, seed=args.seed, epochs=args.epochs)
    except ValueError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
