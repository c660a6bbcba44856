"""Write files so that a crash or power cut never leaves a half-written one."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


@contextmanager
def atomic_output(path: str | Path, mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success fsync and rename it over ``path``.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp makes 0600 files; the result should have the mode an ordinary open() gives.
    os.fchmod(fd, 0o666 & ~_umask())
    try:
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


@contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield an empty folder beside ``path`` to build a directory in; on success swap it in.

    On an exception the folder is removed and ``path`` is untouched. On success a previous
    ``path`` is moved aside, the new one renamed into place and the old one removed, so
    ``path`` is never a half-written directory (a crash between the two renames leaves the
    old one beside it as ``.<name>.*.old``). The caller checks first that ``path`` may be replaced.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    # mkdtemp makes 0700 folders; the result should have the mode an ordinary mkdir gives.
    os.chmod(stage, 0o777 & ~_umask())
    old = None
    if path.exists():
        old = tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent)
        os.replace(path, old)  # onto the empty folder: rename(2) replaces an empty directory
    os.replace(stage, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_output(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_output(path, "wb") as fh:
        fh.write(data)
