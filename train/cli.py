"""``bearing-train``: the desktop training command.

Each subcommand lives in its own module exposing ``configure_parser(p)`` and
``main(args) -> int``; this file only wires them together, so ``ingest`` never
pays for importing TensorFlow.

Bad input (a malformed snapshot, a broken feature table, a split with no data)
ends with a one-line message naming the file and the problem, and exit code 2,
not a traceback: the user needs to fix the data, not read our stack.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

#: subcommand -> (module, one-line help)
SUBCOMMANDS = {
    "ingest": ("train.ingest_cli", "IMS snapshot files / folders / packed npz -> feature table CSV"),
    "fit": ("train.fit_cli", "train the autoencoder on the healthy period and write a model directory"),
    "report": ("train.report", "print the summary of a model directory written by fit"),
}

#: Exit code for bad input (the same as argparse uses for a bad command line).
EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bearing-train", description="Desktop training: IMS recordings -> "
                                     "feature table -> LSTM autoencoder model directory (docs/training.md).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).configure_parser(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    mod = importlib.import_module(args._module)
    try:
        return int(mod.main(args) or 0)
    except ValueError as exc:  # RecordingError, FeatureTableError, FitError are ValueErrors with a clear text
        print(f"bearing-train {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"bearing-train {args.command}: interrupted; no output was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
