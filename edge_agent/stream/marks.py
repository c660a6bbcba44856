"""The snapshot marks that wait for their samples: ordered, bounded, and the lost ones counted.

A replayed recording sends a :class:`~firmware_io.protocol.frames.SnapshotMark` just before
each recorded snapshot's first samples, so normally one or two marks wait at a time. A device
is untrusted, though (issue 11): a mark far in the future must not block the marks behind
it (so the queue is ordered by index, not by arrival), a flood of marks must not grow memory
(so it holds at most :data:`MAX_PENDING_MARKS`, dropping the farthest), and a mark lost on the
wire must not make its snapshot vanish uncounted (so the spacing of the marks that did arrive
tells how many are missing).
"""
from __future__ import annotations

import bisect

from firmware_io.protocol.frames import SnapshotMark

#: Marks waiting at most; more are a device flooding the host (a replay has one or two).
MAX_PENDING_MARKS = 16
#: A jump between two marks of more than this many mark periods is a restarted stream,
#: not that many lost marks (an index jumping to 2^62 is not 10^17 lost snapshots).
MAX_LOST_PER_JUMP = 1000


class MarkQueue:
    """Pending marks, smallest ``first_index`` first; :meth:`add` and :meth:`clear` say how many were lost."""

    def __init__(self, capacity: int = MAX_PENDING_MARKS) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.period_: int | None = None  # samples between consecutive marks, learned from the stream
        self._last_index: int | None = None  # of the last mark that arrived
        self._marks: list[SnapshotMark] = []
        self._keys: list[int] = []  # the marks' first_index, for bisect

    def __len__(self) -> int:
        return len(self._marks)

    def first(self) -> SnapshotMark | None:
        """The mark with the smallest index, or None."""
        return self._marks[0] if self._marks else None

    def pop(self) -> SnapshotMark:
        del self._keys[0]
        return self._marks.pop(0)

    def add(self, mark: SnapshotMark) -> int:
        """Queue ``mark``; return how many marks are lost: missing before it, or dropped for room."""
        lost = self._missing_before(mark.first_index)
        k = bisect.bisect_right(self._keys, mark.first_index)
        self._keys.insert(k, mark.first_index)
        self._marks.insert(k, mark)
        if len(self._marks) > self.capacity:
            self._keys.pop()  # the farthest ahead waits longest for its samples: it goes
            self._marks.pop()
            lost += 1
        return lost

    def clear(self) -> int:
        """Forget the waiting marks (the stream was reset); return how many: their snapshots are lost."""
        dropped = len(self._marks)
        self._marks.clear()
        self._keys.clear()
        return dropped

    def _missing_before(self, index: int) -> int:
        """Marks that should have arrived between the previous mark and one at ``index``."""
        previous, self._last_index = self._last_index, index
        if previous is None or index <= previous:
            return 0  # the first mark, or the stream went back (device or replay restarted)
        gap = index - previous
        if self.period_ is None or gap < self.period_ * 1.5:
            self.period_ = gap  # consecutive marks: this is the spacing (a shorter one corrects a bad guess)
            return 0
        if gap > self.period_ * MAX_LOST_PER_JUMP:
            return 0
        return round(gap / self.period_) - 1
