"""The slots on disk: what goes in, the one-rename pointer, and a crash at any step leaving a loadable bundle."""
from __future__ import annotations

import json
import os
import shutil
import tarfile

import pytest

from edge_agent.deploy.slots import SlotError, Slots
from edge_agent.scoring.bundle import load_bundle


def fake_bundle(folder, files=("model.tflite", "scaler.json")):
    folder.mkdir(parents=True)
    for name in files:
        (folder / name).write_text(name)
    (folder / "manifest.json").write_text(json.dumps({"bundle_id": folder.name, "files": {n: "0" * 64 for n in files}}))
    return folder


def listing(folder, files):
    """A folder whose manifest lists ``files`` (none of which is there)."""
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"files": {n: "0" * 64 for n in files}}))
    return folder


def test_a_bundle_goes_into_the_slot_the_link_does_not_name_and_the_link_moves_in_one_rename(tmp_path):
    fake_bundle(tmp_path / "bundles" / "v1")
    new = fake_bundle(tmp_path / "new")
    (new / "notes.txt").write_text("not listed in the manifest")
    pointer = tmp_path / "bundle"
    pointer.symlink_to("bundles/v1")
    slots = Slots(pointer)
    assert slots.inactive() == "a" and slots.slot_of(slots.active()) is None
    name, folder = slots.stage(new)
    assert (name, folder) == ("a", tmp_path / "slots" / "a")
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "model.tflite", "scaler.json"]
    assert pointer.resolve() == (tmp_path / "bundles" / "v1").resolve()  # staging never moves the link
    slots.point_at(folder)
    assert os.readlink(pointer) == "slots/a" and slots.inactive() == "b" and slots.bundle_id("a") == "new"
    assert not list(tmp_path.glob(".bundle.*"))  # the new link was renamed over the old one


def test_an_archive_is_unpacked_into_the_slot(tmp_path):
    src = fake_bundle(tmp_path / "src" / "bundle")
    archive = tmp_path / "bundle.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname="bundle")
    pointer = tmp_path / "bundle"
    slots = Slots(pointer)
    name, folder = slots.stage(archive)
    assert name == "a" and (folder / "model.tflite").read_text() == "model.tflite"


def test_a_crash_at_any_step_leaves_the_link_on_a_loadable_bundle(tmp_path, real_bundle, monkeypatch):
    pointer = tmp_path / "bundle"
    slots = Slots(pointer)
    name, folder = slots.stage(real_bundle)
    slots.point_at(folder)
    good = load_bundle(pointer).bundle_id

    # the disk fills (or the power goes) while the next bundle is copied: the slot is built beside its place
    real_copy = shutil.copyfile
    calls = []

    def copy_then_fail(src, dst, *args, **kwargs):
        calls.append(src)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_copy(src, dst, *args, **kwargs)

    monkeypatch.setattr(shutil, "copyfile", copy_then_fail)
    with pytest.raises(SlotError, match=r"cannot write slot b in .*slots \(No space left on device\): run deploy"):
        slots.stage(real_bundle)
    monkeypatch.undo()
    assert not (tmp_path / "slots" / "b").exists() and load_bundle(pointer).bundle_id == good

    # killed in the middle of a copy (what a power cut leaves: the half-built folder): cleaned at the next stage
    leftover = tmp_path / "slots" / ".b.half.tmp"
    leftover.mkdir()
    (leftover / "manifest.json").write_text("{")
    name, folder = slots.stage(real_bundle)
    assert name == "b" and not leftover.exists() and load_bundle(pointer).bundle_id == good

    # killed between making the new link and renaming it over the pointer: the pointer is the old link
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError(5, "Input/output error")))
    with pytest.raises(OSError):
        slots.point_at(folder)
    monkeypatch.undo()
    assert os.readlink(pointer) == "slots/a" and load_bundle(pointer).bundle_id == good
    slots.point_at(folder)  # the next attempt replaces the leftover link
    assert os.readlink(pointer) == "slots/b" and load_bundle(pointer).bundle_id == good
    assert not list(tmp_path.glob(".bundle.*"))


def test_staging_never_writes_the_slot_the_link_names(tmp_path):
    pointer = tmp_path / "bundle"
    slots = Slots(pointer)
    name, folder = slots.stage(fake_bundle(tmp_path / "one"))
    slots.point_at(folder)
    assert slots.stage(pointer) == ("b", tmp_path / "slots" / "b")  # the live bundle given as the new one
    assert slots.stage(tmp_path / "slots" / "b")[0] == "b"  # the inactive slot itself: read whole, then replaced
    assert slots.stage(fake_bundle(tmp_path / "two"))[0] == "b" and slots.bundle_id("a") == "one"
    assert slots.bundle_id("b") == "two" and os.readlink(pointer) == "slots/a"


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing", "no such bundle folder or archive"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "no manifest.json; is this a bundle folder"),
    (lambda p: listing(p / "b", ["../../etc/passwd"]), "'files' must name plain files"),
    (lambda p: listing(p / "c", ["scaler.json"]), "scaler.json is missing"),
    (lambda p: (p / "x.tar.gz").write_bytes(b"not gzip") and p / "x.tar.gz", "x.tar.gz"),
])
def test_what_is_not_a_bundle_is_refused_with_the_reason_and_nothing_changes(tmp_path, make, message):
    pointer = tmp_path / "bundle"
    with pytest.raises(SlotError, match=message):
        Slots(pointer).stage(make(tmp_path))
    assert not (tmp_path / "slots" / "a").exists()


def test_a_pointer_that_is_a_folder_is_refused_with_the_commands_that_make_it_a_link(tmp_path):
    folder = fake_bundle(tmp_path / "bundle")
    with pytest.raises(SlotError, match=r"is a folder, not a link: .*sudo mv .*bundles/v1 && sudo ln -s"):
        Slots(folder).point_at(tmp_path)
