"""Commissioning end to end: learn on the machine, retrain on the desktop, hot-swap, score the rest.

Real processes throughout: ``bearing-replay`` streams the packed IMS test 2
into a pty, ``bearing-agent run --learn`` reads it, SIGHUP swaps bundles (the
refusal test holds the stream between swaps, so its replay runs in this process).

How the learning phase and the scoring phase connect. The decisions on the
rest of test 2 can only equal the desktop pipeline's if the new bundle
scores *exactly* the snapshots after the split, so the healthy part and the
rest are two replays of the same recording (``--stop 447`` then
``--start 447``, at the recording's own stream positions) with the agent
running throughout, like a sensor board that is unplugged while the user
retrains and plugged in again: the agent journals ``device_lost``, keeps
reopening the stable ``--link`` name, and picks the stream up again. A
single accelerated replay cannot pause at the split: at ``--speed 0`` it
races on while the desktop trains, and on a real machine those snapshots
would be recorded (unscored) in learning mode, which is right for a machine
but not for comparing with the desktop's decisions on the same snapshots.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edge_agent.cli import main as cli
from edge_agent.features.table import read_feature_table
from edge_agent.journal import Journal
from firmware_io.recordings import ims as datasets
from tests.agent_fixtures import HeldReplay, raw_test2_files, wait_for
from tests.conftest import import_or_skip_desktop
from tests.support.logged_process import LoggedProcess

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals need a POSIX system")]

N = 20480
SPLIT = 447  # snapshots of IMS test 2 at or before 2004-02-15 12:52:39
CHANNELS = ["Bearing 1", "Bearing 2", "Bearing 3", "Bearing 4"]


# --- helpers -------------------------------------------------------------------------------

def read_journal(path: Path, what: str = "snapshots", **kw):
    if not path.exists():
        return []
    j = Journal(path, create=False)
    try:
        return j.snapshots(**kw) if what == "snapshots" else j.events(last=10_000, kind=kw.get("kind"))
    finally:
        j.close()


def n_rows(path: Path) -> int:
    if not path.exists():
        return 0
    j = Journal(path, create=False)
    try:
        return j.db.execute("SELECT count(*) FROM snapshots").fetchone()[0]
    finally:
        j.close()


def heartbeat_mode(path: Path) -> str | None:
    j = Journal(path, create=False)
    try:
        return (j.get_state("heartbeat") or {}).get("mode")
    finally:
        j.close()


def replay(*args: str) -> subprocess.Popen:
    """``bearing-replay`` as a process (the console script if installed)."""
    script = Path(sys.executable).with_name("bearing-replay")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "firmware_io.simulator.replay_cli"]
    return subprocess.Popen(cmd + list(args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def start_agent(tmp: Path, link: Path, bundle: Path, *, learn: bool) -> LoggedProcess:
    """``bearing-agent run`` as a process with the config a user would write (mock pins off a Pi)."""
    config = tmp / "agent.toml"
    config.write_text(
        f'[agent]\nbundle = "{bundle}"\ninterval_s = 0\nlearn = {"true" if learn else "false"}\n'
        f'[serial]\nport = "{link}"\nread_timeout_s = 0.05\nreconnect_initial_s = 0.05\nreconnect_max_s = 0.2\n'
        f'[learning]\nchannel_names = {json.dumps(CHANNELS)}\n'
        f'[gpio]\npin_factory = "mock"\n[journal]\npath = "{tmp / "journal.sqlite"}"\n')
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return LoggedProcess([sys.executable, "-m", "edge_agent.cli.main", "run", "--config", str(config)],
                         tmp / f"agent-{time.monotonic_ns()}.log", env=env)


def deploy(bundle: Path, live: Path) -> None:
    """What docs/commissioning.md tells the user: repoint the ``bundle`` symlink atomically."""
    tmp = live.with_name(live.name + ".new")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(bundle)
    os.replace(tmp, live)


def keras_scores(model_dir: Path) -> list[dict]:
    with (model_dir / "scores.csv").open() as fh:
        return list(csv.DictReader(fh))


# --- the routine on IMS test 2 -------------------------------------------------------------

def test_learn_export_retrain_hot_swap_alarms_like_the_desktop(tmp_path, full_npz, model_fit):
    # the retraining is the desktop's (Keras): skipped on an edge-only install, e.g. the emulated Pi
    convert_model_dir = import_or_skip_desktop("convert.pipeline").convert_model_dir
    fit_model_dir = import_or_skip_desktop("train.fit").fit_model_dir

    link, journal, live = tmp_path / "ttyACM-sensor", tmp_path / "journal.sqlite", tmp_path / "bundle"
    desktop = read_feature_table(datasets.FEATURES_TEST2)
    assert desktop.timestamps[SPLIT - 1] == np.datetime64(datasets.TEST2_TRAIN_UNTIL.replace(" ", "T"))
    # The desktop-only pipeline: `bearing-train fit` on the bundled table up to the split. It is the
    # session's T = 1 model (tests/conftest.py, shared with the convert tests): the agent's model is
    # retrained below with the same seed and epochs, on what the agent journaled.
    theirs = model_fit(1)
    assert theirs.metadata["timesteps"] == 1 and theirs.metadata["split"]["train_until"] == datasets.TEST2_TRAIN_UNTIL
    epochs, seed = theirs.metadata["training"]["epochs"], theirs.metadata["seed"]

    # 1. learning mode, no bundle yet: the healthy part of test 2 streams in
    agent = start_agent(tmp_path, link, live, learn=True)
    try:
        first = replay(str(full_npz), "--pty", "--link", str(link), "--speed", "0", "--stop", str(SPLIT))
        assert first.wait(600) == 0, first.stderr.read()
        wait_for(lambda: n_rows(journal) == SPLIT, 120, f"{SPLIT} learned snapshots")
        wait_for(lambda: heartbeat_mode(journal) == "learning", 120, "the heartbeat to say learning")

        # 2. export (the agent's command) and retrain on the desktop
        exported = tmp_path / "healthy.csv"
        assert cli.main(["export", "--journal", str(journal), "--exclude-alarms", "-o", str(exported)]) == 0
        table = read_feature_table(exported)
        assert table.channel_names == desktop.channel_names
        np.testing.assert_array_equal(table.timestamps, desktop.timestamps[:SPLIT])
        np.testing.assert_allclose(table.values, desktop.values[:SPLIT], rtol=0, atol=1e-9)
        ours = fit_model_dir(exported, tmp_path / "model", datasets.TEST2_TRAIN_UNTIL, epochs=epochs,
                             seed=seed, make_plots=False)
        assert ours.metadata["split"]["n_healthy_snapshots"] == SPLIT
        # 447 snapshots over 74 h: enough (>= 288 over 48 h); the session's short fit may not learn (said apart)
        assert [w for w in ours.metadata["warnings"] if "did not learn" not in w] == []
        converted = convert_model_dir(tmp_path / "model", tmp_path / "bundles" / "v1", variants=("float32",),
                                      data=exported)

        # 3. deploy and reload: learning ends, scoring starts, nothing restarted
        deploy(converted.bundle_dir, live)
        agent.send_signal(signal.SIGHUP)
        wait_for(lambda: read_journal(journal, "events", kind="learning_ended"), 120, "the swap")
        # the heartbeat is the agent's next write after the event: wait for it, do not race it
        wait_for(lambda: heartbeat_mode(journal) == "scoring", 120, "the heartbeat to say scoring")

        # 4. the rest of test 2, from the same device name
        second = replay(str(full_npz), "--pty", "--link", str(link), "--speed", "0", "--start", str(SPLIT))
        assert second.wait(600) == 0, second.stderr.read()
        wait_for(lambda: n_rows(journal) == len(desktop), 120, "all 984 snapshots")
    finally:
        agent.stop()

    rows = read_journal(journal)
    bundle_id = json.loads((converted.bundle_dir / "manifest.json").read_text())["bundle_id"]
    # every snapshot exactly once, none lost; each row names what scored it (none in learning mode)
    assert [r["first_index"] for r in rows] == [k * N for k in range(len(desktop))]
    assert all(r["bundle_id"] is None and r["error"] is None and r["state"] == "learning" for r in rows[:SPLIT])
    assert all(r["bundle_id"] == bundle_id and r["error"] is not None for r in rows[SPLIT:])
    np.testing.assert_allclose([r["features"] for r in rows], desktop.values, rtol=0, atol=1e-9)

    # the desktop-only pipeline's model (above): same seed and epochs, trained on the bundled table
    assert ours.threshold_value == pytest.approx(theirs.threshold_value, rel=1e-5)
    reference = keras_scores(theirs.out)
    # the agent's debouncer starts fresh at the split: so must the desktop's be (no run of overs there)
    assert not any(r["over_threshold"] == "1" for r in reference[SPLIT - 2:SPLIT])
    for row, ref in zip(rows[SPLIT:], reference[SPLIT:]):
        assert row["error"] == pytest.approx(float(ref["error"]), rel=1e-4, abs=1e-6), ref["timestamp"]
        assert (bool(row["over_threshold"]), bool(row["alarm"])) == (ref["over_threshold"] == "1",
                                                                      ref["alarm"] == "1"), ref["timestamp"]
    onset = next(r for r in rows[SPLIT:] if r["alarm"])
    assert np.datetime64(int(onset["time"]), "s") == theirs.first_alarm
    assert [e["kind"] for e in read_journal(journal, "events", kind="alarm_raised")]


# --- refusals on SIGHUP --------------------------------------------------------------------

def test_sighup_refuses_a_bundle_for_another_sensor_and_swaps_to_a_good_one(tmp_path, agent_bundle):
    """An 8-channel bundle (IMS test 1) against the 4-channel stream is refused; a new variant swaps in."""
    pytest.importorskip("tensorflow", reason="converts bundles with TensorFlow: a Pi has none (.ci/arm-edge.sh)")
    from convert.pipeline import convert_model_dir
    from train.fit import fit_model_dir

    first = agent_bundle  # the agent tests' 4-channel bundle (T = 2), float32
    fit_model_dir(datasets.FEATURES_TEST1, tmp_path / "test1-model", "2003-11-01 00:00:00", epochs=2,
                  make_plots=False)
    eight = convert_model_dir(tmp_path / "test1-model", tmp_path / "bundles" / "test1", variants=("float32",),
                              data=datasets.FEATURES_TEST1).bundle_dir
    # the same model directory reconverted to another variant, no retraining: a different bundle id
    other = convert_model_dir(first.parent / "model", tmp_path / "bundles" / "f16", variants=("float16",),
                              data=datasets.FEATURES_TEST2).bundle_dir
    # the same model with another threshold: the same model file, yet a bundle id of its own
    stricter = shutil.copytree(first.parent / "model", tmp_path / "stricter-model")
    threshold = json.loads((stricter / "threshold.json").read_text())
    (stricter / "threshold.json").write_text(json.dumps({**threshold, "value": threshold["value"] * 0.9}))
    retuned = convert_model_dir(stricter, tmp_path / "bundles" / "stricter", variants=("float32",),
                                data=datasets.FEATURES_TEST2).bundle_dir
    manifests = {p: json.loads((p / "manifest.json").read_text()) for p in (first, eight, other, retuned)}
    assert manifests[retuned]["files"]["model_float32.tflite"] == manifests[first]["files"]["model_float32.tflite"]
    ids = {p: m["bundle_id"] for p, m in manifests.items()}
    assert len(set(ids.values())) == 4

    link, journal, live = tmp_path / "ttyACM-sensor", tmp_path / "journal.sqlite", tmp_path / "bundle"
    deploy(first, live)
    agent = start_agent(tmp_path, link, live, learn=False)
    files = raw_test2_files()
    # The stream (the replay's, in this process) waits at snapshots 4 and 7 while the test swaps: the
    # refusal and the swap happen mid-stream however slow the machine. A stream paced in real time
    # raced them, and dropped frames whenever a loaded machine fell 1 s behind it.
    device = HeldReplay(files, link, hold_before=(4, 7))
    try:
        wait_for(lambda: n_rows(journal) >= 4, 120, "4 snapshots")
        deploy(eight, live)
        agent.send_signal(signal.SIGHUP)
        wait_for(lambda: read_journal(journal, "events", kind="bundle_rejected"), 120, "the refusal")
        after_refusal = n_rows(journal)
        device.release()
        wait_for(lambda: n_rows(journal) >= after_refusal + 3, 120, "scoring to go on")
        deploy(other, live)
        agent.send_signal(signal.SIGHUP)
        wait_for(lambda: len(read_journal(journal, "events", kind="bundle_loaded")) == 2, 120, "the swap")
        device.release()
        wait_for(device.finished.is_set, 300, "the stream to end")
        wait_for(lambda: n_rows(journal) == len(files), 120, "the last snapshot")
    finally:
        agent.stop()
        device.close()

    rejected = read_journal(journal, "events", kind="bundle_rejected")[0]
    assert "4 channels, the bundle expects 8" in rejected["detail"]
    assert rejected["bundle_id"] == ids[first]  # journaled while the old one ran
    rows = read_journal(journal)
    assert [r["first_index"] for r in rows] == [k * N for k in range(len(files))]  # none lost, none twice
    used = [r["bundle_id"] for r in rows]
    switch = used.index(ids[other])
    assert switch >= after_refusal + 3  # the old bundle kept scoring after the refusal
    assert used == [ids[first]] * switch + [ids[other]] * (len(rows) - switch)  # one clean switch
    assert ids[eight] not in used
    # every row was scored by the bundle it names: offline scores of each bundle agree
    exported = tmp_path / "journal.csv"
    assert cli.main(["export", "--journal", str(journal), "-o", str(exported)]) == 0
    for bundle in (first, other):
        out = tmp_path / f"scores-{ids[bundle]}.csv"
        assert cli.main(["score", "--bundle", str(bundle), str(exported), "-o", str(out)]) == 0
        with out.open() as fh:
            offline = [r["error"] for r in csv.DictReader(fh)]
        for row, ref in zip(rows, offline):
            if row["bundle_id"] == ids[bundle] and row["error"] is not None and ref:
                assert row["error"] == pytest.approx(float(ref), abs=1e-6)
    # the new bundle continued the machine's history (T = 2): its first snapshot already has a score
    assert rows[switch]["error"] is not None
