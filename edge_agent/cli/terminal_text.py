"""Text from the device or the journal made safe to print on a terminal.

A sensor chooses its own ``device_id`` and ``firmware_version``, and anything
can be written into a journal: printed raw, an escape sequence in them sets
the terminal's title, erases lines or recolours what follows (issue 21 #22).
Every control character (C0, DEL, C1) and every invisible format character
(bidirectional overrides, zero-width joiners) is shown as a visible escape
instead: ``\\x1b``, ``\\u202e``.
"""
from __future__ import annotations

import unicodedata


def printable(text: object) -> str:
    """``str(text)`` with control and format characters escaped (``\\x1b``, ``\\n``, ``\\u202e``)."""
    s = str(text)
    if s.isprintable():  # the common case, in C: nothing to escape
        return s
    return "".join(_escape(c) for c in s)


def _escape(c: str) -> str:
    if c == " " or unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp"):
        return c
    return c.encode("unicode_escape").decode("ascii")
