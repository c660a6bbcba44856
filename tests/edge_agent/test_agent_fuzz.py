"""The whole agent against a hostile device: CRC-valid frames whose fields make no sense (issue 11).

A CRC only proves that the bytes arrived. These tests run a real :class:`~edge_agent.service.Agent`
(learning mode, so no model is needed: every snapshot's features are journaled; mock GPIO pins; a
real journal in ``tmp_path``) through its real loop, ``Agent.run()``, in the test's own thread. Only
the serial port is replaced: :class:`ScriptedLink` hands the board's decoder the scripted bytes as
``SerialLink.read()`` would, then stops the agent, so every run is the same on a loaded machine.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from edge_agent.config import parse_config
from edge_agent.service import Agent
from firmware_io.protocol.encoder import encode_frame
from firmware_io.protocol.frames import DeviceStatus, Samples, SnapshotMark, StreamInfo

LENGTH = 64  # samples per snapshot: small, so that a short script completes several
INDEX_LIMIT = (1 << 63) - 1  # what the journal's INTEGER holds


class ScriptedLink:
    """Stands in for :class:`~edge_agent.stream.serial_link.SerialLink`: one chunk per ``read()``, then stop."""

    def __init__(self, chunks: list[bytes], agent: Agent) -> None:
        self.chunks = list(reversed(chunks))
        self.agent = agent
        self.connected, self.connects, self.disconnects, self.chunk_time = True, 1, 0, 0.0

    def read(self) -> bytes:
        if self.chunks:
            self.chunk_time = time.perf_counter()
            return self.chunks.pop()
        self.agent.stop()
        return b""

    def close(self) -> None:
        self.connected = False


def make_agent(tmp: Path, length: int = LENGTH, **faults) -> tuple[Agent, list]:
    config = parse_config({
        "agent": {"bundle": "", "interval_s": 0.0, "learn": True},
        "learning": {"samples_per_snapshot": length},
        "serial": {"port": str(tmp / "no-such-tty"), "read_timeout_s": 0.01},
        "faults": {"no_data_timeout_s": 3600.0, **faults},
        "gpio": {"pin_factory": "mock"},
        "journal": {"path": str(tmp / "journal.sqlite")},
    }, "<fuzz>")
    rows: list = []
    agent = Agent(config, on_snapshot=lambda row, _agent: rows.append(row))
    return agent, rows


def run_agent(agent: Agent, chunks: list[bytes]) -> None:
    agent.boards[0].link = ScriptedLink(chunks, agent)
    agent.run()


def block(seq: int, first: int, n: int = 32, channels: int = 4, seed: int = 0) -> Samples:
    rng = np.random.default_rng(seed)
    return Samples(seq, first, rng.integers(-2000, 2000, size=(n, channels)).astype(np.int16))


INFO = StreamInfo("fuzz-board", "fw", 20000, 4, scale=0.001)


def read_counters(tmp: Path) -> dict[str, int]:
    from edge_agent.journal import Journal

    journal = Journal(tmp / "journal.sqlite")
    try:
        return journal.counters()
    finally:
        journal.close()


def test_indices_at_and_past_2_63_do_not_crash_the_agent(tmp_path):
    """Issue 11 #4: first_index >= 2^63 overflowed SQLite's INTEGER; 2^64-300 overflowed the counters."""
    agent, rows = make_agent(tmp_path)
    frames = [INFO, block(0, 0), block(1, 32), block(2, 1 << 63), block(3, (1 << 63) + 32),
              SnapshotMark((1 << 64) - 300, 1.7e9), block(4, (1 << 64) - 300), block(5, (1 << 64) - 268),
              block(6, (1 << 63) - 64), block(7, (1 << 63) - 32),  # its last sample is 2^63 - 1: usable
              DeviceStatus(uptime_ms=(1 << 64) - 1, adc_overruns=(1 << 32) - 1)]
    run_agent(agent, [encode_frame(f) for f in frames])
    assert [r.first_index for r in rows] == [0, (1 << 63) - 64]
    counters = read_counters(tmp_path)
    # counters saturate at what the journal holds rather than overflow it
    assert counters["missing_samples"] == INDEX_LIMIT and counters["device_uptime_ms"] == INDEX_LIMIT
    assert counters["samples_rejected_index"] == 4 * 32 and counters["snapshots_recorded"] == 2
