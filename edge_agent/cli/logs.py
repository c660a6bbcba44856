"""Log lines of the long-running commands (``run``, ``publish``, ``web``): one place, one form.

They go to standard error, like every diagnostic of the kit, so standard output
stays free for what a command prints as its result; under systemd both streams
reach the journal (``journalctl -u bearing-agent``), which stamps each line
itself, so the kit's own timestamp is left out there (``JOURNAL_STREAM`` set).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def add_log_level(p: argparse.ArgumentParser, shown: str) -> None:
    """The ``--log-level`` option; ``shown`` says what a user sees at the default INFO."""
    p.add_argument("--log-level", default="INFO", choices=LEVELS,
                   help=f"least severe log lines shown on standard error (default INFO: {shown})")


def setup_logging(level: str) -> None:
    """Log lines to standard error; under systemd without our own timestamp."""
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not os.environ.get("JOURNAL_STREAM"):
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr, force=True)
