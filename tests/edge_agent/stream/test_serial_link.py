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
