"""``bearing-replay``: a virtual accelerometer that streams recorded snapshots as protocol frames.

    bearing-replay data/ims/raw/2nd_test --pty --link /tmp/accel
    bearing-replay ims_test2_int16.npz --port /dev/ttyUSB1 --speed 10
    bearing-replay data/ims/raw/2nd_test --pty --speed 0 --corrupt-rate 1e-4 --drop-rate 0.01
    bearing-replay ims_test2_int16.npz --pty --link /tmp/accel --speed 0 --start 532   # snapshots 532..end
    bearing-replay Learning_set_Bearing1_1.tar.xz --pattern 'acc_*.csv' --time-columns 1,2,3,4 \
        --rate 25600 --burst-every 10 --pty --link /tmp/accel --speed 100   # PRONOSTIA's bursts

With ``--pty`` the device path is printed on stdout (one line per
(re)connect) so a script can read it; everything else goes to stderr.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Sequence

from firmware_io.cli_support import EXIT_INTERRUPTED, help_text, main_single
from firmware_io.protocol.frames import DEFAULT_FRAME_SAMPLES
from firmware_io.recordings import reader as rec
from firmware_io.recordings.sources import ReadOptions, is_archive, listed
from firmware_io.simulator.faults import FaultConfig
from firmware_io.simulator.replay import DEFAULT_RATE_HZ, Replayer, ReplayError


def configure(p: argparse.ArgumentParser) -> None:
    # The examples above, kept as written, under the options.
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = help_text("\n".join(__doc__.splitlines()[1:]))
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="IMS snapshot files or folders, a packed .npz, or a raw .npy array of counts/values; "
                        "with --pattern/--time-columns/--snapshot-length, or an archive: any recording "
                        "bearing-train ingest reads (docs/recordings.md)")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--pty", action="store_true", help="create a pseudo-terminal and print its path")
    out.add_argument("--port", metavar="DEVICE",
                     help="write to a serial device or pyserial URL (e.g. /dev/ttyUSB0, socket://host:7000)")
    p.add_argument("--link", metavar="PATH",
                   help="with --pty: keep a symlink at PATH to the current pty (stable across replugs)")
    p.add_argument("--no-wait", action="store_true",
                   help="with --pty: start streaming without waiting for a reader to open the pty")
    p.add_argument("--baudrate", type=int, default=2000000,
                   help="with --port: baud rate (default 2000000: a UART needs >= 2 Mbaud, PROTOCOL.md)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="1 = real time (default), 10 = ten times faster, 0 = as fast as the reader takes it")
    p.add_argument("--loops", type=int, default=1, help="play the recording N times (0 = forever; default 1)")
    p.add_argument("--start", type=int, default=0, metavar="K",
                   help="first snapshot to play, 0-based (default 0); positions stay those of the whole recording")
    p.add_argument("--stop", type=int, default=None, metavar="K",
                   help="play up to, not including, snapshot K (default: to the end)")
    p.add_argument("--rate", type=int, default=DEFAULT_RATE_HZ, help=f"sample rate in Hz (default {DEFAULT_RATE_HZ})")
    p.add_argument("--scale", type=float, default=rec.IMS_SCALE,
                   help="physical units per int16 count (default 0.001: exact for IMS data)")
    p.add_argument("--frame-samples", type=int, default=DEFAULT_FRAME_SAMPLES,
                   help=f"samples per channel per frame (default {DEFAULT_FRAME_SAMPLES})")
    p.add_argument("--device-id", default="bearing-replay", help="device id sent in StreamInfo")
    p.add_argument("--burst-every", type=float, default=None, metavar="SECONDS",
                   help="the recording is of bursts SECONDS apart (PRONOSTIA: 10): the sample index jumps over "
                        "the pause between them, like a burst-mode sensor's (default: snapshots end to end)")
    r = p.add_argument_group("recordings of any rig, read like bearing-train ingest (docs/recordings.md)")
    r.add_argument("--pattern", default=None, metavar="GLOB", help="file names to read in folders and archives")
    r.add_argument("--time-columns", default=None, metavar="H,M,S[,US]",
                   help="columns with the hour, minute, second and microsecond of each file (PRONOSTIA: 1,2,3,4)")
    r.add_argument("--snapshot-length", type=int, default=None, metavar="N",
                   help="samples per snapshot: long recordings are cut into snapshots of N")
    f = p.add_argument_group("fault injection (for testing the receiving side)")
    f.add_argument("--corrupt-rate", type=float, default=0.0, help="probability per byte of corrupting it")
    f.add_argument("--drop-rate", type=float, default=0.0, help="probability per frame of dropping it")
    f.add_argument("--garbage-rate", type=float, default=0.0,
                   help="probability per frame of a garbage burst before it")
    f.add_argument("--garbage-max", type=int, default=64, help="longest garbage burst in bytes (default 64)")
    f.add_argument("--disconnect-every", type=int, default=0, metavar="N",
                   help="unplug after every N frames (0 = never)")
    f.add_argument("--down-time", type=float, default=1.0, help="seconds unplugged (default 1)")
    f.add_argument("--seed", type=int, default=0, help="random seed for the faults (default 0)")
    p.add_argument("--stats", action="store_true", help="print the replay's counters as JSON on stderr at the end")


def replayer_from_args(args: argparse.Namespace) -> Replayer:
    """The options as a Replayer (raises ReplayError, RecordingError or PayloadError for bad ones)."""
    try:
        faults = FaultConfig(args.corrupt_rate, args.drop_rate, args.garbage_rate, args.garbage_max,
                             args.disconnect_every, args.down_time, args.seed)
    except ValueError as exc:  # FaultConfig checks only its own numbers: these are bad options
        raise ReplayError(f"fault injection: {exc}") from None
    return Replayer(args.sources, sample_rate_hz=args.rate, scale=args.scale, speed=args.speed,
                    frame_samples=args.frame_samples, faults=faults, device_id=args.device_id,
                    loops=args.loops, start=args.start, stop=args.stop, burst_every_s=args.burst_every,
                    options=read_options(args))


def read_options(args: argparse.Namespace) -> ReadOptions | None:
    """How to read the sources: like ``ingest`` when asked to (or for an archive), else the IMS/npz/npy reader."""
    columns = listed(args.time_columns)
    if not (args.pattern or columns or args.snapshot_length or any(is_archive(Path(s)) for s in args.sources)):
        return None
    return ReadOptions(sample_rate_hz=args.rate, snapshot_length=args.snapshot_length, pattern=args.pattern,
                       time_columns=columns)


def _announce(path: str) -> None:
    print(path, flush=True)


def _open_port(args: argparse.Namespace):
    try:
        if args.pty:
            from firmware_io.simulator.ports import PtyPort
            return PtyPort(args.link, wait_for_reader=not args.no_wait, on_connect=_announce)
        from firmware_io.simulator.ports import SerialPort
        return SerialPort(args.port, args.baudrate)
    except OSError as exc:  # pyserial's SerialException is an OSError too
        raise ReplayError(f"cannot open {args.port or 'a pty'}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    replayer = replayer_from_args(args)
    # Read and check every snapshot before opening anything: bad data fails now, not hours into the replay.
    replayer.check()
    stop, interrupted = threading.Event(), []
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # Ctrl-C ends like any interrupted command: 130 (docs/cli.md), after the port is closed cleanly
    signal.signal(signal.SIGINT, lambda *_: (interrupted.append(True), stop.set()))
    port = _open_port(args)
    try:
        stats = replayer.run(port, stop)
    except BrokenPipeError:  # the reader went away: the replay's normal end when piped
        return 0
    finally:
        port.close()
    if args.stats:
        print(json.dumps(stats.as_dict()), file=sys.stderr)
    return EXIT_INTERRUPTED if interrupted else 0


def main(argv: Sequence[str] | None = None) -> int:
    return main_single("bearing-replay", sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
