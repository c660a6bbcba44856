"""``bearing-convert MODEL_DIR --out BUNDLE_DIR``: TFLite variants, parity gate, bundle.

The conversion is :func:`convert.pipeline.convert_model_dir`; this prints its
parity table and where the bundle went. A bad model directory, feature table
or a failed gate ends with one line on stderr and exit code 2
(:mod:`firmware_io.cli_support`).
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from convert.export import VARIANTS
from convert.pipeline import DEFAULT_PREFERENCE, convert_model_dir
from firmware_io.cli_support import main_single


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
                   help="bundle variants that fail the parity gate anyway (recorded in the manifest)")


def run(args: argparse.Namespace) -> int:
    result = convert_model_dir(args.model_dir, args.out, variants=args.variants or VARIANTS,
                               data=args.data, force=args.force, default=args.default)
    print(result.parity_table(markdown=False))
    print(f"\nclosest Keras error to the threshold: {result.min_threshold_margin:.3g} "
          "(an error difference above this could flip a decision)")
    print(f"\nbundle: {result.bundle_dir} (+ {result.archive.name}), variants {result.bundled}, "
          f"default {result.default_variant}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return main_single("bearing-convert", sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
