"""``python -m demo.commission --out DIR`` (``make commission-demo``): rehearse commissioning off the Pi.

docs/commissioning.md, step by step, with the real commands in their own processes, on data that
ships in the repository. Each command is printed before it runs, so the sequence can be copied.

1. **A healthy machine to learn from (synthesised, and said so).** The kit ships 11 healthy raw
   snapshots of IMS test 2 (2004-02-12 and 02-15): too few to train on, and ``fit`` refuses them.
   :func:`synthesise_healthy` makes ``--snapshots`` (default 300) from them: each joins the start of
   one of the 11 (chosen at random) to the rest of another at a random sample, and rotates each
   channel by a random number of samples. Its level is a mix of two real healthy levels and its
   spectrum theirs, so the healthy scatter is the recording's own (300 snapshots, seed 0: every
   channel's mean |x| within 1 % of the 11 files' range), with no trend; only the waveform is new. They are stamped every 600 s from 2026-03-01 00:00:00 UTC (300 snapshots span
   49.8 h, over fit's 48 h floor). This rehearses the procedure; it says nothing about how well the
   kit detects on your machine.
2. ``bearing-replay healthy.npz --pty`` streams them as live frames; ``bearing-agent run --learn``
   (mock GPIO pins) records their features in its journal, as on the Pi.
3. ``bearing-agent export`` -> ``healthy.csv``; ``bearing-train fit`` -> model; ``bearing-convert`` -> bundle.
4. The ``bundle`` link is pointed at the new bundle and the agent gets SIGHUP (what ``systemctl
   reload`` sends): it ends learning and scores from the next snapshot, without a restart.
5. ``bearing-replay`` streams the 13 bundled test-2 snapshots after the healthy period (02-15 12:02 to
   02-19 06:02, the failure of bearing 1; not the two taken after the rig stopped), shifted in time to
   follow the learned period with their own spacing kept (the sensor unplugged while you retrained,
   then plugged in again). The agent scores them; the timeline of error, level and relay is printed
   from its journal.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

START = np.datetime64("2026-03-01T00:00:00", "s")
INTERVAL_S = 600
CHANNELS = ["Bearing 1", "Bearing 2", "Bearing 3", "Bearing 4"]
DEVICE_ID = "ims-rig"
#: the bundled test-2 snapshots after the healthy period, before the rig stopped (data/ims/SOURCES.md)
FAILURE_FILES = slice(10, 23)


class RehearsalError(RuntimeError):
    """A step of the rehearsal failed; the message says which and where its log is."""


def step(n: int, text: str) -> None:
    print(f"\n== step {n}: {text}", flush=True)


def bundled_snapshots(which: slice | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(timestamps, int16 counts) of the bundled raw IMS test-2 files, in time order."""
    from firmware_io.recordings import ims as datasets
    from firmware_io.recordings import reader

    files = sorted(p for p in datasets.RAW_TEST2_DIR.iterdir() if p.name[:4].isdigit())[which or slice(None)]
    stamps = np.array([reader.parse_snapshot_name(p.name, str(p)) for p in files], dtype="datetime64[s]")
    return stamps, np.stack([reader.to_counts(reader.read_snapshot_file(p), source=str(p)) for p in files])


def synthesise_healthy(out: Path, n: int, seed: int = 0) -> Path:
    """``n`` healthy snapshots from the bundled healthy IMS test-2 files (see the module's docstring)."""
    from firmware_io.recordings import ims as datasets
    from firmware_io.recordings.reader import write_packed

    stamps, counts = bundled_snapshots()
    healthy = counts[stamps <= np.datetime64(datasets.TEST2_TRAIN_UNTIL.replace(" ", "T"), "s")]
    rng = np.random.default_rng(seed)
    n_samples, n_channels = healthy.shape[1:]
    samples = np.empty((n, n_samples, n_channels), dtype=np.int16)
    for k in range(n):
        a, b = rng.integers(len(healthy), size=2)
        cut = int(rng.integers(1, n_samples))
        joined = np.concatenate([healthy[a, :cut], healthy[b, cut:]])
        for c in range(n_channels):
            samples[k, :, c] = np.roll(joined[:, c], int(rng.integers(n_samples)))
    times = START + np.arange(n) * np.timedelta64(INTERVAL_S, "s")
    return write_packed(out, times, samples, datasets.IMS_SCALE)


