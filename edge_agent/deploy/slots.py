"""The two bundle slots on disk and the link that names the bundle the agent starts with.

``bearing-agent deploy`` keeps bundles beside ``[agent] bundle``::

    /var/lib/bearing-agent/
        bundle -> slots/b      [agent] bundle: a symbolic link, the pointer (replaced in one rename)
        slots/a/               the previous bundle, kept for a rollback
        slots/b/               the committed one

A deploy copies the new bundle into the slot the link does not name (:meth:`Slots.stage`), the agent
verifies it there and runs it on probation, and only a commit moves the link (:meth:`Slots.point_at`).
So whenever the agent (re)starts, the link names a bundle that was verified and committed: a power cut
during a copy leaves a half-written slot the link does not name (each slot is built beside its place
and renamed in), a crash during probation restarts on the old bundle. Nothing here imports the agent.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from edge_agent.atomic import atomic_directory
from edge_agent.scoring.manifest import MANIFEST
from edge_agent.deploy.names import SLOT_NAMES
from edge_agent.scoring.signing import SIGNATURE
from firmware_io.errors import BearingEdgeError

#: The folder beside ``[agent] bundle`` that holds the slots.
SLOTS_DIR = "slots"
#: The largest file a bundle may hold (a model of 64 MiB is far beyond what a Pi scores every 10 minutes).
MAX_FILE_BYTES = 64 << 20


class SlotError(BearingEdgeError, ValueError):
    """A bundle that cannot be put into a slot, or a pointer that deploy cannot manage; the message says why."""


class Slots:
    """The slots beside the pointer ``[agent] bundle`` (a symbolic link once deploy has been used)."""

    def __init__(self, pointer: str | Path) -> None:
        self.pointer = Path(pointer)
        self.root = self.pointer.parent / SLOTS_DIR

    def path(self, name: str) -> Path:
        if name not in SLOT_NAMES:
            raise SlotError(f"no slot {name!r}: the slots are {', '.join(SLOT_NAMES)}")
        return self.root / name

    def check_pointer(self) -> None:
        """Refuse a pointer deploy cannot replace in one step: a real folder or file (an install from before
        deploy that did not follow the link layout), with the one-time commands that make it a link."""
        p = self.pointer
        if p.is_symlink() or not p.exists():
            return
        kind = "folder" if p.is_dir() else "file"
        target = f"{p.parent}/bundles/v1" + ("" if p.is_dir() else ".tar.gz")
        raise SlotError(
            f"[agent] bundle {p} is a {kind}, not a link: deploy switches bundles by replacing a link in one step. "
            f"Once: sudo mkdir -p {p.parent}/bundles && sudo mv {p} {target} && sudo ln -s {target} {p} "
            f"&& sudo systemctl reload bearing-agent; then deploy again")

    def active(self) -> Path | None:
        """Where the pointer leads (a slot, or the folder an install from before deploy links to), or None."""
        return self.pointer.resolve() if self.pointer.exists() else None

    def slot_of(self, path: str | Path | None) -> str | None:
        """The slot ``path`` lies in, else None."""
        if path is None:
            return None
        real = Path(path).resolve()
        return next((n for n in SLOT_NAMES if real == (self.root / n).resolve()), None)

    def inactive(self) -> str:
        """The slot the pointer does not name: where the next bundle goes."""
        first, second = SLOT_NAMES
        return second if self.slot_of(self.active()) == first else first

    def stage(self, source: str | Path) -> tuple[str, Path]:
        """Copy the bundle folder or ``.tar.gz`` ``source`` into the inactive slot; return (slot, its path).

        Only the manifest, its signature and the files the manifest lists are copied (a mistyped folder such
        as ``/`` copies nothing more); the slot is built beside its place and renamed in, so a crash leaves
        the old slot or the new one. The bundle is not verified here: the agent (or ``deploy``) loads it.
        """
        source = Path(source)
        if not source.exists():
            raise SlotError(f"{source}: no such bundle folder or archive")
        name = self.inactive()
        try:
            for leftover in self.root.glob(f".{name}.*"):  # of a copy a crash interrupted: never the pointer's
                shutil.rmtree(leftover, ignore_errors=True)
            if source.is_dir():
                self._copy_into(source, name)
            else:
                self._unpack_into(source, name)
        except OSError as exc:  # no write access (not run with sudo), a full disk: the slot is as it was
            raise SlotError(f"cannot write slot {name} in {self.root} ({exc.strerror or exc}): run deploy as root "
                            "(sudo) or as the agent's user, with space on that disk; nothing was changed") from None
        return name, self.root / name

    def _unpack_into(self, archive: Path, name: str) -> None:
        from edge_agent.scoring.archive import ArchiveError, unpack, unpacked_folder

        try:
            folder = unpack(archive)  # checked member by member: no links, no paths out, no devices
        except ArchiveError as exc:
            raise SlotError(str(exc)) from exc
        try:
            manifests = sorted(folder.rglob(MANIFEST))
            if not manifests:
                raise SlotError(f"{archive}: the archive holds no {MANIFEST}; is it a bundle made by bearing-convert?")
            self._copy_into(manifests[0].parent, name, shown=archive)
        finally:
            shutil.rmtree(unpacked_folder(folder), ignore_errors=True)

    def _copy_into(self, folder: Path, name: str, shown: Path | None = None) -> None:
        shown = shown or folder
        # (the source may be a slot, even the inactive one itself: every file is read before the slot is replaced)
        files = _listed_files(folder, shown)
        self.root.mkdir(parents=True, exist_ok=True)
        with atomic_directory(self.root / name) as stage:
            for file in files:
                _copy_file(folder / file, stage / file, shown)
            _fsync_dir(stage)

    def point_at(self, target: str | Path) -> None:
        """Replace the pointer by a link to ``target`` in one rename (relative inside the pointer's folder)."""
        target = Path(target).resolve()
        self.check_pointer()
        base = self.pointer.parent.resolve()
        link_text = os.path.relpath(target, base) if target.is_relative_to(base) else str(target)
        tmp = self.pointer.with_name(f".{self.pointer.name}.{os.getpid()}.new")
        tmp.unlink(missing_ok=True)
        os.symlink(link_text, tmp)
        os.replace(tmp, self.pointer)
        _fsync_dir(self.pointer.parent)

    def bundle_id(self, name: str) -> str | None:
        """The bundle id a slot's manifest names (what ``deploy --status`` lists), None if empty or unreadable."""
        try:
            return str(json.loads((self.path(name) / MANIFEST).read_text(encoding="utf-8"))["bundle_id"])
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _listed_files(folder: Path, shown: Path) -> list[str]:
    """The manifest, the signature if any and every file the manifest lists (plain names in the folder)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        listed = list(manifest["files"])
    except FileNotFoundError:
        raise SlotError(f"{shown}: no {MANIFEST}; is this a bundle folder made by bearing-convert?") from None
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise SlotError(f"{shown / MANIFEST}: not a bundle manifest ({type(exc).__name__}: {exc}); "
                        "copy the bundle again") from None
    bad = [f for f in listed if not isinstance(f, str) or f in ("", ".", "..") or "/" in f or "\\" in f
           or f in (MANIFEST, SIGNATURE)]
    if bad:
        raise SlotError(f"{shown / MANIFEST}: 'files' must name plain files in the bundle folder, got {bad[:3]}")
    return [MANIFEST] + ([SIGNATURE] if (folder / SIGNATURE).is_file() else []) + listed


def _copy_file(src: Path, dst: Path, shown: Path) -> None:
    if src.is_symlink() or not src.is_file():
        raise SlotError(f"{shown}: {src.name} is missing or not a regular file; copy the bundle again")
    if src.stat().st_size > MAX_FILE_BYTES:
        raise SlotError(f"{shown}: {src.name} is larger than {MAX_FILE_BYTES >> 20} MiB: not a bundle file")
    shutil.copyfile(src, dst)
    with open(dst, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
