"""A small filesystem of its own for the tests that fill or freeze one: a tmpfs mounted on a test folder.

Mounting needs root: elsewhere the test is skipped with the reason, and under
CI=true it fails instead (a real-component test cannot skip there), as
:func:`tests.conftest.require_executable` does. No tests here.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import IN_CI, require_executable


@contextlib.contextmanager
def small_tmpfs(folder: Path, size: str = "2m") -> Iterator[Path]:
    """``folder`` as a tmpfs of ``size`` for the block; unmounted afterwards whatever happened."""
    if os.geteuid() != 0:
        reason = "mounting a small tmpfs needs root (make test runs as root in CI)"
        if IN_CI:
            pytest.fail(f"CI=true: a real-component test cannot skip: {reason}")
        pytest.skip(reason)
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run([require_executable("mount", "mount"), "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        reason = f"cannot mount a tmpfs here: {mounted.stderr.strip()}"
        if IN_CI:
            pytest.fail(f"CI=true: a real-component test cannot skip: {reason}")
        pytest.skip(reason)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Fill the filesystem of ``folder`` to the last byte; returns the filler file (delete it to free the space)."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f:  # unbuffered: nothing left to fail at close
        for block in (65536, 4096, 512, 1):
            try:
                while f.write(b"\0" * block):
                    pass
            except OSError:
                pass
    return filler


def remount(folder: Path, mode: str) -> None:
    """Remount ``folder``'s tmpfs ``ro`` or ``rw``."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(folder)], check=True)
