"""A long-running command (``bearing-agent run``, ``publish``) whose log lines go to a file.

Its log lines are on standard error. A pipe that nobody reads until the end fills
(64 KiB on Linux) and then blocks the process at its next log line: a test would
wait for a journal row that never comes. A file never blocks, and a test can read
what the process said so far.
"""
from __future__ import annotations

import signal
import subprocess
from pathlib import Path


class LoggedProcess:
    """``cmd`` running with stdout and stderr in ``log``; ``stop()`` checks its exit status."""

    def __init__(self, cmd: list[str], log: Path, **popen) -> None:
        self.log = log
        with log.open("w") as fh:
            self.proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, **popen)
        self.pid = self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def poll(self) -> int | None:
        return self.proc.poll()

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 120, expect: int = 0) -> str:
        """Signal it (if it still runs), wait, assert the exit status; returns what it logged."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        out = self.output()
        assert code == expect, f"exit status {code}, expected {expect}; it logged:\n{out[-4000:]}"
        return out

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
