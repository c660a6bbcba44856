"""``bearing-convert MODEL_DIR --out BUNDLE_DIR``: TFLite variants, parity gate, bundle.

The conversion is :func:`convert.pipeline.convert_model_dir`; this prints its
parity table and where the bundle went. A bad model directory, feature table
or a failed gate (no variant passes, or a runtime check could not run) ends with
one line on stderr, exit code 2 and no bundle
(:mod:`firmware_io.cli_support`).
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from convert.variants import DEFAULT_PREFERENCE, VARIANTS
from edge_agent.scoring.runtime import RUNTIMES
from firmware_io.cli_support import main_single
from train.model_dir import check_model_dir_files


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_dir", help="model directory from 'bearing-train fit'")
    p.add_argument("--out", required=True, help="bundle directory to write (a .tar.gz is written beside it)")
    p.add_argument("--variant", action="append", choices=VARIANTS, dest="variants",
                   help="variant to build (repeatable; default: all of %s)" % ", ".join(VARIANTS))
    p.add_argument("--data", help="feature table CSV for the parity gate and int8 calibration "
                                  "(default: the table named in metadata.json)")
    p.add_argument("--default", choices=VARIANTS,
                   help="deployed variant (default: the smallest variant that passes the parity gate and really "
                        "stores quantized weights, else the first of %s that passes)" % ", ".join(DEFAULT_PREFERENCE))
    p.add_argument("--force", action="store_true",
                   help="bundle variants that fail the parity gate, or whose runtime check could not run, "
                        "anyway (recorded in the manifest)")
    p.add_argument("--runtimes", default=",".join(RUNTIMES), type=lambda text: [r.strip() for r in text.split(",")],
                   help="runtimes to verify each variant on (default: %(default)s; the tflite-runtime environment "
                        "is created once in the user's cache when needed); 'ai-edge-litert' skips the tflite-runtime "
                        "check knowingly: the bundle then runs on ai-edge-litert only")
    p.add_argument("--sign", metavar="KEY", help="sign the manifest with this Ed25519 private key (PEM; "
                                                 "'python -m convert.keygen NAME' makes one): devices with "
                                                 "[agent] trusted_keys accept only signed bundles")
    p.add_argument("--bundle-version", type=_version, metavar="N",
                   help="the bundle's version, in the signed part (default with --sign: the conversion time in "
                        "seconds since 1970); a device refuses a bundle older than the one it ran")
    _add_physics_options(p)


def _add_physics_options(p: argparse.ArgumentParser) -> None:
    from train.ingest_cli import add_recording_options

    g = p.add_argument_group("the device's physics diagnosis (docs/diagnosis.md#on-the-device)")
    g.add_argument("--physics-baseline", nargs="+", default=None, metavar="RECORDING",
                   help="the healthy recording the model was trained on (any form ingest reads): the mean squared "
                        "envelope spectrum of its first snapshots goes into the bundle, so that the device names the "
                        "failing part of an alarming snapshot against it; without it the device gives no physics "
                        "diagnosis")
    g.add_argument("--baseline-snapshots", type=int, default=None, metavar="N",
                   help="how many snapshots from the start of the healthy period (default 20)")
    g.add_argument("--bearing", default=None, metavar="ims|N,d,D,ANGLE",
                   help="the bearing, when the model was ingested without --bearing")
    g.add_argument("--shaft-rpm", type=float, default=None, help="nominal shaft speed, with --bearing")
    add_recording_options(p)


def _physics(args: argparse.Namespace):
    """``physics(spec, train_until)`` for convert_model_dir, or None without --physics-baseline."""
    if not args.physics_baseline:
        if args.bearing or args.baseline_snapshots is not None:
            from train.physics_baseline import PhysicsBaselineError

            raise PhysicsBaselineError("--bearing and --baseline-snapshots go with --physics-baseline RECORDING")
        return None
    from functools import partial

    from train.physics_baseline import DEFAULT_SNAPSHOTS, build
    from train.ingest_cli import parse_bearing, read_options

    bearing, shaft_hz = parse_bearing(args.bearing, args.shaft_rpm) if args.bearing else (None, None)
    return partial(build, args.physics_baseline, options=read_options(args), bearing=bearing, shaft_hz=shaft_hz,
                   snapshots=args.baseline_snapshots or DEFAULT_SNAPSHOTS)


def _version(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 10**18 - 1, got {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    check_model_dir_files(args.model_dir)  # a wrong path is refused before TensorFlow loads (seconds, log lines)
    if args.sign:  # a wrong key too, before minutes of conversion
        from edge_agent.scoring.signing import read_public_key

        read_public_key(args.sign)
    physics = _physics(args)  # a wrong option is refused before TensorFlow loads too
    from convert.pipeline import convert_model_dir

    result = convert_model_dir(args.model_dir, args.out, variants=args.variants or VARIANTS,
                               data=args.data, force=args.force, default=args.default, runtimes=args.runtimes,
                               sign=args.sign, bundle_version=args.bundle_version, physics=physics,
                               progress=lambda message: print(f"bearing-convert: {message}", file=sys.stderr,
                                                              flush=True))
    print(result.parity_table(markdown=False))
    print(f"\nclosest Keras error to the threshold: {result.min_threshold_margin:.3g} "
          "(an error difference above this, near the threshold, could flip a decision)")
    for r in result.parity:  # what the differences mean: the one near the threshold is the one that matters
        print(f"  {r.verdict()}")
    print(f"\nbundle: {result.bundle_dir} (+ {result.archive.name}), variants {result.bundled}, "
          f"default {result.default_variant}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return main_single("bearing-convert", sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
