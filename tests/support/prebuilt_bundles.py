"""Test bundles built on another machine, for a test run that cannot train: the emulated Raspberry Pi.

The bundle fixtures train a model with TensorFlow, which a Pi does not have. ``.ci/arm-edge.sh`` therefore
has the host's ``.venv`` build them first (``tests/support/export_test_bundles.py`` asks the fixtures for
every bundle the edge tests use and copies each out), and runs the tests in the emulated Pi with
``$BEARING_EDGE_TEST_BUNDLES`` naming that folder: the fixtures then hand out those bundles instead of
training. Unset (every ordinary run), nothing changes.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

#: the folder of prebuilt bundles the fixtures use instead of training
ENV = "BEARING_EDGE_TEST_BUNDLES"


@dataclass(frozen=True)
class PrebuiltConversion:
    """Stands in for ``convert.pipeline.ConversionResult`` in the tests that only use its bundle."""

    bundle_dir: Path


def in_use() -> bool:
    """True when the fixtures must hand out prebuilt bundles (``$BEARING_EDGE_TEST_BUNDLES`` is set)."""
    return bool(os.environ.get(ENV))


def prebuilt_bundle(name: str) -> Path | None:
    """The prebuilt bundle directory ``name``, or None when no prebuilt bundles are in use (build it then).

    A bundle the folder lacks fails the test rather than skipping it: the exporter must be told about it.
    """
    if not in_use():
        return None
    path = Path(os.environ[ENV]) / name
    if not (path / "manifest.json").is_file():
        pytest.fail(f"${ENV}={os.environ[ENV]} has no bundle {name!r}; the edge tests asked for it, so "
                    "add it to tests/support/export_test_bundles.py")
    return path


def export_bundle(bundle_dir: Path, out: Path, name: str | None = None) -> Path:
    """Copy a built bundle directory (and its ``.tar.gz`` beside it, if any) into ``out`` as ``name``.

    ``name`` defaults to the directory's own name; it is what the fixture asks :func:`prebuilt_bundle` for.
    """
    name = name or bundle_dir.name
    out.mkdir(parents=True, exist_ok=True)
    dest = out / name
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(bundle_dir, dest)
    archive = bundle_dir.with_name(bundle_dir.name + ".tar.gz")
    if archive.is_file():
        shutil.copy2(archive, out / f"{name}.tar.gz")
    return dest
