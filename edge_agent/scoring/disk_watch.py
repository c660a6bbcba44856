"""Notice when a running bundle's files on disk stop being the bytes that were verified and run.

The device runs a bundle from bytes it read and hashed once at load
(:func:`edge_agent.scoring.bundle.load_bundle`), so nothing written to the bundle folder
afterwards changes what runs. But a changed folder is news: someone copied a bundle over
the live one (``scp bundle/* pi:...``, which truncates each file first), or the SD card is
failing; a restart or a reload would load what is there now. :class:`DiskWatch` compares
each file's ``stat`` with what was read, re-hashes it only when that changed, and says once
per change what happened, and once when the file is the verified one again.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: a bundle file is a few KiB; a file this large on disk is not re-read to be hashed
MAX_FILE_BYTES = 64 * 2**20


def sha256() -> Any:
    """A SHA-256 hash object, from CPython's built-in implementation when it has one.

    ``hashlib`` prefers OpenSSL, and importing it maps libcrypto: about 3.5 MiB
    more resident memory in the agent for its whole life, to hash ~50 kB once
    per bundle load. The digest is the same; hashlib is the fallback for a
    Python built without its own SHA-256 (``_sha2`` since 3.12, ``_sha256`` before).
    """
    for module in ("_sha2", "_sha256"):
        try:
            return importlib.import_module(module).sha256()
        except (ImportError, AttributeError):
            continue
    import hashlib

    return hashlib.sha256()


def sha256_bytes(data: bytes) -> str:
    h = sha256()
    h.update(data)
    return h.hexdigest()


def stat_key(st: os.stat_result) -> tuple[int, int, int, int]:
    """What changes when a file is rewritten, truncated or replaced (another inode)."""
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class TooLarge(OSError):
    """A bundle file larger than :data:`MAX_FILE_BYTES`."""


def read_with_stat(path: Path, limit: int = MAX_FILE_BYTES) -> tuple[bytes, tuple[int, int, int, int]]:
    """The whole file and the ``stat`` of the very file read (``fstat`` on its descriptor, not its name)."""
    with open(path, "rb") as fh:
        key = stat_key(os.fstat(fh.fileno()))
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"{path}: larger than {limit:,} bytes, far more than a bundle file")
    return data, key


@dataclass
class _File:
    path: Path
    sha256: str  # of the bytes verified and run
    seen: tuple[int, int, int, int] | None  # the stat last hashed
    problem: str | None = None  # what was last reported for it, None: as verified


class DiskWatch:
    """The files a bundle was loaded from, each with the sha256 of what runs and the stat of what was read."""

    def __init__(self, bundle_id: str, files: list[tuple[Path, str, tuple[int, int, int, int] | None]]) -> None:
        self.bundle_id = bundle_id
        self._files = [_File(path, digest, seen) for path, digest, seen in files]

    @property
    def changed(self) -> list[str]:
        """The problems standing now (as last checked): files that are not the verified bytes."""
        return [f.problem for f in self._files if f.problem]

    def check(self) -> list[str]:
        """Look at every file; return one line per file whose state changed since the last check."""
        news = []
        for f in self._files:
            problem = self._problem(f)
            if problem != f.problem:
                news.append(problem or f"{f.path} is the verified file of bundle {self.bundle_id} again")
                f.problem = problem
        return news

    def _problem(self, f: _File) -> str | None:
        try:
            key = stat_key(os.stat(f.path))
        except OSError as exc:
            return self._say(f, f"is gone ({exc.strerror or exc})")
        if key == f.seen:
            return f.problem  # not touched since last hashed: same state, no read
        try:
            data, key = read_with_stat(f.path)
        except OSError as exc:
            return self._say(f, f"cannot be read ({exc})")
        f.seen = key
        digest = sha256_bytes(data)
        if digest == f.sha256:
            return None
        return self._say(f, f"changed on disk ({len(data):,} bytes, sha256 {digest[:12]}..., verified "
                            f"{f.sha256[:12]}...)")

    def _say(self, f: _File, what: str) -> str:
        return (f"{f.path} {what} since bundle {self.bundle_id} was loaded; the agent keeps running the verified "
                "copy it holds in memory; a restart or reload would load what is there now (check it with "
                "'bearing-agent check-bundle'). Copy a new bundle to a new folder, never over the live one")
