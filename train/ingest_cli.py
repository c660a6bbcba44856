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
    p.add_argument("--features", default=None, metavar="LIST",
                   help="comma-separated registered features; 'all' for every one. Default: with --bearing, mean_abs "
                        "and env_<bpfo|bpfi|bsf|ftf>_ptm (they alarm on the first defective snapshot, "
                        "docs/training.md), else mean_abs (the seed's). "
                        "Condition features: rms, peak, crest_factor, kurtosis, velocity_rms, "
                        "env_<bpfo|bpfi|bsf|ftf>_<energy|share|ptm> (docs/training.md)")
    p.add_argument("--bearing", metavar="ims|N,d,D,ANGLE", default=None,
                   help="bearing for the envelope features: 'ims' (Rexnord ZA-2115 at 2000 rpm) or rolling "
                        "elements, element diameter, pitch diameter (same unit), contact angle in degrees")
    p.add_argument("--shaft-rpm", type=float, default=None, help="shaft speed (default with --bearing ims: 2000)")
    p.add_argument("--sensor-unit", choices=("g", "m/s2"), default="g",
                   help="unit of the recorded values, for velocity in mm/s (default g, IMS)")


def run(args: argparse.Namespace) -> int:
    from edge_agent.features.table import format_timestamp
    from train.ingest import ingest

    def on_skip(path: Path, why: str) -> None:
        if not args.quiet:
            print(f"skipped {path}: {why}", file=sys.stderr)

    features, condition = _features(args)
    result = ingest(args.sources, args.output, workers=args.jobs, progress=not args.quiet, on_skip=on_skip,
                    features=features, condition=condition)
    t = result.table
    shape = (f"{len(t.channel_names)} channels ({', '.join(t.channel_names)})" if features == ("mean_abs",) else
             f"{len(t.channel_names)} columns ({len(features)} features x {len(t.channel_names) // len(features)} "
             f"channels; spec in {args.output}.spec.json)")
    print(f"wrote {args.output}: {len(t)} snapshots x {shape}, {format_timestamp(t.timestamps[0])} .. "
          f"{format_timestamp(t.timestamps[-1])}; "
          f"{result.n_files} files, {result.n_packed} from packed npz, {len(result.skipped)} skipped")
    return 0


def _features(args: argparse.Namespace):
    """The feature names and condition settings the options ask for (refused with the fix when they do not fit)."""
    from edge_agent.features.bearing import IMS_BEARING, IMS_SHAFT_HZ, BearingGeometry
    from edge_agent.features.condition import STANDARD_GRAVITY_M_S2, WITH_BEARING_FEATURES, ConditionSettings
    from edge_agent.features.registry import DEFAULT_FEATURES, FEATURES
    from firmware_io.errors import BearingEdgeError

    if args.features is None:  # the measured default needs the bearing: without one, the seed's mean |x|
        names = WITH_BEARING_FEATURES if args.bearing else DEFAULT_FEATURES
    else:
        names = tuple(FEATURES) if args.features == "all" else tuple(n.strip() for n in args.features.split(",") if n.strip())
    bearing, shaft_hz = None, None
    if args.bearing == "ims":
        bearing, shaft_hz = IMS_BEARING, IMS_SHAFT_HZ
    elif args.bearing:
        try:
            n, d, pitch, angle = (float(v) for v in args.bearing.split(","))
            bearing = BearingGeometry(int(n), d, pitch, angle)
        except ValueError as exc:
            raise BearingEdgeError(f"--bearing {args.bearing!r}: {exc} (expected 'ims' or N,d,D,ANGLE, "
                                   "e.g. 16,0.331,2.815,15.17)") from None
    if args.shaft_rpm is not None:
        shaft_hz = args.shaft_rpm / 60.0
    if bearing is not None and shaft_hz is None:
        raise BearingEdgeError("--bearing needs --shaft-rpm (the defect frequencies scale with the shaft speed)")
    if names == ("mean_abs",) and bearing is None:
        return names, None
    try:
        condition = ConditionSettings(to_m_s2=STANDARD_GRAVITY_M_S2 if args.sensor_unit == "g" else 1.0,
                                      bearing=bearing, shaft_hz=shaft_hz)
    except ValueError as exc:
        raise BearingEdgeError(str(exc)) from None
    return names, condition
