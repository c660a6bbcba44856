"""``bearing-train``: the desktop training command.

Each subcommand is one module exposing ``configure(parser)`` and
``run(args) -> int`` (see :mod:`firmware_io.cli_support`); this file only
names them, so ``ingest`` never pays for importing TensorFlow.

Bad input (a malformed snapshot, a broken feature table, a split with no data)
ends with a one-line message naming the file and the problem, and exit code 2,
not a traceback: the user needs to fix the data, not read our stack.
"""
from __future__ import annotations

import sys
from typing import Sequence

from firmware_io.cli_support import main_with_subcommands

#: subcommand -> (module, one-line help)
SUBCOMMANDS = {
    "ingest": ("train.ingest_cli", "recordings (IMS files, CSV/TSV, archives, WAV, npy/npz, .mat) -> feature table CSV"),
    "pack": ("train.pack_cli", "raw IMS snapshot files -> the packed .npz that bearing-replay and ingest read fast"),
    "fit": ("train.fit_cli", "train the autoencoder on the healthy period and write a model directory"),
    "report": ("train.report", "print the summary of a model directory written by fit"),
    "diagnose": ("train.diagnose_cli", "name the failing part of each snapshot from the physics (envelope spectrum)"),
}

DESCRIPTION = ("Desktop training: IMS recordings -> feature table -> LSTM autoencoder model directory "
               "(docs/training.md).")


def main(argv: Sequence[str] | None = None) -> int:
    return main_with_subcommands("bearing-train", DESCRIPTION, SUBCOMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
