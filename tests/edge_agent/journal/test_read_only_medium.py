"""A journal on a read-only medium (an SD card from a failed Pi, ``mount -o ro``): read it, or say why not (issue 21 #19)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from edge_agent.cli import main as cli
from edge_agent.journal import Journal, JournalError, SnapshotRow
from edge_agent.web import api
from tests.filesystems import remount, small_tmpfs

WRITE_AND_DIE = """
import os, sys
from edge_agent.journal import Journal, SnapshotRow
j = Journal(sys.argv[1])
sid = j.stream_id("pump-7", "1.0", 20000, 2, 0.001, ["x", "y"])
for k in range(5):
    j.record_snapshot(SnapshotRow(1.7e9 + k, k, sid, [0.1, 0.2], 0.1, 0.3, False, False, "normal", "b", 1.0))
os._exit(0)  # a power cut: the rows are in the -wal file, never checkpointed
"""


def _write(path, *, clean: bool) -> None:
    if clean:
        j = Journal(path)
        sid = j.stream_id("pump-7", "1.0", 20000, 2, 0.001, ["x", "y"])
        for k in range(5):
            j.record_snapshot(SnapshotRow(1.7e9 + k, k, sid, [0.1, 0.2], 0.1, 0.3, False, False, "normal", "b", 1.0))
        j.close()  # the last connection checkpoints and removes the -wal file
    else:
        subprocess.run([sys.executable, "-c", WRITE_AND_DIE, str(path)], check=True)


def test_a_cleanly_closed_journal_on_a_read_only_medium_is_read(tmp_path, capsys):
    with small_tmpfs(tmp_path / "card") as card:
        path = card / "journal.sqlite"
        _write(path, clean=True)
        remount(card, "ro")
        j = Journal.open_readonly(path)
        try:
            assert len(j.snapshots()) == 5 and api.status(j)["journal"]["ok"]
        finally:
            j.close()
        assert cli.main(["status", "--journal", str(path), "--json"]) == 0
        assert len(json.loads(capsys.readouterr().out)["snapshots"]) == 5
        out = tmp_path / "rows.csv"
        assert cli.main(["export", "--journal", str(path), "-o", str(out)]) == 0
        assert len(out.read_text().splitlines()) == 6
        assert not os.path.exists(f"{path}-shm")


def test_a_journal_with_unsaved_rows_on_a_read_only_medium_says_how_to_read_them(tmp_path):
    with small_tmpfs(tmp_path / "card") as card:
        path = card / "journal.sqlite"
        _write(path, clean=False)
        remount(card, "rw")
        os.unlink(f"{path}-shm")  # what a reader finds on a card whose -shm was lost (it lives in memory)
        remount(card, "ro")
        with pytest.raises(JournalError, match=r"read-only medium and its -wal file holds rows .*\(cp -p "):
            Journal.open_readonly(path)
        answer = api.no_journal(path, "read-only medium")
        assert "start the agent" not in answer["journal"]["hint"]
