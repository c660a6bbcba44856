"""``python -m demo --out DIR`` (``make demo``): the whole desktop story on the bundled IMS test 2.

A clear sequence of steps (:func:`run_demo`), each printing what it did:

1. ingest the bundled raw test-2 snapshot files (shows ingest works on real files
   and that they match the bundled feature table);
2. fit the default model on the bundled full test-2 feature table
   (``data/ims/features/ims_test2_features.csv``), healthy until 2004-02-15 12:52:39;
3. print the summary of the model directory;
4. convert it to TFLite, run the parity gate against the Keras model and write
   the deployment bundle (``bundle/`` and ``bundle.tar.gz``);
5. start the virtual accelerometer (``bearing-replay --pty``) streaming the
   bundled raw snapshots as live 4 ch x 20 kHz frames, and the edge agent
   reading that pty with the bundle and mock GPIO pins; print the timeline of
   scores and the LED/relay, and check it against offline scoring.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def step(n: int, text: str) -> None:
    print(f"\n== step {n}: {text}", flush=True)


def ingest_bundled_raw(out: Path) -> Path:
    """Step 1: the bundled raw files -> a feature table, checked against the bundled one."""
    from edge_agent.features.table import read_feature_table
    from firmware_io.recordings import ims as datasets
    from train.ingest import ingest

    path = out / "raw_test2_features.csv"
    result = ingest([datasets.RAW_TEST2_DIR], path, progress=False)
    full = read_feature_table(datasets.FEATURES_TEST2)
    rows = np.searchsorted(full.timestamps, result.table.timestamps)
    diff = float(np.abs(full.values[rows] - result.table.values).max())
    print(f"ingested {result.n_files} raw files from {datasets.RAW_TEST2_DIR} -> {path}")
    print(f"largest difference to the matching rows of {datasets.FEATURES_TEST2.name}: {diff:.3g}")
    return path


def fit_bundled(out: Path, seed: int, epochs: int):
    """Step 2: the default model on the full bundled test 2."""
    from firmware_io.recordings import ims as datasets
    from train.fit import fit_model_dir

    model_dir = out / "model"
    print(f"training on {datasets.FEATURES_TEST2} until {datasets.TEST2_TRAIN_UNTIL} "
          f"({epochs} epochs, seed {seed}) ...", flush=True)
    return fit_model_dir(datasets.FEATURES_TEST2, model_dir, datasets.TEST2_TRAIN_UNTIL, seed=seed, epochs=epochs,
                         on_collapse=lambda s, again: print(f"seed {s}: the model collapsed to a constant output (it "
                                                            f"did not learn); training again with seed {again} ...",
                                                            flush=True))


def convert_bundle(out: Path, model_dir: Path):
    """Step 4: every TFLite variant through the parity gate, the bundle for the Pi, with the commissioning
    envelope spectrum of the bundled healthy raw snapshots (``--physics-baseline``): the agent then names the
    failing part of an alarming snapshot from the physics of the IMS rig's bearing."""
    import functools

    from convert.pipeline import convert_model_dir
    from edge_agent.features.bearing import IMS_BEARING, IMS_SHAFT_HZ
    from firmware_io.recordings import ims as datasets
    from train.physics_baseline import build

    physics = functools.partial(build, [datasets.RAW_TEST2_DIR], bearing=IMS_BEARING, shaft_hz=IMS_SHAFT_HZ)
    result = convert_model_dir(model_dir, out / "bundle", data=datasets.FEATURES_TEST2, physics=physics)
    print(result.parity_table(markdown=False))
    print(f"deployed variant: {result.default_variant}; bundle: {out / 'bundle'} and {result.archive}")
    return result


def replay_to_agent(out: Path, bundle: Path) -> list:
    """Step 5: bearing-replay -> pty -> bearing-agent (mock GPIO) -> journal, printed as a timeline."""
    import subprocess
    import time

    from gpiozero.pins.mock import MockFactory

    from edge_agent.config import parse_config
    from edge_agent.journal import format_time
    from edge_agent.service import Agent
    from firmware_io.recordings import ims as datasets

    link, journal = out / "accelerometer", out / "journal.sqlite"
    for stale in (link, journal):
        stale.unlink(missing_ok=True)
    n_files = len([p for p in datasets.RAW_TEST2_DIR.iterdir() if p.is_file()])
    replay = subprocess.Popen([sys.executable, "-m", "firmware_io.simulator.replay_cli", "--pty", "--link", str(link),
                               "--speed", "0", str(datasets.RAW_TEST2_DIR)], stdout=subprocess.DEVNULL)
    try:
        _wait_for(link.exists, 30, "bearing-replay did not create its pty")
        print(f"bearing-replay streams {n_files} real snapshots as live frames on {link} "
              f"(pid {replay.pid}); the agent reads it")
        config = parse_config({"agent": {"bundle": str(bundle), "interval_s": 0},
                               "serial": {"port": str(link)}, "gpio": {"pin_factory": "mock"},
                               "journal": {"path": str(journal)}}, "<demo>")
        pins = MockFactory()
        rows: list = []
        print(f"\n{'snapshot (recorded)':20} {'error':>9} {'threshold':>9}  over  {'level':7} {'LED':7} relay")

        def show(row, agent) -> None:
            relay = "ON" if pins.pin(config.gpio.relay_pin).state else "off"
            error = f"{row.error:9.4f}" if row.error is not None else f"{'-':>9}"  # T > 1: history filling
            print(f"{format_time(row.time):20} {error} {row.threshold or 0:9.4f}  {'yes' if row.over_threshold else ' - ':4}  "
                  f"{row.level or '-':7} {row.state:7} {relay}", flush=True)
            rows.append((row, relay))
            if len(rows) == n_files:
                # Stop with the last snapshot, before the replay's normal end closes the pty: the agent
                # would log that as a lost device and a sensor fault, two WARNINGs after a clean run.
                agent.stop()

        agent = Agent(config, pin_factory=pins, on_snapshot=show)
        thread = agent.start()
        _wait_for(lambda: len(rows) >= n_files or replay.poll() not in (None, 0), 120,
                  "the agent did not score every replayed snapshot")
        time.sleep(0.2)
        agent.stop()
        thread.join(10)
    finally:
        replay.terminate()
        replay.wait(10)
    return rows


