"""The options every bundle-loading subcommand shares: which variant, on which TFLite runtime."""
from __future__ import annotations

import argparse

from edge_agent.scoring.runtime import RUNTIMES


def add_bundle_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", default=None, help="model variant (default: the bundle's default_variant)")
    p.add_argument("--runtime", default="auto", choices=["auto", *RUNTIMES],
                   help="TFLite runtime (default: ai-edge-litert, else tflite-runtime)")
