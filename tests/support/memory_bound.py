"""The peak-memory bound of a test, and what an emulator adds to it.

Under qemu-user (``.ci/arm-edge.sh`` sets ``BEARING_EDGE_EMULATED=1`` in the emulated Pi) a process's
VmHWM also counts the emulator's own translation buffers: the same ``bearing-agent web`` read 71-77 MiB
there against about 35 MiB natively. There the bound is raised by the peak of an idle interpreter measured
in the same emulator (an upper bound of the emulator's share); natively it is the bound as given.
"""
from __future__ import annotations

import os
import subprocess
import sys
from functools import lru_cache


@lru_cache(maxsize=None)
def emulator_allowance_mib() -> float:
    if os.environ.get("BEARING_EDGE_EMULATED") != "1":
        return 0.0
    out = subprocess.run([sys.executable, "-c", "print(open('/proc/self/status').read())"],
                         capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def bound_mib(native_mib: float) -> float:
    """``native_mib`` natively; plus the emulator's share under qemu-user."""
    return native_mib + emulator_allowance_mib()
