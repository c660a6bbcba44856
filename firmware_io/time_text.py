"""The one way a user writes a time on a command line: ``2004-02-15``, ``2004-02-15 12:52``, ``2004-02-15 12:52:39``.

Every option that takes a time (``bearing-train fit --train-until`` and ``--exclude``,
``bearing-agent export --since`` / ``--until``, ``bearing-train ingest --start``) reads it here,
so a time one command accepts, every command accepts. Times are UTC, as the journal and the
feature tables are: a date alone is 00:00:00 of that day; ``T`` may replace the space; seconds may
have a fraction; an explicit offset (``+01:00``, ``Z``) is converted to UTC.

It lives in ``firmware_io``, the package every other one may import.
"""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from firmware_io.errors import BearingEdgeError

#: What the error message offers; the parser (``datetime.fromisoformat``) accepts every ISO 8601 form of these.
FORMS = "YYYY-MM-DD or 'YYYY-MM-DD HH:MM[:SS]' (UTC)"


class TimeTextError(BearingEdgeError, ValueError):
    """A time option that is not a time."""


def parse_time(text: str, option: str = "") -> np.datetime64:
    """``text`` as a UTC time (microseconds); ``option`` names the option in the error (argparse names it itself)."""
    try:
        when = datetime.fromisoformat(str(text).strip())
    except ValueError:
        where = f"{option} " if option else ""
        raise TimeTextError(f"{where}{text!r} is not a time: use {FORMS}") from None
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return np.datetime64(when, "us")


def unix_seconds(when: np.datetime64) -> float:
    """A UTC ``datetime64`` as seconds since the epoch (the journal's clock)."""
    return float((when.astype("datetime64[us]") - np.datetime64(0, "us")) / np.timedelta64(1, "s"))
