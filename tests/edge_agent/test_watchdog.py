"""The systemd notify protocol: READY, WATCHDOG pings from the loop, STOPPING; a stall stops the pings.

A real unix datagram socket stands in for systemd, as ``$NOTIFY_SOCKET`` would name it.
"""
from __future__ import annotations

import os
import socket
import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory

from edge_agent.config import parse_config
from edge_agent.watchdog import Watchdog


class FakeSystemd:
    """The listening end of ``$NOTIFY_SOCKET``: collects every datagram the agent sends."""

    def __init__(self, path) -> None:
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.messages: list[str] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._closed.is_set():
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                continue
            except OSError:
                return

    def wait_for(self, predicate, what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(list(self.messages)):
            assert time.monotonic() < deadline, f"timed out waiting for {what}; got {self.messages}"
            time.sleep(0.02)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def systemd(tmp_path):
    fake = FakeSystemd(tmp_path / "notify")
    yield fake
    fake.close()


def test_outside_systemd_nothing_is_sent():
    dog = Watchdog({})
    assert not dog.enabled
    dog.ping()
    dog.stopping()


def test_ready_first_then_pings_at_half_the_timeout(systemd):
    dog = Watchdog({"NOTIFY_SOCKET": systemd.path, "WATCHDOG_USEC": "2000000"})
    assert dog.interval_s_ == 1.0
    for now in (0.0, 0.5, 1.0, 1.2, 2.1):
        dog.ping(now=now)
    dog.stopping()
    systemd.wait_for(lambda m: "STOPPING=1" in m, "STOPPING=1")
    assert systemd.messages == ["READY=1\nSTATUS=scoring", "WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1", "STOPPING=1"]


def test_a_stall_withholds_the_pings_and_says_why(systemd):
    dog = Watchdog({"NOTIFY_SOCKET": systemd.path, "WATCHDOG_USEC": "2000000"})
    dog.ping(now=0.0)
    for now in (1.0, 2.0, 3.0, 4.0):
        dog.ping(now=now, stalled=True)
    dog.ping(now=5.0)
    systemd.wait_for(lambda m: len(m) >= 5, "five messages")
    assert systemd.messages == ["READY=1\nSTATUS=scoring", "WATCHDOG=1",
                                "STATUS=scoring stalled while samples arrive: watchdog pings stopped",
                                "STATUS=scoring", "WATCHDOG=1"]


def test_the_watchdog_of_another_process_is_not_pinged_and_a_dead_socket_is_no_crash(tmp_path, caplog):
    other = Watchdog({"NOTIFY_SOCKET": str(tmp_path / "x"), "WATCHDOG_USEC": "1000000",
                      "WATCHDOG_PID": str(os.getpid() + 1)})
    assert other.interval_s_ is None
    gone = Watchdog({"NOTIFY_SOCKET": str(tmp_path / "no-such-socket"), "WATCHDOG_USEC": "1000000"})
    gone.ping(now=0.0)
    gone.ping(now=5.0)
    assert not gone.ready_ and caplog.text.count("cannot notify systemd") == 1


def test_abstract_socket_names_are_supported():
    assert Watchdog({"NOTIFY_SOCKET": "@/org/freedesktop/systemd1/notify"}).address_.startswith("\0/org")


class RecalibratingSensor:
    """A sensor whose StreamInfo changes (its scale) every ``every`` samples, fewer than a snapshot takes:
    every snapshot is discarded, none is ever scored (issue 21 #1). Writes into a pty until closed."""

    def __init__(self, link, every: int = 700) -> None:
        from firmware_io.simulator.ports import PtyPort

        self.port, self.stop, self.every = PtyPort(link), threading.Event(), every
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import numpy as np

        from firmware_io.protocol.encoder import encode_frame
        from firmware_io.protocol.frames import Samples, StreamInfo

        if not self.port.wait_for_reader(self.stop):
            return
        block = np.full((100, 2), 50, dtype=np.int16)
        seq = index = k = 0
        while not self.stop.is_set():
            self.port.write(encode_frame(StreamInfo("pump-7", "fw", 20000, 2, scale=(0.001, 0.00101)[k % 2])),
                            self.stop)
            for _ in range(self.every // 100):
                self.port.write(encode_frame(Samples(seq, index, block)), self.stop)
                seq, index = seq + 1, index + 100
            k += 1
            time.sleep(0.02)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.port.close()


def test_the_agent_loop_notifies_ready_pings_and_stopping_and_a_stall_stops_the_pings(tmp_path, systemd,
                                                                                        monkeypatch):
    """Issue 21 #1, #2: a sensor whose StreamInfo changes more often than a snapshot takes is never scored;
    that is a sensor fault, and the stall withholds the watchdog's pings (no patching: a real stream)."""
    from edge_agent.journal import Journal
    from edge_agent.service import Agent

    monkeypatch.setenv("NOTIFY_SOCKET", systemd.path)
    monkeypatch.setenv("WATCHDOG_USEC", "600000")  # a ping due every 0.3 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    link = tmp_path / "ttyRECAL"
    sensor = RecalibratingSensor(link)
    config = parse_config({"agent": {"learn": True, "interval_s": 0}, "serial": {"port": str(link)},
                           "gpio": {"pin_factory": "mock"}, "journal": {"path": str(tmp_path / "j.sqlite")},
                           "learning": {"samples_per_snapshot": 1024}}, "<test>")
    agent = Agent(config, pin_factory=MockFactory())
    thread = agent.start()
    try:
        systemd.wait_for(lambda m: m[:1] == ["READY=1\nSTATUS=scoring"] and m.count("WATCHDOG=1") >= 1,
                         "READY=1 then a ping")
        systemd.wait_for(lambda m: any("stalled" in x for x in m), "the stall reported")
        pings = systemd.messages.count("WATCHDOG=1")
        time.sleep(1.5)  # five ping periods: none may come while stalled
        assert systemd.messages.count("WATCHDOG=1") == pings
        j = Journal(tmp_path / "j.sqlite", create=False)
        try:
            faults = [e["detail"] for e in j.events(last=50, kind="sensor_fault_begin")]
            assert any("snapshots in a row discarded" in f and "stream description changed" in f for f in faults), \
                faults
            assert j.snapshots() == []  # nothing was ever recorded, and the agent says so
        finally:
            j.close()
    finally:
        agent.stop()
        thread.join(30)
        sensor.close()
    assert not thread.is_alive()
    systemd.wait_for(lambda m: m[-1:] == ["STOPPING=1"], "STOPPING=1 at the end")
