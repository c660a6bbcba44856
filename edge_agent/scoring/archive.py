"""Unpack a ``.tar.gz`` bundle into a private temporary folder, safely, within size limits, on any Python 3.11.

A bundle archive comes over scp from a desktop: it can be truncated, damaged or hostile.
Every member is checked before anything is written (regular files and directories only,
inside the target, at most :data:`MAX_MEMBERS` members, :data:`MAX_MEMBER_BYTES` each and
:data:`MAX_UNPACKED_BYTES` in all: a bundle is a few files of some KiB, and a 1 MB archive
can expand to gigabytes and fill the SD card). Python >= 3.11.4 then unpacks with
tarfile's ``data`` filter; Debian 12's Python 3.11.2 (Raspberry Pi OS bookworm) has no
filter, so the files are copied out by content alone. Any archive error is a
:class:`ArchiveError` that says to copy the archive again.

The folder is named ``bearing-bundle-<pid>-*`` and lives as long as its Bundle (nothing reads it
after the load: the device runs the bytes it read and hashed); a process killed with -9 cannot
remove it, so every unpack first removes the folders of processes that no longer exist.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import zlib
from pathlib import Path, PurePosixPath

from firmware_io.errors import BearingEdgeError

TMP_PREFIX = "bearing-bundle-"
MAX_MEMBERS = 1000
MAX_MEMBER_BYTES = 64 * 2**20
MAX_UNPACKED_BYTES = 256 * 2**20


class ArchiveError(BearingEdgeError, ValueError):
    """The archive cannot be unpacked as a bundle; the message names the archive and the problem."""


def unpack(archive: Path) -> Path:
    """Unpack ``archive`` into a new private temporary folder and return that folder (the caller removes it)."""
    import tarfile  # only archives need it: a bundle directory does not

    remove_stale_folders()
    target = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-"))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            check_members(tar.getmembers())
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4
                tar.extractall(target, filter="data")  # refuses absolute paths, '..', links out, devices
            else:
                # Raspberry Pi OS bookworm has Debian's Python 3.11.2, whose extractall() has no filter.
                _copy_out(tar, target)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:  # EOFError, zlib.error: truncated, damaged
        shutil.rmtree(target, ignore_errors=True)
        raise ArchiveError(f"{archive}: cannot unpack the bundle archive ({exc or type(exc).__name__}); "
                           "copy the archive again") from exc
    return target


def check_members(members: list) -> None:
    """Refuse (``tarfile.TarError``) what the data filter would refuse, and more than a bundle's sizes."""
    import tarfile

    if len(members) > MAX_MEMBERS:
        raise tarfile.TarError(f"{len(members)} members, more than a bundle's limit of {MAX_MEMBERS}")
    total = 0
    for member in members:
        name = PurePosixPath(member.name)
        if name.is_absolute() or ".." in name.parts:
            raise tarfile.TarError(f"member {member.name!r} would land outside the bundle directory")
        if not (member.isfile() or member.isdir()):
            raise tarfile.TarError(f"member {member.name!r} is not a regular file or directory "
                                   "(links and devices are refused)")
        size = member.size if member.isfile() else 0
        if size > MAX_MEMBER_BYTES:
            raise tarfile.TarError(f"member {member.name!r} is {size:,} bytes, more than a bundle file's limit "
                                   f"of {MAX_MEMBER_BYTES:,}")
        total += size
        if total > MAX_UNPACKED_BYTES:
            raise tarfile.TarError(f"more than {MAX_UNPACKED_BYTES:,} bytes unpacked; a bundle is far smaller")


def _copy_out(tar, target: Path) -> None:
    """Write the checked members by content alone: the archive's owners, permission bits and times never
    reach the device."""
    for member in tar.getmembers():
        dest = target.joinpath(*PurePosixPath(member.name).parts)
        if member.isdir():
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tar.extractfile(member) as src, open(dest, "xb") as out:  # "x": a repeated name is refused
            shutil.copyfileobj(src, out)


def unpacked_folder(root: Path) -> Path:
    """The temporary folder an unpacked bundle directory ``root`` lies in (what to remove), else ``root``."""
    return next((p for p in (root, *root.parents) if p.name.startswith(TMP_PREFIX)), root)


def remove_stale_folders(tmp: str | None = None) -> list[Path]:
    """Remove the ``bearing-bundle-<pid>-*`` folders of processes that no longer run; return them."""
    removed = []
    for folder in Path(tmp or tempfile.gettempdir()).glob(f"{TMP_PREFIX}*-*"):
        pid = folder.name[len(TMP_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and folder.is_dir() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and its folder is not ours to remove
        return True
    return True
