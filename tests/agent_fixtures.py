"""Shared helpers for the edge-agent tests: a real bundle, the replay on a pty, an agent config.

The bundle is the real thing: an autoencoder with T = 2 (so the agent's
history across snapshots and restarts matters) trained on the healthy period
of IMS test 2 by ``bearing-train fit``'s own code (``train.fit.fit_model_dir``,
a few epochs), converted by ``convert.pipeline.convert_model_dir`` (float32
variant). Built once per test session, on first use: the e2e tests get it from the
``agent_bundle`` fixture (``tests/e2e/conftest.py``, under pytest's session temp folder).
No tests here, and nothing happens at import.
"""
from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from edge_agent.config import Config, parse_config
from edge_agent.features.table import FeatureTable
from edge_agent.features.registry import mean_abs
from firmware_io.recordings import reader as recordings
from firmware_io.recordings import ims as datasets
from firmware_io.protocol.frames import SnapshotMark

TIMESTEPS = 2
EPOCHS = 20


def build_bundle(out: Path, timesteps: int = TIMESTEPS, epochs: int = EPOCHS) -> Path:
    """Train (``bearing-train fit``'s code) and convert a bundle into ``out``; returns the bundle dir.

    Converted with ``--physics-baseline`` on the bundled raw snapshots of the healthy period (the 11 up to
    ``TEST2_TRAIN_UNTIL``) and ``--bearing ims``: the agent names the failing part of an alarming snapshot."""
    from train.physics_baseline import build
    from convert.pipeline import convert_model_dir
    from edge_agent.features.bearing import IMS_BEARING, IMS_SHAFT_HZ
    from train.fit import fit_model_dir

    model = out / "model"
    fit_model_dir(datasets.FEATURES_TEST2, model, datasets.TEST2_TRAIN_UNTIL, timesteps=timesteps,
                  epochs=epochs, make_plots=False)
    physics = functools.partial(build, [datasets.RAW_TEST2_DIR], bearing=IMS_BEARING, shaft_hz=IMS_SHAFT_HZ)
    return convert_model_dir(model, out / "bundle", variants=("float32",), data=datasets.FEATURES_TEST2,
                             physics=physics).bundle_dir


_BUILT: dict[int, Path] = {}