def failure_after(out: Path, healthy_end: np.datetime64) -> Path:
    """The bundled snapshots after the healthy period, their spacing kept, the first 600 s after ``healthy_end``."""
    from firmware_io.recordings import ims as datasets
    from firmware_io.recordings.reader import write_packed

    stamps, counts = bundled_snapshots(FAILURE_FILES)
    shifted = stamps - stamps[0] + healthy_end + np.timedelta64(INTERVAL_S, "s")
    return write_packed(out, shifted, counts, datasets.IMS_SCALE)


def command(name: str) -> list[str]:
    """A kit command run with this interpreter (the venv's), whatever PATH says."""
    modules = {"bearing-agent": "edge_agent.cli.main", "bearing-train": "train.cli", "bearing-convert": "convert.cli",
               "bearing-replay": "firmware_io.simulator.replay_cli"}
    return [sys.executable, "-m", modules[name]]


def show(name: str, args: list[str]) -> list[str]:
    print("$ " + " ".join([name, *(f"'{a}'" if " " in a else a for a in args)]), flush=True)
    return [*command(name), *args]


def run(name: str, *args: str, log: Path) -> None:
    """Run a command to its end, its output shown as it comes and kept in ``log``; a failure names its log."""
    with log.open("w") as kept:
        proc = subprocess.Popen(show(name, list(args)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            print(line, end="", flush=True)
            kept.write(line)
        code = proc.wait()
    if code != 0:
        raise RehearsalError(f"{name} {args[0]} failed (exit {code}); its output is in {log}")


def start_replay(npz: Path, link: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(show("bearing-replay", [str(npz), "--pty", "--link", str(link), "--speed", "0",
                                                    "--device-id", DEVICE_ID]),
                            stdout=subprocess.DEVNULL, stderr=log.open("w"))


def journal_rows(path: Path, **query) -> list[dict]:
    from edge_agent.journal import Journal

    if not path.exists():
        return []
    j = Journal(path, create=False)
    try:
        return j.snapshots(**query)
    finally:
        j.close()


def journal_events(path: Path, kind: str) -> list[dict]:
    from edge_agent.journal import Journal

    j = Journal(path, create=False)
    try:
        return j.events(last=5, kind=kind)
    finally:
        j.close()


def wait_for(condition, timeout_s: float, what: str, agent: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if agent.poll() is not None:
            raise RehearsalError(f"bearing-agent run exited ({agent.returncode}) while waiting for {what}; see {log}")
        if time.monotonic() > deadline:
            raise RehearsalError(f"no {what} within {timeout_s:g} s; see {log}")
        time.sleep(0.2)


def rehearse(out: Path, *, snapshots: int = 300, epochs: int = 100, runtimes: str | None = None,
             seed: int = 0) -> dict:
    """The whole rehearsal in ``out`` (see the module's docstring); returns the scored rows of step 5."""
    from edge_agent.features.table import format_timestamp, read_feature_table

    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    journal, link, config = out / "journal.sqlite", out / "accelerometer", out / "agent.toml"
    config.write_text(f'[agent]\nbundle = "{out / "bundle"}"\ninterval_s = 0.0\n'
                      f'[serial]\nport = "{link}"\n'
                      f'[journal]\npath = "{journal}"\n'
                      '[gpio]\npin_factory = "mock"\n'
                      f'[learning]\nchannel_names = {CHANNELS!r}\n'.replace("'", '"'))

    step(1, f"synthesise {snapshots} healthy snapshots from the 11 bundled healthy IMS test-2 files")
    healthy = synthesise_healthy(out / "healthy.npz", snapshots, seed)
    print(f"{healthy}: {snapshots} snapshots, each two bundled healthy ones joined and rotated at random, "
          f"every {INTERVAL_S} s from {format_timestamp(START)} (synthesised: see demo/commission.py)")

    step(2, "the sensor streams the healthy machine; the agent learns (records features, no alarms)")
    replay = start_replay(healthy, link, logs / "replay-healthy.log")
    agent_log = logs / "agent.log"
    agent = subprocess.Popen(show("bearing-agent", ["run", "--config", str(config), "--learn"]),
                             stdout=agent_log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: len(journal_rows(journal)) >= snapshots, 60 + snapshots, f"{snapshots} learned snapshots",
                 agent, agent_log)
        replay.wait(120)
        print(f"the agent recorded {len(journal_rows(journal))} snapshots in {journal} (learning mode)")

        step(3, "export the healthy period, train and convert on the desktop")
        csv = out / "healthy.csv"
        run("bearing-agent", "export", "--config", str(config), "--since", "2026-03-01", "-o", str(csv),
            log=logs / "export.log")
        last = format_timestamp(read_feature_table(csv).timestamps[-1])
        run("bearing-train", "fit", str(csv), "--sample-rate", "20000", "--snapshot-length", "20480",
            "--train-until", last, "--epochs", str(epochs), "--seed", str(seed), "--no-plots",
            "--out", str(out / "model"), log=logs / "fit.log")
        convert_args = [str(out / "model"), "--out", str(out / "bundles" / "v1"), "--data", str(csv)]
        run("bearing-convert", *convert_args, *(["--runtimes", runtimes] if runtimes else []),
            log=logs / "convert.log")
        run("bearing-agent", "check-bundle", str(out / "bundles" / "v1"), log=logs / "check-bundle.log")

        step(4, "deploy without stopping the agent: point the bundle link at it, reload (SIGHUP)")
        print(f"$ ln -sfn bundles/v1 {out / 'bundle'} && kill -HUP {agent.pid}   # systemctl reload bearing-agent")
        (out / "bundle.new").unlink(missing_ok=True)
        os.symlink("bundles/v1", out / "bundle.new")
        os.replace(out / "bundle.new", out / "bundle")
        agent.send_signal(signal.SIGHUP)
        wait_for(lambda: journal_events(journal, "learning_ended"), 120, "learning_ended event", agent, agent_log)
        print("the agent journaled learning_ended and bundle_loaded: it scores from the next snapshot")

        step(5, "the sensor is plugged in again and streams the rest of test 2, up to bearing 1's failure")
        failure = failure_after(out / "failure.npz", np.datetime64(last.replace(" ", "T"), "s"))
        replay = start_replay(failure, link, logs / "replay-failure.log")
        n_failure = len(range(25)[FAILURE_FILES])
        scored = lambda: [r for r in journal_rows(journal) if r["error"] is not None]  # noqa: E731
        wait_for(lambda: len(scored()) >= n_failure, 120, f"{n_failure} scored snapshots", agent, agent_log)
        replay.wait(120)
    finally:
        agent.terminate()
        agent.wait(60)
        if replay.poll() is None:
            replay.terminate()
            replay.wait(10)
    rows = scored()
    print(f"\n{'snapshot':20s} {'error':>9s} {'threshold':>9s}  {'machine':8s} {'level':7s} LED (the journal's state)")
    for r in rows:
        print(f"{format_timestamp(np.datetime64(int(r['time']), 's')):20s} {r['error']:9.4f} {r['threshold']:9.4f}  "
              f"{r['machine_state']:8s} {r['level']:7s} {r['state']}")
    first = {lvl: next((r for r in rows if r["level"] == lvl), None) for lvl in ("alert", "danger")}
    print("\n" + "; ".join(f"first {lvl}: " + (format_timestamp(np.datetime64(int(r['time']), 's')) if r else "none")
                           for lvl, r in first.items()))
    print(f"everything is in {out}: agent.toml, journal.sqlite, healthy.csv, model/, bundles/v1, logs/ "
          f"(try: bearing-agent status --config {config})")
    return {"rows": rows, "healthy_csv": csv, "model": out / "model", "bundle": out / "bundles" / "v1"}


def main(argv: list[str] | None = None) -> int:
    from firmware_io.cli_support import help_text

    p = argparse.ArgumentParser(prog="python -m demo.commission", description=help_text(__doc__.splitlines()[0]))
    p.add_argument("--out", type=Path, default=Path("commission-output"),
                   help="an empty or new folder (default commission-output)")
    p.add_argument("--snapshots", type=int, default=300,
                   help="healthy snapshots to learn from (default 300: 49.8 h at 600 s, over fit's floor)")
    p.add_argument("--epochs", type=int, default=100, help="training epochs (default 100, fit's default)")
    p.add_argument("--runtimes", default=None,
                   help="bearing-convert --runtimes (default: its own, both runtimes; 'ai-edge-litert' is quicker)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        if not (args.out / "healthy.npz").exists():
            p.error(f"{args.out} is not empty and not an earlier rehearsal: choose another --out")
        shutil.rmtree(args.out)  # an earlier rehearsal: start clean
    try:
        rehearse(args.out.resolve(), snapshots=args.snapshots, epochs=args.epochs, runtimes=args.runtimes,
                 seed=args.seed)
    except RehearsalError as exc:
        print(f"commission-demo: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
