"""The alarm levels' names and order, lowest first: one definition for the judge and the journal's readers.

A module of its own, with no imports, because the readers of the journal (``status``, the page, the
publisher) must not import numpy, which :mod:`edge_agent.scoring.levels` needs.
"""
from __future__ import annotations

NORMAL, ALERT, DANGER = "normal", "alert", "danger"
#: lowest first: a level's index is its rank (0 normal, 1 alert, 2 danger)
LEVELS = (NORMAL, ALERT, DANGER)


def rank(level: str) -> int:
    """0 for normal, 1 for alert, 2 for danger (ValueError for anything else)."""
    return LEVELS.index(level)
