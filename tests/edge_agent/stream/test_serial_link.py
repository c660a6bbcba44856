"""The serial link on a real pseudo-terminal: an exclusive lock, a pulled cable reported once."""
from __future__ import annotations

import threading


def test_serial_link_locks_the_device_and_reports_changes():
    from firmware_io.simulator.ports import PtyPort
    from edge_agent.stream.serial_link import SerialLink

    changes = []
    with PtyPort() as pty:
        first = SerialLink(pty.path, on_change=lambda up, why: changes.append(up))
        second = SerialLink(pty.path, reconnect_initial_s=0.05)
        assert first.read() == b"" and first.connected
        assert second.read() == b"" and not second.connected  # a second reader would steal bytes
        pty.write(b"abc", threading.Event())
        assert first.read() == b"abc"
        pty.disconnect()  # the cable is pulled
        assert first.read() == b"" and not first.connected and first.disconnects == 1
        first.close()
        second.close()
    assert changes == [True, False]


def _read_all(link, n_bytes: int, max_calls: int) -> tuple[bytes, int]:
    data, calls = b"", 0
    while len(data) < n_bytes and calls < max_calls:
        data += link.read()
        calls += 1
    return data, calls


def test_a_socket_url_is_read_in_large_chunks_not_one_or_two_bytes_per_call():
    """Issue 11 #20: pyserial's socket in_waiting is 0 or 1; 40 kB must not take thousands of reads."""
    import socket

    from edge_agent.stream.serial_link import SerialLink

    payload = bytes(range(256)) * 160  # 40,960 bytes: a quarter second of a 4 ch x 20 kHz stream
    with socket.create_server(("127.0.0.1", 0)) as server:
        link = SerialLink(f"socket://127.0.0.1:{server.getsockname()[1]}", read_timeout_s=1.0)
        assert link.read() == b"" and link.connected
        peer, _ = server.accept()
        with peer:
            peer.sendall(payload)
            data, calls = _read_all(link, len(payload), max_calls=1000)
            assert data == payload
            assert calls <= 10, f"{calls} reads for {len(payload)} bytes"
        # the sensor closing the connection is a lost device, reported as such
        assert link.read() == b"" and not link.connected and link.disconnects == 1
        link.close()


def test_a_pty_burst_is_read_in_one_chunk():
    from firmware_io.simulator.ports import PtyPort
    from edge_agent.stream.serial_link import SerialLink

    with PtyPort() as pty:
        link = SerialLink(pty.path, read_timeout_s=1.0)
        assert link.read() == b""
        payload = bytes(range(256)) * 12  # 3 kB: more than one frame
        pty.write(payload, threading.Event())
        data, calls = _read_all(link, len(payload), max_calls=1000)
        assert data == payload and calls <= 2
        link.close()


def test_a_hold_gathers_the_frames_that_arrive_meanwhile_in_one_read():
    """Issue 11 #20: with a hold the link sleeps first and empties the buffer (a tty gives 4095 bytes a call)."""
    import time

    from firmware_io.simulator.ports import PtyPort
    from edge_agent.stream.serial_link import HOLD_MAX_S, SerialLink

    with PtyPort() as pty:
        link = SerialLink(pty.path, read_timeout_s=1.0, hold=lambda: 10.0)  # clipped to HOLD_MAX_S
        assert link.read() == b""
        payload = bytes(range(256)) * 40  # 10 kB: more than one tty read returns
        before = time.perf_counter()
        pty.write(payload, threading.Event())
        data, calls = _read_all(link, len(payload), max_calls=1000)
        assert data == payload and calls == 1
        assert time.perf_counter() - before >= HOLD_MAX_S
        # the latency starts when the buffer was last seen empty (the bytes waited since then at the most)
        assert link.chunk_time <= before
        link.close()
