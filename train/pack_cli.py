"""``bearing-train pack SOURCES... -o recording.npz``: raw IMS snapshot files -> the packed npz (train/pack.py)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="IMS snapshot files or folders of them (searched recursively: the archive's 2nd_test/ as unpacked)")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="NPZ",
                   help="packed recording to write (e.g. ims_test2_int16.npz; written only when every file was read)")
    p.add_argument("--skip-bad", action="store_true",
                   help="leave malformed files out, listed and counted, instead of stopping at the first")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no skip messages")


def run(args: argparse.Namespace) -> int:
    from edge_agent.features.table import format_timestamp
    from train.pack import pack_ims_files

    def on_skip(path: Path, why: str) -> None:
        if not args.quiet:
            print(f"skipped {path}: {why}", file=sys.stderr)

    result = pack_ims_files(args.sources, args.output, skip_bad=args.skip_bad, on_skip=on_skip,
                            progress=not args.quiet)
    size = result.path.stat().st_size / 1e6
    print(f"wrote {result.path}: {result.n_snapshots} snapshots x {result.shape[0]} samples x {result.shape[1]} "
          f"channels, {format_timestamp(result.first)} .. {format_timestamp(result.last)}, {size:.1f} MB; "
          f"{len(result.skipped)} skipped")
    return 0
