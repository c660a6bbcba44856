"""Acknowledgements, from wherever a person gives one: the button, or ``bearing-agent ack``.

The button's callback runs in gpiozero's thread and ``bearing-agent ack`` is
another process (it queues a request in the journal), so both only queue;
the agent's loop takes them (:meth:`Acknowledgements.take`) and applies them
to the latch in its own thread.
"""
from __future__ import annotations

from collections import deque


class Acknowledgements:
    """A thread-safe queue of acknowledgement sources, plus the journal's pending ``ack`` requests."""

    def __init__(self) -> None:
        self._pending: deque[str] = deque()  # deque.append/popleft are atomic: no lock needed

    def add(self, source: str) -> None:
        self._pending.append(source)

    def take(self, requests: list[tuple[int, str, str]]) -> list[str]:
        """Every acknowledgement since the last call, in order: this process's first, then the ``ack``
        requests among the journal's (``Journal.take_requests``: the loop takes them once for every part)."""
        sources = []
        while self._pending:
            sources.append(self._pending.popleft())
        sources += [source for _id, kind, source in requests if kind == "ack"]
        # One acknowledgement does what many do (the latch is acknowledged or it is not), and each
        # costs a journal write: a flood becomes one, naming how many came (issue 21 #5).
        if len(sources) > 1:
            return [f"{sources[0]} (and {len(sources) - 1} more at once)"]
        return sources
