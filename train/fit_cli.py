"""``bearing-train fit features.csv --train-until TIME --out DIR``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from train.threshold import DEFAULT_DEBOUNCE, DEFAULT_MARGIN, DEFAULT_RULE, RULES


def configure(p: argparse.ArgumentParser) -> None:
    from firmware_io.recordings.ims import IMS_SAMPLE_RATE_HZ, IMS_SAMPLES_PER_SNAPSHOT
    from train.fit import DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_VALIDATION_SPLIT

    p.add_argument("table", type=Path, metavar="FEATURES_CSV", help="feature table written by 'bearing-train ingest'")
    p.add_argument("--train-until", required=True, metavar="TIME",
                   help="end of the healthy period, inclusive, UTC: 'YYYY-MM-DD HH:MM:SS', or a date alone for 00:00:00 "
                        "(IMS test 2: 2004-02-15 12:52:39)")
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
    p.add_argument("--sample-rate", type=int, default=None, metavar="HZ",
                   help="sample rate of the stream the features came from: the table's spec states it (a value that "
                        f"disagrees is refused); a table without one: default {IMS_SAMPLE_RATE_HZ}, IMS; "
                        "'bearing-agent export' prints it")
    p.add_argument("--snapshot-length", type=int, default=None, metavar="N",
                   help="samples per channel in a snapshot: as --sample-rate "
                        f"(default {IMS_SAMPLES_PER_SNAPSHOT}, IMS)")
    p.add_argument("--immediate", type=_factor, default=None, metavar="FACTOR|off",
                   help="two-level rule: also alarm at once when one feature's error exceeds FACTOR x its "
                        f"healthy maximum (default {ENVELOPE_IMMEDIATE:g} when the features include the envelope, "
                        "off for mean |x| alone; 'off' turns it off; see docs/training.md)")
    p.add_argument("--features", default=None, metavar="LIST",
                   help="comma-separated features of a table written by 'bearing-train ingest --features' "
                        "to train on (default: all the table has)")
    p.add_argument("--accelerated", action="store_true",
                   help="the recording is an accelerated test (a bench run to failure in hours, no daily cycle): "
                        "judge the healthy period's drift and length on its own time scale (docs/training.md)")
    p.add_argument("--accept-drift", action="store_true",
                   help="write the model although the healthy level still rises (refused otherwise; "
                        "see docs/commissioning.md)")
    p.add_argument("--alert-db", type=_db_pair, default=None, metavar="LEVEL[,RATIO]",
                   help="Alert limits in dB over the commissioning baseline for level features (mean |x|, RMS, ...) "
                        "and ratio features (envelope lines, kurtosis); default 2,6 (docs/edge_agent.md#alarm-levels)")
    p.add_argument("--danger-db", type=_db_pair, default=None, metavar="LEVEL[,RATIO]",
                   help="Danger limits, the same way; default 6,12")
    p.add_argument("--stopped-db", type=float, default=None, metavar="DB",
                   help="a snapshot whose every channel is this far under its commissioning level is a stopped "
                        "machine, never judged (default -20)")
    p.add_argument("--settle-minutes", type=float, default=None, metavar="MIN",
                   help="after a stop, snapshots are 'starting' (not judged) for this long (default 30)")
    p.add_argument("--full-scale-counts", type=int, default=None, metavar="N",
                   help="the sensor front end's full-scale code: samples at +-N are clipping (default: the "
                        "wire's int16 limits; a 12-bit ADC centred on 0: 2047)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="Keras's own line per epoch instead of the kit's progress line")


#: The two-level rule's factor by default when the chosen features include the envelope lines
#: (docs/training.md, "Alarm at the first defective snapshot"): on raw IMS test 2 it alarms on the
#: first defective snapshot for 5 of 5 seeds with no false alarm, and on IMS test 1 (held out) it
#: adds no false alarm. mean |x| alone keeps the kit's rule (the seed's model, the demo).
ENVELOPE_IMMEDIATE = 1.75


def _db_pair(text: str) -> tuple[float, float | None]:
    parts = [t.strip() for t in text.split(",")]
    try:
        values = [float(t) for t in parts]
    except ValueError:
        values = []
    if not 1 <= len(values) <= 2 or not all(0 <= v <= 60 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: one or two numbers of dB from 0 to 60, e.g. 2 or 2,6")
    return values[0], values[1] if len(values) == 2 else None


def _level_rules(args: argparse.Namespace):
    """The Alert / Danger limits the user chose (None: the defaults), checked by LevelRules."""
    if args.alert_db is None and args.danger_db is None:
        return None
    from edge_agent.scoring.levels import LevelRules

    d = LevelRules()
    alert, danger = args.alert_db or (d.alert_db_level, None), args.danger_db or (d.danger_db_level, None)
    try:
        return LevelRules(alert_db_level=alert[0], alert_db_ratio=d.alert_db_ratio if alert[1] is None else alert[1],
                          danger_db_level=danger[0],
                          danger_db_ratio=d.danger_db_ratio if danger[1] is None else danger[1],
                          enter=args.debounce, danger_enter=args.debounce, leave=args.debounce)
    except ValueError as exc:
        from train.fit import FitError

        raise FitError(f"--alert-db / --danger-db: {exc}") from None


def _machine_rules(args: argparse.Namespace):
    """The machine-state rules the user chose (None: the defaults), checked by MachineRules."""
    if args.stopped_db is None and args.settle_minutes is None and args.full_scale_counts is None:
        return None
    from edge_agent.scoring.machine_state import MachineRules

    d = MachineRules()
    try:
        return MachineRules(stopped_db=d.stopped_db if args.stopped_db is None else args.stopped_db,
                            settle_s=d.settle_s if args.settle_minutes is None else 60.0 * args.settle_minutes,
                            full_scale_counts=args.full_scale_counts)
    except ValueError as exc:
        from train.fit import FitError

        raise FitError(f"--stopped-db / --settle-minutes / --full-scale-counts: {exc}") from None


def _factor(text: str) -> float | str:
    if text.strip().lower() == "off":
        return "off"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a factor (e.g. 1.75) nor 'off'") from None


def _immediate(args: argparse.Namespace) -> float | None:
    """--immediate as given, or its default: ENVELOPE_IMMEDIATE when the chosen features include the envelope."""
    from edge_agent.features.condition import defect_of
    from firmware_io.errors import BearingEdgeError
    from train.ingest import read_table_spec

    if args.immediate is not None:
        return None if args.immediate == "off" else args.immediate
    try:
        spec = read_table_spec(args.table)
    except BearingEdgeError:  # a broken spec: fit_model_dir says what is wrong with it
        return None
    chosen = [f.strip() for f in args.features.split(",")] if args.features else (spec.features if spec else ())
    return ENVELOPE_IMMEDIATE if any(defect_of(name) for name in chosen) else None


def _period(text: str) -> tuple[str, str]:
    start, sep, end = text.partition("..")
    if not sep or not start.strip() or not end.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not a period START..END "
                                         "(e.g. '2024-03-01 08:00:00..2024-03-01 12:00:00')")
    return start.strip(), end.strip()


class EpochProgress:
    """Training progress on stderr, one status line: redrawn in place on a terminal, else every 10 %.

    Training takes about a minute with no other sign of life. A log file or CI gets ten lines
    for a whole run rather than a hundred redrawn ones. (tqdm, tried first, drew nothing on a pty
    once TensorFlow was imported, though it did without TensorFlow: so the line is drawn by hand.)
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.in_place = self.stream.isatty()

    def __call__(self, epoch: int, epochs: int, logs: dict[str, float]) -> None:
        losses = ", ".join(f"{k} {v:.4f}" for k, v in logs.items() if k in ("loss", "val_loss"))
        line = f"bearing-train fit: training, epoch {epoch}/{epochs}" + (f", {losses}" if losses else "")
        if self.in_place:
            self.stream.write(f"\r{line}\x1b[K" + ("\n" if epoch == epochs else ""))
        elif epoch == 1 or epoch == epochs or epoch % max(1, epochs // 10) == 0:
            self.stream.write(line + "\n")
        self.stream.flush()


def _say_collapsed(seed: int, next_seed: int) -> None:
    print(f"bearing-train fit: seed {seed}: the model collapsed to a constant output (it did not learn to "
          f"reconstruct); training again with seed {next_seed}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from train.fit import fit_model_dir
    from train.drift import ACCELERATED, IN_SERVICE
    from train.report import summary

    result = fit_model_dir(args.table, args.out, args.train_until, timesteps=args.timesteps, seed=args.seed,
                        epochs=args.epochs, batch_size=args.batch_size, validation_split=args.validation_split,
                        rule=args.threshold_rule, margin=args.margin, debounce=args.debounce, threshold=args.threshold,
                        exclude=args.exclude, sample_rate_hz=args.sample_rate,
                        samples_per_snapshot=args.snapshot_length,
                        make_plots=not args.no_plots, verbose=2 if args.verbose else 0,
                        on_drift="accept" if args.accept_drift else "refuse",
                        time_scale=ACCELERATED if args.accelerated else IN_SERVICE,
                        features=[f.strip() for f in args.features.split(",") if f.strip()] if args.features else None,
                        immediate=_immediate(args), on_epoch=None if args.verbose else EpochProgress(),
                        on_collapse=_say_collapsed, levels=_level_rules(args),
                        machine=_machine_rules(args))
    print(summary(args.out))
    for warning in result.metadata["warnings"]:  # on stderr too: a pipe or log of stdout still shows them
        print(f"bearing-train fit: warning: {warning}", file=sys.stderr)
    return 0
