"""End to end: ``bearing-replay`` as a real subprocess, read back with pyserial.

The replay streams the real IMS raw files into a pseudo-terminal (or a TCP
socket URL); the test reads it the way the edge agent does and checks that
every sample arrives exactly.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import serial

from firmware_io.protocol import frames as fr
from firmware_io.recordings import reader as rec
from firmware_io.protocol.decoder import StreamDecoder
from firmware_io.recordings import ims as datasets

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals need a POSIX system")


def start_replay(*args: str) -> subprocess.Popen:
    """``bearing-replay`` as installed (the console script), else the module it runs."""
    script = Path(sys.executable).with_name("bearing-replay")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "firmware_io.simulator.replay_cli"]
    cmd += args
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_until_replay_exits(port_path: str, proc: subprocess.Popen, dec: StreamDecoder,
                            timeout: float = 60) -> list[fr.Frame]:
    """Read like the agent: small reads of what is waiting, until the device goes away."""
    out: list[fr.Frame] = []
    deadline = time.monotonic() + timeout
    with serial.Serial(port_path, timeout=0.2) as port:
        while time.monotonic() < deadline:
            try:
                data = port.read(max(1, port.in_waiting))
            except OSError:  # SerialException or EIO: the replay closed the pty (unplugged)
                break
            if not data and proc.poll() is not None:
                break
            out += dec.feed(data)
    return out + dec.flush()


def recorded_stream(files: list[Path]) -> np.ndarray:
    return np.concatenate([rec.to_counts(rec.read_snapshot_file(f)) for f in files])


def test_replay_streams_every_bundled_sample_exactly_through_a_pty() -> None:
    files = sorted(datasets.RAW_TEST2_DIR.iterdir())
    proc = start_replay(str(datasets.RAW_TEST2_DIR), "--pty", "--speed", "0")
    try:
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/"), proc.stderr.read()
        dec = StreamDecoder()
        frames = read_until_replay_exits(path, proc, dec)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    samples = [f for f in frames if isinstance(f, fr.Samples)]
    stream = np.concatenate([f.samples for f in samples])
    np.testing.assert_array_equal(stream, recorded_stream(files))
    assert [f.seq for f in samples] == list(range(len(files) * 80))
    marks = [f for f in frames if isinstance(f, fr.SnapshotMark)]
    assert [m.first_index for m in marks] == [k * 20480 for k in range(len(files))]
    stamps = [rec.parse_snapshot_name(f.name) for f in files]
    assert [m.timestamp for m in marks] == [(t - np.datetime64(0, "s")) / np.timedelta64(1, "s") for t in stamps]
    assert dec.stats.bytes_skipped == dec.stats.bad_checks == dec.stats.missing_samples == 0


def test_unplug_and_replug_moves_the_link_to_a_new_pty(tmp_path: Path) -> None:
    files = sorted(datasets.RAW_TEST2_DIR.iterdir())[:3]
    link = tmp_path / "accel"
    proc = start_replay(*map(str, files), "--pty", "--link", str(link), "--speed", "0",
                        "--disconnect-every", "100", "--down-time", "0.3")
    dec = StreamDecoder()
    paths, connections = [], []
    try:
        paths.append(proc.stdout.readline().strip())
        while True:
            assert os.path.realpath(link) == paths[-1]
            frames = read_until_replay_exits(str(link), proc, dec, timeout=120)
            connections.append(frames)
            dec.reset()  # a new connection: continuity starts again
            line = proc.stdout.readline().strip()  # the replay announces the next pty
            if not line:
                break
            paths.append(line)
            deadline = time.monotonic() + 60
            while os.path.realpath(link) != line and time.monotonic() < deadline:
                time.sleep(0.01)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    assert len(paths) >= 2  # one announcement per (re)connect; the kernel may reuse the pty number
    assert not link.exists()  # removed when the replay ends
    recorded = recorded_stream(files)
    received = 0
    for frames in connections:
        assert isinstance(frames[0], fr.StreamInfo)  # every connection starts with StreamInfo
        for f in (f for f in frames if isinstance(f, fr.Samples)):
            np.testing.assert_array_equal(f.samples, recorded[f.first_index:f.end_index])
            received += f.n_samples
    # Only what was in flight when the cable was pulled may be lost.
    assert received >= len(recorded) - (len(paths) - 1) * 16 * 256


def test_replay_to_a_socket_url() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    got = bytearray()

    def accept() -> None:
        conn, _ = server.accept()
        with conn:
            while chunk := conn.recv(65536):
                got.extend(chunk)

    t = threading.Thread(target=accept)
    t.start()
    one = sorted(datasets.RAW_TEST2_DIR.iterdir())[0]
    proc = start_replay(str(one), "--port", f"socket://127.0.0.1:{port}", "--speed", "0")
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    t.join(timeout=10)
    server.close()
    frames = StreamDecoder().feed(bytes(got))
    stream = np.concatenate([f.samples for f in frames if isinstance(f, fr.Samples)])
    np.testing.assert_array_equal(stream, recorded_stream([one]))


def test_real_time_replay_waits_for_a_late_reader_and_drops_nothing() -> None:
    """The device clock starts when the reader attaches: a late reader is not an overrun."""
    one = sorted(datasets.RAW_TEST2_DIR.iterdir())[0]
    proc = start_replay(str(one), "--pty", "--speed", "2", "--stats")
    try:
        path = proc.stdout.readline().strip()
        time.sleep(1.5)  # longer than the 1 s of lag after which the device drops frames
        t0 = time.monotonic()
        dec = StreamDecoder()
        frames = read_until_replay_exits(path, proc, dec)
        took = time.monotonic() - t0
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    stats = json.loads(proc.stderr.read().strip().splitlines()[-1])
    assert stats["tx_overruns"] == 0
    stream = np.concatenate([f.samples for f in frames if isinstance(f, fr.Samples)])
    np.testing.assert_array_equal(stream, recorded_stream([one]))
    assert took >= 20480 / 20000 / 2 * 0.9  # paced: not faster than 2x real time
