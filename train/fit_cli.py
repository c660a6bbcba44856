"""``bearing-train fit features.csv --train-until TIME --out DIR``."""
from __future__ import annotations

import argparse
from pathlib import Path

from train.threshold import DEFAULT_DEBOUNCE, DEFAULT_MARGIN, DEFAULT_RULE, RULES


def configure(p: argparse.ArgumentParser) -> None:
    from firmware_io.recordings.ims import IMS_SAMPLE_RATE_HZ, IMS_SAMPLES_PER_SNAPSHOT
    from train.fit import DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_VALIDATION_SPLIT

    p.add_argument("table", type=Path, metavar="FEATURES_CSV", help="feature table written by 'bearing-train ingest'")
    p.add_argument("--train-until", required=True, metavar="TIME",
                   help="end of the healthy period, inclusive: 'YYYY-MM-DD HH:MM:SS' (IMS test 2: 2004-02-15 12:52:39)")
    p.add_argument("--out", required=True, type=Path, metavar="DIR",
                   help="model directory to write (replaced only when the whole fit succeeded)")
    p.add_argument("--timesteps", type=int, default=1, metavar="T",
                   help="windows of T consecutive snapshots (default 1, the seed's model)")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same model on CPU")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help=f"default {DEFAULT_EPOCHS}")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help=f"default {DEFAULT_BATCH_SIZE}")
    p.add_argument("--validation-split", type=float, default=DEFAULT_VALIDATION_SPLIT,
                   help=f"last fraction of the healthy windows held out (default {DEFAULT_VALIDATION_SPLIT})")
    p.add_argument("--threshold", type=float, default=None, help="a fixed threshold instead of a rule")
    p.add_argument("--threshold-rule", choices=[r for r in RULES if r != "fixed"], default=DEFAULT_RULE,
                   help=f"rule over the healthy errors (default {DEFAULT_RULE}; see docs/training.md)")
    p.add_argument("--margin", type=float, default=DEFAULT_MARGIN,
                   help=f"multiplier of the sustained-max / max rules (default {DEFAULT_MARGIN})")
    p.add_argument("--debounce", type=int, default=DEFAULT_DEBOUNCE, metavar="K",
                   help=f"alarm after K consecutive snapshots over the threshold, clear after K under (default {DEFAULT_DEBOUNCE})")
    p.add_argument("--exclude", action="append", default=[], metavar="START..END", type=_period,
                   help="a period before --train-until that is not healthy (maintenance, a stopped machine): "
                        "scored but not trained on; 'YYYY-MM-DD HH:MM:SS..YYYY-MM-DD HH:MM:SS', repeatable")
    p.add_argument("--sample-rate", type=int, default=IMS_SAMPLE_RATE_HZ, metavar="HZ",
                   help=f"sample rate of the stream the features came from (default {IMS_SAMPLE_RATE_HZ}, IMS; "
                        "'bearing-agent export' prints it)")
    p.add_argument("--snapshot-length", type=int, default=IMS_SAMPLES_PER_SNAPSHOT, metavar="N",
                   help=f"samples per channel in a snapshot (default {IMS_SAMPLES_PER_SNAPSHOT}, IMS)")
    p.add_argument("--immediate", type=float, default=None, metavar="FACTOR",
                   help="two-level rule: also alarm at once when one feature's error exceeds FACTOR x its "
                        "healthy maximum (e.g. 2; off by default; see docs/training.md)")
    p.add_argument("--features", default=None, metavar="LIST",
                   help="comma-separated features of a table written by 'bearing-train ingest --features' "
                        "to train on (default: all the table has)")
    p.add_argument("--accept-drift", action="store_true",
                   help="write the model although the healthy level still rises (refused otherwise; "
                        "see docs/commissioning.md)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("-v", "--verbose", action="store_true", help="show Keras's per-epoch progress")


def _period(text: str) -> tuple[str, str]:
    start, sep, end = text.partition("..")
    if not sep or not start.strip() or not end.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not a period START..END "
                                         "(e.g. '2024-03-01 08:00:00..2024-03-01 12:00:00')")
    return start.strip(), end.strip()


def run(args: argparse.Namespace) -> int:
    from train.fit import fit_model_dir
    from train.report import summary

    fit_model_dir(args.table, args.out, args.train_until, timesteps=args.timesteps, seed=args.seed,
                  epochs=args.epochs, batch_size=args.batch_size, validation_split=args.validation_split,
                  rule=args.threshold_rule, margin=args.margin, debounce=args.debounce, threshold=args.threshold,
                  exclude=args.exclude, sample_rate_hz=args.sample_rate,
                  samples_per_snapshot=args.snapshot_length,
                  make_plots=not args.no_plots, verbose=2 if args.verbose else 0,
                  on_drift="accept" if args.accept_drift else "refuse",
                  features=[f.strip() for f in args.features.split(",") if f.strip()] if args.features else None,
                  immediate=args.immediate)
    print(summary(args.out))
    return 0
