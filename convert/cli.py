"""``bearing-convert MODEL_DIR --out BUNDLE_DIR``: TFLite variants, parity gate, bundle."""
from __future__ import annotations

import argparse
import sys

from convert.export import VARIANTS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bearing-convert", description=__doc__.splitlines()[0])
    p.add_argument("model_dir", help="model directory from 'bearing-train fit'")
    p.add_argument("--out", required=True, help="bundle directory to write (a .tar.gz is written beside it)")
    p.add_argument("--variant", action="append", choices=VARIANTS, dest="variants",
                   help="variant to build (repeatable; default: all of %s)" % ", ".join(VARIANTS))
    p.add_argument("--data", help="feature table CSV for the parity gate and int8 calibration "
                                  "(default: the table named in metadata.json)")
    p.add_argument("--default", choices=VARIANTS, help="deployed variant (default: the first of "
                                                       "int8, dynamic, float16, float32 that passes)")
    p.add_argument("--force", action="store_true",
                   help="bundle variants that fail the parity gate anyway (recorded in the manifest)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from convert.modeldir import ModelDirError
    from convert.pipeline import ConversionError, convert_model_dir
    from edge_agent.features.table import FeatureTableError

    try:
        result = convert_model_dir(args.model_dir, args.out, variants=args.variants or VARIANTS,
                                   data=args.data, force=args.force, default=args.default)
    except (ModelDirError, ConversionError, FeatureTableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.parity_table(markdown=False))
    print(f"\nclosest Keras error to the threshold: {result.min_threshold_margin:.3g} "
          "(an error difference above this could flip a decision)")
    print(f"\nbundle: {result.bundle_dir} (+ {result.archive.name}), variants {result.bundled}, "
          f"default {result.default_variant}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
