"""``bearing-train ingest SOURCES... -o features.csv``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="IMS snapshot files, folders of them (searched recursively: 1st_test/, 2nd_test/, "
                        "4th_test/txt/ work as is) or packed .npz recordings")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="CSV",
                   help="feature table to write (atomically: a failed run leaves no partial file)")
    p.add_argument("-j", "--jobs", type=int, default=None,
                   help="worker processes for parsing files (default: one per CPU core)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no skip messages")


def run(args: argparse.Namespace) -> int:
    from edge_agent.features.table import format_timestamp
    from train.ingest import ingest

    def on_skip(path: Path, why: str) -> None:
        if not args.quiet:
            print(f"skipped {path}: {why}", file=sys.stderr)

    result = ingest(args.sources, args.output, workers=args.jobs, progress=not args.quiet, on_skip=on_skip)
    t = result.table
    print(f"wrote {args.output}: {len(t)} snapshots x {len(t.channel_names)} channels "
          f"({', '.join(t.channel_names)}), {format_timestamp(t.timestamps[0])} .. "
          f"{format_timestamp(t.timestamps[-1])}; "
          f"{result.n_files} files, {result.n_packed} from packed npz, {len(result.skipped)} skipped")
    return 0
