"""Fault injection for the virtual accelerometer: what a bad cable and a busy host do.

The replay passes every frame through a :class:`FaultInjector` before it
reaches the port. The injector records each frame's fate (intact, corrupted
or dropped), so a test can check the decoder against the truth: every intact
frame recovered, no corrupted frame accepted, every missing sample counted.
Seeded, so a failing run can be repeated exactly.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum

import numpy as np

from firmware_io.protocol.frames import SYNC


class Fate(str, Enum):
    """What happened to one frame on its way to the port."""

    INTACT = "intact"
    CORRUPTED = "corrupted"  # sent with at least one byte changed
    DROPPED = "dropped"      # never sent (lost in a buffer, or during a disconnect)


@dataclass(frozen=True)
class FaultConfig:
    """Which faults to inject, and how often.

    ``corrupt_rate``: probability per byte that it is changed (XOR with a
    random non-zero byte). ``drop_rate``: probability per frame that it is
    not sent. ``garbage_rate``: probability per frame that a burst of 1 to
    ``garbage_max`` random bytes (with sync words mixed in, to provoke false
    syncs) goes out before it. ``disconnect_every``: after this many frames
    the port disappears for ``down_time`` seconds and comes back (0 = never).
    """

    corrupt_rate: float = 0.0
    drop_rate: float = 0.0
    garbage_rate: float = 0.0
    garbage_max: int = 64
    disconnect_every: int = 0
    down_time: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("corrupt_rate", "drop_rate", "garbage_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
        if self.garbage_max < 1:
            raise ValueError(f"garbage_max must be >= 1, got {self.garbage_max}")
        if self.disconnect_every < 0 or self.down_time < 0:
            raise ValueError("disconnect_every and down_time must be >= 0, got "
                             f"{self.disconnect_every} and {self.down_time}")


@dataclass
class FaultLog:
    """What the injector did: the truth a test compares the decoder's counters with."""

    frames: int = 0
    intact: int = 0
    corrupted: int = 0
    dropped: int = 0
    bytes_corrupted: int = 0
    garbage_bursts: int = 0
    garbage_bytes: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class FaultInjector:
    """Applies a :class:`FaultConfig` to frames one at a time."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self.log = FaultLog()
        self._rng = np.random.default_rng(config.seed)

    def apply(self, frame: bytes) -> tuple[bytes, Fate]:
        """The bytes to send for ``frame`` (garbage first, if any) and the frame's fate."""
        cfg, rng, log = self.config, self._rng, self.log
        log.frames += 1
        prefix = self._garbage() if cfg.garbage_rate and rng.random() < cfg.garbage_rate else b""
        if cfg.drop_rate and rng.random() < cfg.drop_rate:
            log.dropped += 1
            return prefix, Fate.DROPPED
        if cfg.corrupt_rate:
            n = int(rng.binomial(len(frame), cfg.corrupt_rate))
            if n:
                buf = np.frombuffer(frame, dtype=np.uint8).copy()
                where = rng.choice(len(frame), size=n, replace=False)
                buf[where] ^= rng.integers(1, 256, size=n, dtype=np.uint8)
                log.corrupted += 1
                log.bytes_corrupted += n
                return prefix + buf.tobytes(), Fate.CORRUPTED
        log.intact += 1
        return prefix + frame, Fate.INTACT

    def drop(self) -> None:
        """Count a frame lost without passing through :meth:`apply` (e.g. during a disconnect)."""
        self.log.frames += 1
        self.log.dropped += 1

    def _garbage(self) -> bytes:
        rng = self._rng
        n = int(rng.integers(1, self.config.garbage_max + 1))
        buf = bytearray(rng.integers(0, 256, size=n, dtype=np.uint8).tobytes())
        # Sync words in garbage make the decoder try (and reject) false frame starts.
        for pos in rng.integers(0, n, size=max(1, n // 16)):
            buf[pos:pos + 2] = SYNC
        del buf[n:]
        self.log.garbage_bursts += 1
        self.log.garbage_bytes += n
        return bytes(buf)
