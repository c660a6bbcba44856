"""The agent's durable journal: one SQLite file in WAL mode.

Everything the agent decided is written here, so that a maintenance engineer
can later ask "what did it see, with which model, and why did it alarm?":

* ``snapshots``: every scored (or, in learning mode, recorded) snapshot:
  time, first sample index, the stream it came from, features, error,
  threshold, over-threshold, debounced alarm, displayed state, the bundle that
  scored it, and the latency from its last byte to the outputs; since schema
  version 2 also the model's inference time, the error per feature, the channel
  with most of it and, over the threshold, the diagnosis in words
  ("bearing 1, outer race");
* ``events``: start, stop, bundle loaded / rejected, alarm raised /
  acknowledged / cleared, sensor fault begin / end, frames lost, restart,
  journal fault begin / end;
* ``counters``: cumulative counts across restarts (frames, bytes, losses);
* ``state``: the scorer's history and the alarm latch, written in the same
  transaction as the snapshot they belong to, so a restart (even after
  ``kill -9`` or a power cut) resumes exactly where the journal ends;
* ``requests``: commands from other processes (``bearing-agent ack``);
* ``outbox_cursor``: how far ``bearing-agent publish`` got on each stream
  (``snapshot``, ``event``): the id of the last row the broker acknowledged.

One module per job: :mod:`~edge_agent.journal.schema` (tables, version check),
:mod:`~edge_agent.journal.database` (the :class:`Journal` connection),
:mod:`~edge_agent.journal.writer`, :mod:`~edge_agent.journal.reader`,
:mod:`~edge_agent.journal.outbox`, and the agent's own connection,
:mod:`~edge_agent.journal.agent_journal` (one agent per journal, writes that
wait in memory while the file cannot take them).
"""
from edge_agent.journal.database import Journal
from edge_agent.journal.reader import format_time
from edge_agent.journal.schema import SCHEMA_VERSION, JournalError
from edge_agent.journal.writer import SnapshotRow
from edge_agent.journal.agent_journal import AgentJournal  # after Journal: it builds on it

__all__ = ["AgentJournal", "Journal", "JournalError", "SCHEMA_VERSION", "SnapshotRow", "format_time"]
