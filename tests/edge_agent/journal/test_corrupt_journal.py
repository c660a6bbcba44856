"""Issue 11 #7, "not tested: corrupted pages": a journal whose pages are overwritten after the agent wrote rows.

SQLite then says "database disk image is malformed". At start the agent refuses the file with a
message naming it and saying what to do (move it aside: the agent deletes no data), exit code 2 (a
file that will not mend itself: not retried, docs/cli.md); under a running agent it is a journal
write failure like any other (the rows wait in memory, nothing raises, scoring goes on);
``bearing-agent status`` on it prints one line, no traceback.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from edge_agent.config import parse_config
from edge_agent.journal import JournalError
from edge_agent.journal.agent_journal import AgentJournal
from edge_agent.journal.writer import SnapshotRow

PAGE = 4096


def row(k: int) -> SnapshotRow:
    return SnapshotRow(time=1.7e9 + 600 * k, first_index=k * 1024, stream_id=None, features=[0.1, 0.2 + k % 7],
                       error=0.5, threshold=0.3, over_threshold=True, alarm=False, state="normal", bundle_id="b1",
                       latency_ms=1.0)


def written_journal(path: Path, rows: int) -> Path:
    j = AgentJournal.open(path)
    for k in range(rows):
        j.record_snapshot(row(k), state={"alarm": {"latched": False}}, counters={"frames_ok": k})
    j.close()
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0  # all in the file
    return path


def corrupt(path: Path, first_page: int = 2, pages: int | None = None) -> None:
    """Overwrite pages (1-based; page 1 holds the header and the schema) with a fixed garbage pattern."""
    n_pages = path.stat().st_size // PAGE
    pages = n_pages - first_page + 1 if pages is None else pages
    with open(path, "r+b") as fh:
        fh.seek((first_page - 1) * PAGE)
        fh.write(bytes((7 * i + 13) % 251 for i in range(PAGE)) * pages)


def learning_config(tmp_path: Path, journal: Path):
    return parse_config({"agent": {"learn": True, "interval_s": 600.0},
                         "serial": {"port": str(tmp_path / "no-such-device")}, "gpio": {"pin_factory": "mock"},
                         "journal": {"path": str(journal)}, "learning": {"samples_per_snapshot": 1024}}, "<test>")


def _command(name: str, module: str) -> list[str]:
    script = Path(sys.executable).with_name(name)
    return [str(script)] if script.exists() else [sys.executable, "-m", module]


@pytest.mark.parametrize("where", ["middle", "all but the header"])
def test_the_agent_refuses_a_corrupted_journal_at_start_naming_it_and_what_to_do(tmp_path, where):
    from edge_agent.service import Agent

    path = written_journal(tmp_path / "j.sqlite", 2000)
    n_pages = path.stat().st_size // PAGE
    corrupt(path, n_pages // 2, 4) if where == "middle" else corrupt(path)
    before = path.read_bytes()
    with pytest.raises(JournalError) as refused:
        Agent(learning_config(tmp_path, path), pin_factory=MockFactory())
    message = str(refused.value)
    assert message.startswith(f"{path}: the journal is corrupted (") and "move it aside" in message, message
    assert "\n" not in message
    assert refused.value.exit_code == 2  # not 75: it will not mend itself, a restart loop would not help
    assert path.read_bytes() == before  # the agent changed nothing: the data stays for recovery
    assert not (tmp_path / "j.sqlite.lock").exists() or not _lock_held(tmp_path / "j.sqlite")


def _lock_held(path: Path) -> bool:
    try:
        j = AgentJournal.open(path)
    except JournalError as exc:
        return "another agent" in str(exc)
    j.close()
    return False


def test_bearing_agent_run_on_a_corrupted_journal_is_one_line_and_exit_2(tmp_path):
    path = written_journal(tmp_path / "j.sqlite", 500)
    corrupt(path)
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nlearn = true\ninterval_s = 600.0\n[serial]\nport = "{tmp_path}/no-such-device"\n'
                      f'[gpio]\npin_factory = "mock"\n[journal]\npath = "{path}"\n'
                      '[learning]\nsamples_per_snapshot = 1024\n')
    proc = subprocess.run(_command("bearing-agent", "edge_agent.cli.main") + ["run", "--config", str(config)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"bearing-agent run: error: {path}") and "move it aside" in last, proc.stderr
    assert "Traceback" not in proc.stderr


def test_corruption_under_a_running_agent_is_a_journal_fault_and_nothing_raises(tmp_path, monkeypatch):
    from edge_agent.journal import agent_journal

    monkeypatch.setattr(agent_journal, "RETRY_S", 0.0)
    path = tmp_path / "j.sqlite"
    j = AgentJournal.open(path)
    for k in range(3000):  # more pages than the connection's 512 KiB cache holds
        j.record_snapshot(row(k), state={"alarm": {"latched": True}}, counters={"frames_ok": k})
    j.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the rows are in the file, where the corruption goes
    j.db.execute("PRAGMA cache_size=0")  # forget cached pages: the next reads come from the file
    j.db.execute("PRAGMA cache_size=-512")
    corrupt(path)
    for k in range(3000, 3020):  # the loop goes on: none of these raises
        j.record_snapshot(row(k), state={"alarm": {"latched": True}}, counters={"frames_ok": k})
        j.event("alarm_raised", "over the threshold") if k == 3005 else None
    assert j.prune(1, 100, now=1.7e9 + 600 * 3100) == 0  # retention reads the old pages: a fault, not a raise
    assert j.take_requests() == []
    assert j.fault is not None and "malformed" in j.fault, j.fault
    assert j.pending > 0  # the rows wait in memory, bounded (agent_journal.MAX_PENDING)
    j.close()  # the last try fails, logged, no raise; the lock is released
    assert not _lock_held(path)


@pytest.mark.parametrize("where", ["middle", "all but the header", "the header"])
def test_status_on_a_corrupted_journal_is_a_message_not_a_traceback(tmp_path, where):
    path = written_journal(tmp_path / "j.sqlite", 2000)
    n_pages = path.stat().st_size // PAGE
    {"middle": lambda: corrupt(path, n_pages // 2, 4), "all but the header": lambda: corrupt(path),
     "the header": lambda: corrupt(path, 1, 1)}[where]()
    proc = subprocess.run(_command("bearing-agent", "edge_agent.cli.main") + ["status", "--journal", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    if proc.returncode != 0:  # what it could not read is named; what it could is printed
        assert proc.returncode == 2 and proc.stderr.startswith(f"bearing-agent status: error: {path}"), proc.stderr
        assert proc.stderr.count("\n") == 1 and ("malformed" in proc.stderr or "not a database" in proc.stderr), proc.stderr
