"""Is the sensor delivering usable data? The reason of a sensor fault, and the frames lost.

"No alarm" from a sensor that sends nothing means nothing, so the agent
shows a sensor fault (see :mod:`edge_agent.alarms.alarm_state`) when, in
this order of precedence:

1. the serial device is not there (unplugged, not yet enumerated);
2. the stream cannot be used (it does not match the bundle, see
   :class:`~edge_agent.stream.sensor_board.SensorBoard`);
3. no valid sample arrived for ``[faults] no_data_timeout_s``;
4. samples arrive but no whole snapshot is taken: more than
   :attr:`~edge_agent.stream.snapshots.SnapshotAssembler.stall_samples` of them
   passed (a mark far ahead of the stream, indices that jump in every frame):
   scoring would stop silently while the status said "normal";
5. more than ``max_bad_frame_rate`` of the frames of the last
   ``bad_frame_window_s`` seconds were bad or missing;
6. :data:`~edge_agent.stream.snapshots.MAX_DISCARDED_IN_ROW` snapshots in a row were
   discarded (gaps, or a stream description that changes more often than a snapshot takes;
   after 5, since lost frames are the clearer cause of discarded snapshots).

Reasons 4 and 6 also set :attr:`Health.stalled`: samples arrive but nothing is
scored, so the agent's watchdog stops its pings and systemd restarts it.

:meth:`Health.observe` is the one step that changes state (it takes a sample
of the board and moves the bad-frame window); :attr:`Health.reason` only reads
the verdict, so asking twice never changes the answer.
"""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from edge_agent.config import FaultsSection
from edge_agent.stream.snapshots import MAX_DISCARDED_IN_ROW

if TYPE_CHECKING:
    from edge_agent.stream.sensor_board import SensorBoard


class Health:
    """The fault verdict over the sensor boards (the first board's reason wins), updated by :meth:`observe`."""

    def __init__(self, faults: FaultsSection, boards: list["SensorBoard"]) -> None:
        self.faults = faults
        self.boards = boards
        #: per board: (time, frames ok, frames bad) samples over the last bad_frame_window_s
        self._windows: list[deque[tuple[float, int, int]]] = [deque() for _ in boards]
        self._reason: str | None = None
        #: Set by the loop from each score (:attr:`edge_agent.scoring.scorer.Score.fault`): a model that cannot decide.
        self.scoring_fault: str | None = None
        #: scoring has stalled while samples arrive (the stall check sets it); the agent's watchdog
        #: (edge_agent.watchdog) stops pinging systemd while it is true, so systemd restarts the agent
        self.stalled = False

    @property
    def reason(self) -> str | None:
        """Why the sensor is faulty as of the last :meth:`observe`, or None."""
        return self._reason

    def observe(self, now: float) -> None:
        """Take the boards' state at ``now`` (monotonic seconds) and decide the fault reason."""
        reasons = [self._judge(now, board, window) for board, window in zip(self.boards, self._windows)]
        self._reason = next((r for r in reasons if r), None) or self.scoring_fault
        self.stalled = any(self._stalled(board) for board in self.boards)

    @staticmethod
    def _stalled(board: "SensorBoard") -> bool:
        """Samples arrive on a working link, yet no snapshot is taken (reasons 4 and 5)."""
        a = board.assembler
        return board.connected and not board.problem and (a.idle_samples > a.stall_samples
                                                          or a.discarded_in_row >= MAX_DISCARDED_IN_ROW)

    def _judge(self, now: float, board: "SensorBoard", window: deque[tuple[float, int, int]]) -> str | None:
        f = self.faults
        if not board.connected:
            return f"serial device {board.port} not available"
        if board.problem:
            return board.problem
        silent = now - board.last_valid
        if silent > f.no_data_timeout_s:
            return f"no valid data for {silent:.0f} s (limit {f.no_data_timeout_s:g} s)"
        idle, limit = board.assembler.idle_samples, board.assembler.stall_samples
        if idle > limit:
            return (f"samples arrive but no whole snapshot was taken for {idle} samples (limit {limit}): "
                    "the sample indices jump, or the snapshot marks do not match them")
        # The frame rate is sampled only while the stream is otherwise healthy: an unplugged
        # or silent board already has its own, clearer reason. It comes before the discarded snapshots
        # below, which lost frames cause: the cause is the clearer reason.
        stats = board.decoder.stats
        bad = stats.bad_checks + stats.frames_missing
        window.append((now, stats.frames_ok, bad))
        while window and now - window[0][0] > f.bad_frame_window_s:
            window.popleft()
        _, ok0, bad0 = window[0]
        d_ok, d_bad = stats.frames_ok - ok0, bad - bad0
        if d_bad > 0 and d_bad / max(1, d_ok + d_bad) > f.max_bad_frame_rate:
            return (f"{d_bad} of {d_ok + d_bad} frames bad or lost in the last {f.bad_frame_window_s:g} s "
                    f"(limit {f.max_bad_frame_rate:.0%})")
        if board.assembler.discarded_in_row >= MAX_DISCARDED_IN_ROW:
            return (f"{board.assembler.discarded_in_row} snapshots in a row discarded, none scored "
                    f"(the last: {board.assembler.last_discard_reason})")
        return None


class LossReport:
    """Frames lost since the last report, summed, so a noisy cable makes one event per period, not hundreds."""

    def __init__(self, boards: list["SensorBoard"]) -> None:
        self.boards = boards
        self._reported = (0, 0)  # (frames bad or missing, samples missing) already reported

    def take(self) -> str | None:
        """What the boards lost since the previous call (and mark it reported), or None if nothing."""
        lost = (sum(b.decoder.stats.frames_missing + b.decoder.stats.bad_checks for b in self.boards),
                sum(b.decoder.stats.missing_samples for b in self.boards))
        previous, self._reported = self._reported, lost
        if lost[0] > previous[0] or lost[1] > previous[1]:
            return (f"{max(0, lost[0] - previous[0])} frames bad or missing, "
                    f"{max(0, lost[1] - previous[1])} samples missing")
        return None
