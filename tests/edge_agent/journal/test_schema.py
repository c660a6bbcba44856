"""Issue 11 #9: a journal-reading command never writes; a file that is not our journal is refused with
what it is; ``ack`` by a user who may not write the journal is told which group to join."""
from __future__ import annotations

import grp
import os
import pwd
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest

from edge_agent.cli import main as cli
from edge_agent.journal import SCHEMA_VERSION, Journal, JournalError


def tables_and_bytes(path: Path) -> tuple[set[str], bytes]:
    db = sqlite3.connect(path)
    names = {n for (n,) in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    return names, path.read_bytes()


def future_journal(path: Path) -> Path:
    """A journal of a newer agent: the schema version after this one, a snapshots table without 'time'."""
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                     f"INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION + 1}');"
                     "CREATE TABLE snapshots (id INTEGER PRIMARY KEY, t_ns INTEGER);")
    db.close()
    return path


def foreign_file(path: Path) -> Path:
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT);")
    db.close()
    return path


@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["ack"], ["export", "-o", "out.csv"]])
@pytest.mark.parametrize("make, message", [(future_journal, f"journal schema version {SCHEMA_VERSION + 1}, written by a newer agent"),
                                           (foreign_file, "not a bearing-agent journal (tables: photos)")])
def test_journal_commands_refuse_a_newer_or_foreign_file_and_leave_it_as_it_was(tmp_path, capsys, monkeypatch,
                                                                               command, make, message):
    monkeypatch.chdir(tmp_path)
    path = make(tmp_path / "j.sqlite")
    before = tables_and_bytes(path)
    assert cli.main([*command, "--journal", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert tables_and_bytes(path) == before  # no table created, not a byte changed
    assert not (tmp_path / "j.sqlite-wal").exists()


@pytest.mark.parametrize("value", ["abc", "1.0", "", " 2x"])
def test_a_schema_version_that_is_not_an_integer_gets_a_message(tmp_path, capsys, value):
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (value,))
    db.commit()
    db.close()
    for command in (["status"], ["ack"]):
        assert cli.main([*command, "--journal", str(path)]) == 2
        assert f"journal schema_version is {value!r}, not an integer" in capsys.readouterr().err
    with pytest.raises(JournalError, match="not an integer"):
        Journal(path)  # the agent too


def test_status_opens_the_journal_read_only(tmp_path, capsys):
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    os.chmod(path, 0o444)
    try:
        before = tables_and_bytes(path)
        assert cli.main(["status", "--journal", str(path)]) == 0
        assert "never started with this journal" in capsys.readouterr().out
        assert tables_and_bytes(path) == before
    finally:
        os.chmod(path, 0o644)


def test_ack_without_write_access_says_which_group_to_join(capsys):
    """As root: ``ack`` with the effective user 'nobody' on a journal of root's group; else on a read-only one."""
    folder = Path(tempfile.mkdtemp(prefix="bearing-ack-"))  # not under pytest's 0700 tmp: 'nobody' must reach it
    try:
        os.chmod(folder, 0o755)
        path = folder / "j.sqlite"
        Journal(path).close()
        group = grp.getgrgid(path.stat().st_gid).gr_name
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.setegid(nobody.pw_gid)
            os.seteuid(nobody.pw_uid)
            try:
                code = cli.main(["ack", "--journal", str(path)])
            finally:
                os.seteuid(0)
                os.setegid(0)
        else:
            os.chmod(path, 0o444)
            code = cli.main(["ack", "--journal", str(path)])
            os.chmod(path, 0o644)
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err
        assert f"join the journal's group '{group}' (sudo usermod -aG {group} $USER" in err
        j = Journal(path, create=False)
        assert j.take_requests() == []  # nothing was queued
        j.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_ack_on_a_journal_whose_disk_is_full_gets_a_message_not_a_traceback(tmp_path, capsys):
    from tests.filesystems import fill, small_tmpfs

    with small_tmpfs(tmp_path / "fs") as fs:
        path = fs / "j.sqlite"
        agent = Journal(path)  # open, as the running agent holds it: the -wal and -shm files exist
        agent.event("start", "test")
        agent.set_state(alarm={"latched": True, "acknowledged": False})  # something to acknowledge
        filler = fill(fs)
        assert cli.main(["ack", "--journal", str(path)]) == 2
        err = capsys.readouterr().err
        assert "cannot queue the acknowledgement" in err and "full" in err and "Traceback" not in err
        filler.unlink()
        assert cli.main(["ack", "--journal", str(path)]) == 0  # room again: queued
        assert [(k, s) for _, k, s in agent.take_requests()] == [("ack", "command line")]
        agent.close()
