"""May this process write the journal? The check behind "join the group" and "not writable at start".

SQLite opens a file it may not write read-only without a word and fails at
the first write ("attempt to write a readonly database"), so both writers
ask first: ``bearing-agent ack`` (a user who is not in the journal's group)
and the agent at start (a journal left read-only, a read-only filesystem).
In WAL mode a writer needs the file, its ``-wal`` and ``-shm`` files, and the
directory (SQLite creates and deletes the ``-wal`` file there).
"""
from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path


def write_problem(path: Path) -> str | None:
    """What stops this process writing the journal at ``path`` (an existing file), or None."""
    blocked = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists() and not _may(p, os.W_OK)]
    if not _may(path.parent, os.W_OK | os.X_OK):
        blocked.append(path.parent)
    if not blocked:
        return None
    st = path.stat()
    group = _name(grp.getgrgid, st.st_gid)
    return (f"this user ({_name(pwd.getpwuid, os.geteuid())}) cannot write {', '.join(map(str, blocked))} "
            f"(journal owner {_name(pwd.getpwuid, st.st_uid)}, group {group}, mode {stat.filemode(st.st_mode)}): "
            f"run it as the agent's user, or join the journal's group '{group}' (sudo usermod -aG {group} $USER, "
            "then log in again) with the journal, its -wal and -shm files and its directory group-writable "
            "(see docs/edge_agent.md); a read-only filesystem needs remounting read-write")


def _may(path: Path, mode: int) -> bool:
    # The effective ids: what the kernel checks when SQLite opens the file (a setuid helper, a test).
    return os.access(path, mode, effective_ids=os.access in os.supports_effective_ids)


def _name(lookup, ident: int) -> str:
    try:
        return lookup(ident)[0]
    except KeyError:
        return str(ident)
