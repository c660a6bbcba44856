"""The kit's one error base class.

Every error the kit raises on purpose (a bad frame payload, an unreadable
recording, a bad config, bundle, journal, feature table, model directory...)
derives from :class:`BearingEdgeError`, so a command-line tool catches exactly
these, prints their message and exits (see :mod:`firmware_io.cli_support`),
and anything else is a bug that shows its traceback. It lives in
``firmware_io``, the package every other one may import.

Each subclass keeps the built-in base it had before (``ValueError`` for bad
input, ``RuntimeError`` for a failed operation), so code that catches those
keeps working.
"""
from __future__ import annotations


class BearingEdgeError(Exception):
    """A problem the user can fix; the message says what, where and what to do."""

    #: The exit code of a command that stops on this error: 2, as argparse uses for a bad command line.
    exit_code: int = 2
