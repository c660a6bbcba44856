"""``bearing-agent score`` and ``bearing-agent check-bundle``: check a bundle before deploying it.

``score`` runs a feature table through the device's own decision path
(:func:`edge_agent.scoring.scorer.score_table`) and writes ``timestamp,error,
over_threshold,alarm``, the columns of the training step's ``scores.csv``, so
the two can be compared row by row. ``check-bundle`` verifies checksums,
schema, scaler, model shapes and runtime, and prints the manifest summary.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from edge_agent.scoring.runtime import RUNTIMES


def _bundle_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", default=None, help="model variant (default: the bundle's default_variant)")
    p.add_argument("--runtime", default="auto", choices=["auto", *RUNTIMES],
                   help="TFLite runtime (default: ai-edge-litert, else tflite-runtime)")


def configure_score(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bundle", required=True, help="bundle directory or .tar.gz (from bearing-convert)")
    p.add_argument("table", help="feature table CSV (timestamp,<channel>,...)")
    p.add_argument("-o", "--output", required=True, help="scores CSV to write")
    _bundle_options(p)


def configure_check_bundle(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", help="bundle directory or .tar.gz")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    _bundle_options(p)


def main_score(args: argparse.Namespace) -> int:
    from edge_agent.scoring.bundle import BundleError, load_bundle
    from edge_agent.features.table import FeatureTableError, format_timestamp, read_feature_table
    from edge_agent.scoring.scorer import score_table

    try:
        bundle = load_bundle(args.bundle, variant=args.variant, runtime=args.runtime)
        table = read_feature_table(args.table)
        scores = score_table(bundle, table)
    except (BundleError, FeatureTableError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    scores.write(args.output)
    n_over, n_alarm = int(scores.over_threshold.sum()), int(scores.alarm.sum())
    n_scored = int(np.isfinite(scores.error).sum())
    first = next((format_timestamp(t) for t, a in zip(scores.timestamps, scores.alarm) if a), "never")
    print(f"scored {n_scored} of {len(table)} snapshots with {bundle.variant} on {bundle.runtime} "
          f"(bundle {bundle.bundle_id}): {n_over} over threshold {bundle.threshold:.6g}, "
          f"{n_alarm} in alarm, first alarm {first} -> {args.output}")
    return 0


def main_check_bundle(args: argparse.Namespace) -> int:
    from edge_agent.scoring.bundle import BundleError, describe, load_bundle

    try:
        bundle = load_bundle(args.bundle, variant=args.variant, runtime=args.runtime)
    except BundleError as exc:
        print(f"error: bundle refused: {exc}", file=sys.stderr)
        return 2
    summary = describe(bundle)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"bundle {summary['bundle_id']} OK: schema {summary['schema_version']}, all checksums match")
    print(f"  variant {summary['variant']} on {summary['runtime']}, threshold {summary['threshold']:.6g}, "
          f"debounce {summary['debounce']}, T={summary['timesteps']}, channels {summary['channels']}")
    for name, v in summary["variants"].items():
        print(f"  {name:8s} {v['file']:24s} runtimes={v['runtimes']} parity_passed={v['parity_passed']}"
              + (" FORCED" if v["forced"] else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (``python -m edge_agent.cli.score score|check-bundle ...``), used by the
    tflite-runtime environment without importing the other agent subcommands."""
    parser = argparse.ArgumentParser(prog="edge_agent.cli.score")
    sub = parser.add_subparsers(dest="command", required=True)
    configure_score(sub.add_parser("score"))
    configure_check_bundle(sub.add_parser("check-bundle"))
    args = parser.parse_args(argv)
    return main_score(args) if args.command == "score" else main_check_bundle(args)


if __name__ == "__main__":
    sys.exit(main())