@functools.cache
def _fallback_root() -> Path:
    """A temp folder for callers outside a fixture, made on first use (never at import)."""
    root = Path(tempfile.mkdtemp(prefix="bearing-agent-tests-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


def bundle_dir(timesteps: int = TIMESTEPS, root: Path | None = None) -> Path:
    """The session's real bundle (trained briefly, converted, checksummed) for the agent tests.

    Built once per ``timesteps`` under ``root`` (the ``agent_bundle`` fixture passes pytest's
    session temp folder), whoever asks first; later callers share it.
    """
    if timesteps not in _BUILT:
        from tests.support.prebuilt_bundles import prebuilt_bundle

        _BUILT[timesteps] = prebuilt_bundle(f"agent_T{timesteps}") or build_bundle(
            (root or _fallback_root()) / f"T{timesteps}", timesteps)
    return _BUILT[timesteps]


#: the envelope bundle's features: mean |x| and the envelope lines at the outer- and inner-race defect frequencies
ENVELOPE_FEATURES = ["mean_abs", "env_bpfo_ptm", "env_bpfi_ptm"]
#: the healthy start of the 25 bundled snapshots, which the envelope bundle is trained on
ENVELOPE_TRAIN_UNTIL = "2004-02-15 20:00:00"


def envelope_bundle_dir(root: Path) -> Path:
    """A bundle with envelope features, trained on the 25 bundled test-2 snapshots (a few seconds with Keras).

    ``bearing-train ingest --bearing ims`` and ``fit``'s own code, then ``bearing-convert``'s (float32) with
    ``--physics-baseline`` on the same snapshots (the 11 healthy ones: the device's physics diagnosis reads
    its commissioning envelope spectrum). In the emulated Pi (no TensorFlow) the bundle exported from the host is used instead.
    """
    from tests.support.prebuilt_bundles import prebuilt_bundle

    prebuilt = prebuilt_bundle("agent_envelope")
    if prebuilt is not None:
        return prebuilt
    if "envelope" not in _BUILT_BY_NAME:  # once per session, whoever asks first (the first root holds it)
        _BUILT_BY_NAME["envelope"] = _build_envelope_bundle(root)
    return _BUILT_BY_NAME["envelope"]


_BUILT_BY_NAME: dict[str, Path] = {}


def _build_envelope_bundle(root: Path) -> Path:
    from train.physics_baseline import build
    from convert.pipeline import convert_model_dir
    from train.cli import main as train_main
    from train.fit import fit_model_dir

    table = root / "features.csv"
    assert train_main(["ingest", str(datasets.RAW_TEST2_DIR), "-o", str(table), "-q", "-j", "1",
                       "--features", ",".join(ENVELOPE_FEATURES), "--bearing", "ims"]) == 0
    fit_model_dir(table, root / "model", ENVELOPE_TRAIN_UNTIL, epochs=2, validation_split=0.0, make_plots=False,
                  features=ENVELOPE_FEATURES, immediate=2.0, debounce=3)
    return convert_model_dir(root / "model", root / "bundle", variants=("float32",), data=table,
                             physics=functools.partial(build, [datasets.RAW_TEST2_DIR])).bundle_dir


def raw_test2_files() -> list[Path]:
    """The 25 real IMS test-2 snapshot files bundled with the repository, in time order."""
    return sorted(p for p in datasets.RAW_TEST2_DIR.iterdir() if p.name[:4].isdigit())


def features_of(sources, scale: float = recordings.IMS_SCALE) -> FeatureTable:
    """The feature table of recorded snapshots, computed from counts as the device sends them."""
    stamps, rows = [], []
    for snap in recordings.iter_snapshots([str(s) for s in sources]):
        stamps.append(snap.timestamp)
        rows.append(mean_abs(snap.as_counts(scale), scale))
    return FeatureTable(np.array(stamps, dtype="datetime64[s]"),
                        ["Bearing 1", "Bearing 2", "Bearing 3", "Bearing 4"], np.array(rows))


def agent_config(tmp: Path, port: str, *, bundle: Path | None = None, learn: bool = False, **sections) -> Config:
    """A config for tests: mock pins, every snapshot scored, short fault timers."""
    data = {
        "agent": {"bundle": str(bundle or ""), "interval_s": 0.0, "learn": learn},
        "serial": {"port": port, "read_timeout_s": 0.05, "reconnect_initial_s": 0.05, "reconnect_max_s": 0.2},
        "faults": {"no_data_timeout_s": 2.0},
        "gpio": {"pin_factory": "mock"},
        "journal": {"path": str(tmp / "journal.sqlite")},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return parse_config(data, "<test>")


def replay_into_agent(tmp: Path, sources, bundle: Path, on_snapshot, until: Callable[[], bool],
                      before_start: Callable | None = None, **agent_kwargs):
    """The real agent (mock pins) on ``bundle`` while ``sources`` are replayed at full speed over a pty, until
    ``until()``; stopped and joined after. ``on_snapshot(row, agent)`` as the agent calls it;
    ``before_start(agent)`` once it is built."""
    from gpiozero.pins.mock import MockFactory

    from edge_agent.service import Agent

    replay = ReplayThread(sources, tmp / "ttyBEARING", speed=0).start()
    agent = Agent(agent_config(tmp, str(tmp / "ttyBEARING"), bundle=bundle, faults={"no_data_timeout_s": 600.0}),
                  pin_factory=MockFactory(), on_snapshot=on_snapshot, **agent_kwargs)
    if before_start is not None:
        before_start(agent)
    thread = agent.start()
    try:
        wait_for(until, 180, f"{len(sources)} snapshots journaled")
    finally:
        agent.stop()
        thread.join(30)
        replay.close()
    return agent


class ReplayThread:
    """``bearing-replay`` in a thread, writing to a pty whose stable name is ``link``."""

    def __init__(self, sources, link: Path, **replayer_kwargs) -> None:
        from firmware_io.simulator.ports import PtyPort
        from firmware_io.simulator.replay import Replayer

        self.port = PtyPort(link)
        self.replayer = Replayer([str(s) for s in sources], **replayer_kwargs)
        self.stop = threading.Event()
        self.stats = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        if self.port.wait_for_reader(self.stop):
            self.stats = self.replayer.run(self.port, self.stop)

    def start(self) -> "ReplayThread":
        self.thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.port.close()


class HeldReplay:
    """The replay's stream (speed 0) into a pty, held before the snapshots ``hold_before`` until :meth:`release`.

    At speed 0 the device waits for the host, so a held stream loses nothing, and the test, not
    the machine's speed, decides which snapshots arrive before and after what it does (a SIGHUP):
    a stream paced in real time races the test on a loaded machine.
    """

    def __init__(self, sources, link: Path, hold_before: tuple[int, ...]) -> None:
        from firmware_io.simulator.ports import PtyPort
        from firmware_io.simulator.replay import Replayer

        self.port = PtyPort(link)
        self.replayer = Replayer([str(s) for s in sources], speed=0)
        self.hold_before = set(hold_before)
        self.stop, self.finished = threading.Event(), threading.Event()
        self._releases = threading.Semaphore(0)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        if not self.port.wait_for_reader(self.stop):
            return
        snapshot = 0
        for chunk in self.replayer.chunks():
            if isinstance(chunk.frame, SnapshotMark):
                if snapshot in self.hold_before:
                    while not self._releases.acquire(timeout=0.1):
                        if self.stop.is_set():
                            return
                snapshot += 1
            self.port.write(chunk.data, self.stop)
        if self.port.drain(self.stop, timeout=120):  # closing the pty would drop what the agent has not read
            self.finished.set()

    def release(self) -> None:
        """Let the stream go on to the next hold (or the end)."""
        self._releases.release()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(60)
        self.port.close()


def wait_for(predicate, timeout: float, what: str | Callable[[], str]) -> None:
    """Poll ``predicate`` until true; fail the test with ``what`` after ``timeout`` seconds.

    ``what`` may be a function, called at the failure, to say what was missing then.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what() if callable(what) else what}")