def check_against_offline(out: Path, bundle: Path, raw_table: Path, rows: list) -> None:
    """The live agent must decide exactly like offline scoring of the same snapshots."""
    from edge_agent.scoring.bundle import load_bundle
    from edge_agent.features.table import read_feature_table
    from edge_agent.journal import format_time
    from edge_agent.scoring.scorer import score_table

    offline = score_table(load_bundle(bundle), read_feature_table(raw_table))
    live_err = np.array([r.error for r, _ in rows])
    live_alarm = np.array([bool(r.alarm) for r, _ in rows])
    same = len(rows) == len(offline.error) and np.allclose(live_err, offline.error, atol=1e-6) \
        and (live_alarm == offline.alarm).all()
    first = next((r for r, relay in rows if relay == "ON"), None)
    alert = next((r for r, _ in rows if r.level in ("alert", "danger")), None)
    print(f"\nlive agent vs offline 'bearing-agent score' on the same {len(rows)} snapshots: "
          f"{'identical decisions, errors within 1e-6' if same else 'DIFFERENT'}")
    print(f"alarm from the snapshot recorded {format_time(alert.time) if alert else 'never'} (Alert: the LED blinks), "
          f"relay on from {format_time(first.time) if first else 'never'} (Danger: LED steady, relay on, buzzer); "
          f"journal: {out / 'journal.sqlite'} (try: {_venv_command('bearing-agent')} status --journal "
          f"{out / 'journal.sqlite'})")
    physics = _physics_diagnosis(out / "journal.sqlite")
    if physics:
        print(f"named from the physics (envelope spectrum against the commissioning baseline): {physics}")
    if not same:
        raise RuntimeError("the live agent and offline scoring disagree; please report this as a bug")


def _physics_diagnosis(journal_path: Path) -> str | None:
    """The agent's physics diagnosis of its newest alarming snapshot, as journaled (None if there is none)."""
    from edge_agent.facts import PHYSICS_STATE
    from edge_agent.journal import Journal

    journal = Journal(journal_path, create=False)
    try:
        physics = journal.get_state(PHYSICS_STATE)
    finally:
        journal.close()
    return physics.get("text") if isinstance(physics, dict) and physics.get("part") else None


def _venv_command(name: str) -> str:
    """``name`` as the user can run it: the commands live in the venv's bin, which is not on PATH."""
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def _wait_for(condition, timeout_s: float, what: str) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout_s:g} s")
        time.sleep(0.05)


def run_demo(out: str | Path, seed: int = 0, epochs: int = 100) -> dict:
    """Run every step into ``out``; returns the paths and results for later steps."""
    from train.report import summary

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    step(1, "ingest the bundled raw IMS test-2 files")
    table = ingest_bundled_raw(out)
    step(2, "fit the LSTM autoencoder on the healthy period of IMS test 2")
    fit = fit_bundled(out, seed, epochs)
    step(3, "summary of the model directory")
    print(summary(fit.out))
    step(4, "convert to TFLite, prove parity with the Keras model, write the bundle")
    conversion = convert_bundle(out, fit.out)
    step(5, "virtual accelerometer -> serial pty -> edge agent with the bundle and mock GPIO")
    rows = replay_to_agent(out, out / "bundle")
    check_against_offline(out, out / "bundle", table, rows)
    return {"raw_table": table, "model_dir": fit.out, "fit": fit, "conversion": conversion, "agent_rows": rows}


def main(argv: list[str] | None = None) -> int:
    from firmware_io.cli_support import help_text

    p = argparse.ArgumentParser(prog="python -m demo", description=help_text(__doc__.splitlines()[0]))
    p.add_argument("--out", type=Path, default=Path("demo-output"), help="output folder (default demo-output)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=100)
    args = p.parse_args(argv)  # first: --help and a bad argument need no TensorFlow (a Pi has none)
    # TensorFlow's C++ start-up chatter (oneDNN notes, graph attribute warnings) and the
    # converter's deprecation notices would bury the demo's own output.
    from train.quiet_tensorflow import quiet_tensorflow

    try:
        quiet_tensorflow()
    except ImportError as exc:
        print(f"demo: error: the demo trains a model on this machine and needs TensorFlow ({exc}): run it on the "
              "desktop with `make demo`, or install the desktop extra: pip install '.[train]'", file=sys.stderr)
        return 2
    try:
        run_demo(args.out, seed=args.seed, epochs=args.epochs)
    except (ValueError, RuntimeError) as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
