"""``bearing-train ingest SOURCES... -o features.csv``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="recordings: IMS snapshot files, folders of them (searched recursively: 1st_test/, "
                        "2nd_test/, 4th_test/txt/ work as is) or packed .npz; or any rig's text files (CSV/TSV, one "
                        "snapshot a file), folders and archives (.tar.xz, .zip, ...) of them (docs/recordings.md)")
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
    add_recording_options(p)


def add_recording_options(p: argparse.ArgumentParser) -> None:
    """What a recording does not say about itself (shared by ingest and diagnose)."""
    g = p.add_argument_group("recordings of any rig (docs/recordings.md)")
    g.add_argument("--sample-rate", type=float, default=None, metavar="HZ",
                   help="samples per second per channel: required unless the file states it (IMS files: 20000)")
    g.add_argument("--snapshot-length", type=int, default=None, metavar="N",
                   help="samples per snapshot: one-snapshot files must have N rows; longer recordings are cut "
                        "into consecutive snapshots of N")
    g.add_argument("--columns", default=None, metavar="LIST",
                   help="sample columns of text files, 1-based numbers or header names (default: all but the time)")
    g.add_argument("--time-columns", default=None, metavar="H,M,S[,US]",
                   help="columns with the hour, minute, second and microsecond of the snapshot (PRONOSTIA: 1,2,3,4)")
    g.add_argument("--name-time", default=None, metavar="FORMAT",
                   help="the time in the file names, strftime-style, e.g. '%%Y%%m%%d_%%H%%M%%S' for "
                        "acc_20240501_080000.csv")
    g.add_argument("--start", default=None, metavar="DATE[ TIME]",
                   help="date the time-of-day columns count from, or start of a recording without times "
                        "(default 1970-01-01)")
    g.add_argument("--interval", type=float, default=None, metavar="SECONDS",
                   help="seconds between one-snapshot files whose time is in neither their name nor their columns "
                        "(stamped in name order from --start)")
    g.add_argument("--pattern", default=None, metavar="GLOB",
                   help="file names to read in folders and archives, e.g. 'acc_*.csv' (default: .csv .tsv .txt .dat "
                        ".wav .npy .npz .mat and IMS-style names)")
    g.add_argument("--channel-names", default=None, metavar="LIST",
                   help="comma-separated channel names (default: the header's, else Channel 1, 2, ...)")
    g.add_argument("--variable", default=None, metavar="NAME",
                   help="the array of a .mat (dotted for a struct field, e.g. bearing.gs) or .npz file "
                        "(default: the only array of samples; .npz: 'samples')")
    g.add_argument("--scale", type=float, default=None, metavar="UNITS",
                   help="sensor units per count of integer samples in files that do not state it "
                        "(WAV, .npy, .mat; default 1)")
    g.add_argument("--skip-bad", action="store_true",
                   help="report and leave out malformed files (IMS snapshot files too) instead of stopping; "
                        "the summary counts them")


def read_options(args: argparse.Namespace):
    """The ReadOptions the recording options ask for."""
    from firmware_io.recordings.sources import ReadOptions, listed
    from firmware_io.time_text import parse_time

    return ReadOptions(sample_rate_hz=args.sample_rate, snapshot_length=args.snapshot_length,
                       columns=listed(args.columns), time_columns=listed(args.time_columns),
                       start=parse_time(args.start, "--start") if args.start else None, interval_s=args.interval,
                       name_time=args.name_time, pattern=args.pattern, variable=args.variable, scale=args.scale,
                       skip_bad=args.skip_bad)


def run(args: argparse.Namespace) -> int:
    from edge_agent.features.table import format_timestamp
    from train.ingest import ingest

    def on_skip(path: Path, why: str) -> None:
        if not args.quiet:
            print(f"skipped {path}: {why}", file=sys.stderr)

    features, condition = _features(args)
    names = tuple(n.strip() for n in args.channel_names.split(",")) if args.channel_names else None
    result = ingest(args.sources, args.output, workers=args.jobs, progress=not args.quiet, on_skip=on_skip,
                    features=features, condition=condition, options=read_options(args), names=names,
                    drop_uncomputable=args.features is None)
    for name, why in result.dropped.items():
        print(f"bearing-train ingest: left out {name}: {why}", file=sys.stderr)
    features = result.spec.features
    t, spec = result.table, result.spec
    shape = (f"{len(t.channel_names)} channels ({', '.join(t.channel_names)})" if features == ("mean_abs",) else
             f"{len(t.channel_names)} columns ({len(features)} features x {len(t.channel_names) // len(features)} "
             f"channels)")
    print(f"wrote {args.output}: {len(t)} snapshots x {shape}, {format_timestamp(t.timestamps[0])} .. "
          f"{format_timestamp(t.timestamps[-1])}; {spec.samples_per_snapshot} samples at {spec.sample_rate_hz} Hz"
          + (f" (spec in {args.output}.spec.json)" if result.spec_written else "")
          + f"; {result.n_files} files, {result.n_packed} from packed npz, {len(result.skipped)} skipped")
    return 0


def parse_bearing(text: str, shaft_rpm: float | None):
    """``--bearing ims|N,d,D,ANGLE`` and ``--shaft-rpm`` -> (BearingGeometry, shaft Hz), refused with the fix."""
    from edge_agent.features.bearing import IMS_BEARING, IMS_SHAFT_HZ, BearingGeometry
    from firmware_io.errors import BearingEdgeError

    bearing, shaft_hz = None, None
    if text == "ims":
        bearing, shaft_hz = IMS_BEARING, IMS_SHAFT_HZ
    else:
        try:
            n, d, pitch, angle = (float(v) for v in text.split(","))
            bearing = BearingGeometry(int(n), d, pitch, angle)
        except ValueError as exc:
            raise BearingEdgeError(f"--bearing {text!r}: {exc} (expected 'ims' or N,d,D,ANGLE, "
                                   "e.g. 16,0.331,2.815,15.17)") from None
    if shaft_rpm is not None:
        if not shaft_rpm > 0:
            raise BearingEdgeError(f"--shaft-rpm must be > 0, got {shaft_rpm!r}")
        shaft_hz = shaft_rpm / 60.0
    if shaft_hz is None:
        raise BearingEdgeError("--bearing needs --shaft-rpm (the defect frequencies scale with the shaft speed)")
    return bearing, shaft_hz


def _features(args: argparse.Namespace):
    """The feature names and condition settings the options ask for (refused with the fix when they do not fit)."""
    from edge_agent.features.condition import STANDARD_GRAVITY_M_S2, WITH_BEARING_FEATURES, ConditionSettings
    from edge_agent.features.registry import DEFAULT_FEATURES, FEATURES
    from firmware_io.errors import BearingEdgeError

    if args.features is None:  # the measured default needs the bearing: without one, the seed's mean |x|
        names = WITH_BEARING_FEATURES if args.bearing else DEFAULT_FEATURES
    else:
        names = tuple(FEATURES) if args.features == "all" else tuple(n.strip() for n in args.features.split(",") if n.strip())
    bearing, shaft_hz = parse_bearing(args.bearing, args.shaft_rpm) if args.bearing else (None, None)
    if names == ("mean_abs",) and bearing is None:
        return names, None
    try:
        condition = ConditionSettings(to_m_s2=STANDARD_GRAVITY_M_S2 if args.sensor_unit == "g" else 1.0,
                                      bearing=bearing, shaft_hz=shaft_hz)
    except ValueError as exc:
        raise BearingEdgeError(str(exc)) from None
    return names, condition
