"""The log as an output: one line per snapshot, for ``journalctl -u bearing-agent``."""
from __future__ import annotations

import logging

import numpy as np

from edge_agent.journal import SnapshotRow, format_time
from edge_agent.outputs.sink import Event, Shown

log = logging.getLogger("edge_agent")


class LogSink:
    """Logs each snapshot's decision (or, unscored, its features); events are logged where they arise."""

    def on_snapshot(self, row: SnapshotRow) -> None:
        if row.error is not None:
            log.info("snapshot from sample %d @ %s: error %.6g (threshold %.6g)%s -> %s", row.first_index,
                     format_time(row.time), row.error, row.threshold, " OVER" if row.over_threshold else "",
                     row.state)
        else:  # no bundle: learning mode; a bundle: its first T-1 snapshots
            log.info("snapshot from sample %d @ %s: features %s (%s)", row.first_index, format_time(row.time),
                     np.array2string(np.asarray(row.features), precision=5),
                     "learning" if row.bundle_id is None else "filling the model's history")

    def on_event(self, event: Event) -> None:
        """Nothing: the agent logs an event where it arises, with its own level."""

    def on_state(self, state: Shown) -> None:
        """Nothing: state changes are logged with the events that cause them."""

    def close(self) -> None:
        """Nothing to release."""
