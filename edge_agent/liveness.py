"""Is the agent that wrote a heartbeat alive now? Judged without trusting the wall clock.

A Raspberry Pi has no real-time clock: its clock steps at boot (and whenever
NTP corrects it), so "now minus the heartbeat's time" can be negative or hours
off. After a step back, a dead agent was shown as running for as long as the
step (issue 21 #3). The heartbeat therefore also carries the boot id and the
monotonic clock of the machine that wrote it (:func:`stamp`); a reader on the
same boot measures the age on the monotonic clock and asks the kernel whether
the pid still lives. A heartbeat from another boot (or another machine: a card
read elsewhere) is not a running agent here. A heartbeat without those fields
(an older agent) falls back to the wall clock, and an age the wall clock
cannot explain (negative) is unknown, never "alive".
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

#: A heartbeat older than this means the agent is not running (it writes every 10 s).
STALE_S = 30.0
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def boot_id() -> str | None:
    """This boot's id (Linux), or None where there is none."""
    try:
        return BOOT_ID.read_text().strip() or None
    except OSError:
        return None


def stamp() -> dict[str, Any]:
    """What a heartbeat carries so a reader can judge it without the wall clock."""
    return {"boot_id": boot_id(), "monotonic": time.monotonic()}


def heartbeat_age(heartbeat: dict) -> float | None:
    """Seconds since the heartbeat was written, or None when that cannot be known (another boot, a clock step)."""
    if not heartbeat:
        return None
    written_boot, written_at = heartbeat.get("boot_id"), heartbeat.get("monotonic")
    if written_boot is not None and isinstance(written_at, (int, float)):
        if written_boot != boot_id():
            return None  # written during another boot, or on another machine
        age = time.monotonic() - written_at
    else:
        age = time.time() - float(heartbeat.get("time", 0.0))
    return age if age >= -1.0 else None  # written "in the future": the wall clock stepped back since


def agent_running(heartbeat: dict) -> bool:
    """Whether the heartbeat says an agent runs now: fresh by a clock that can be trusted, not a clean stop,
    and (on the same boot) its process still alive."""
    if not heartbeat or heartbeat.get("stopped"):
        return False
    age = heartbeat_age(heartbeat)
    if age is None or age >= STALE_S:
        return False
    pid = heartbeat.get("pid")
    if heartbeat.get("boot_id") is not None and isinstance(pid, int) and pid > 0:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # alive, another user's
    return True
