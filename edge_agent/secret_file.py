"""Reading a secret (the page's token, the broker password) from its file, refusing what is not one.

A secret file's path comes from the configuration, so it is checked like any
other input (issue 21 #23): ``/dev/zero`` or ``/dev/urandom`` read whole
exhausted memory, a FIFO hung start-up, a symbolic link to ``/etc/shadow``
became the page's token, and a world-readable password file was taken
silently. Here: a regular file only (opened without following a symbolic link
and without blocking, then checked with ``fstat``), only its first
:data:`MAX_BYTES` bytes read, its first line used, and a file that others may
read logged as a warning naming the ``chmod`` that fixes it.
"""
from __future__ import annotations

import logging
import os
import stat

from firmware_io.errors import BearingEdgeError

log = logging.getLogger("edge_agent.secret_file")

#: The most read from a secret file: a token or a password is one short line.
MAX_BYTES = 4096


class SecretFileError(BearingEdgeError, ValueError):
    """A secret file that cannot be used: what is wrong and what to do, in the message."""


def read_secret(path: str, key: str) -> str:
    """The first line of the secret file ``path`` (``key``, e.g. ``[web] token_file``, names it in messages),
    stripped of its line end; raises :class:`SecretFileError` when the file is not a readable regular file
    or its first line is empty."""
    where = f"{key} = {path}"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if os.path.islink(path):
            raise SecretFileError(f"{where}: is a symbolic link; set {key} to the file itself (a link could point "
                                  "the kit at any file this user may read)") from None
        raise SecretFileError(f"{where}: cannot open it ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SecretFileError(f"{where}: is not a regular file ({_kind(st.st_mode)}); write the secret into "
                                  "a file of its own, readable only by the service's user (chmod 600)")
        data = os.read(fd, MAX_BYTES)
    except OSError as exc:
        raise SecretFileError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    line = data.split(b"\n", 1)[0].rstrip(b"\r")
    if b"\n" not in data and len(data) == MAX_BYTES:
        raise SecretFileError(f"{where}: no line end in its first {MAX_BYTES} bytes; the first line must be "
                              "the secret alone")
    try:
        secret = line.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretFileError(f"{where}: its first line is not UTF-8 text") from None
    if not secret.strip():
        raise SecretFileError(f"{where}: the first line is empty; it must be the secret")
    if st.st_mode & (stat.S_IROTH | stat.S_IWOTH):
        log.warning("%s: every user of this machine may read (or write) it (mode %s); restrict it: "
                    "sudo chmod o-rwx %s", where, stat.filemode(st.st_mode), path)
    return secret


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"
