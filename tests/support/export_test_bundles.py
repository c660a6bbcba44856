"""Build every bundle the edge tests use and copy them out: the host half of the emulated-Pi run.

    BEARING_EDGE_EXPORT_TEST_BUNDLES=DIR python -m pytest -q tests/support/export_test_bundles.py

``.ci/arm-edge.sh`` runs this with the host's ``.venv`` (TensorFlow), then runs the edge tests in the
emulated Pi with ``BEARING_EDGE_TEST_BUNDLES=DIR`` (see :mod:`tests.support.prebuilt_bundles`). It is a
pytest module so that the bundles come from the tests' own fixtures, built exactly as the tests build
them; its name does not start with ``test_``, so the suite never collects it.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.agent_fixtures import bundle_dir as agent_bundle_dir
from tests.agent_fixtures import envelope_bundle_dir
from tests.support.prebuilt_bundles import export_bundle

#: the ``converted(timesteps, variants)`` calls of the edge tests (test_bundle.py, test_scorer.py, test_diagnosis.py)
CONVERTED = [(1, ("float32", "float16", "dynamic", "int8")), (3, ("float32",)), (1, ("float32",))]
#: the ``tests.agent_fixtures.bundle_dir(timesteps)`` calls of the agent tests
AGENT_TIMESTEPS = [2]


@pytest.fixture(scope="module")
def out() -> Path:
    folder = os.environ.get("BEARING_EDGE_EXPORT_TEST_BUNDLES")
    if not folder:
        pytest.fail("set BEARING_EDGE_EXPORT_TEST_BUNDLES to the folder to write the test bundles to")
    return Path(folder)


def test_export_the_edge_tests_bundles(out, tflite_python, converted, tmp_path):
    # tflite_python first: with the tflite-runtime env present every variant is also gated on
    # tflite-runtime, and the 32-bit Pi (tflite-runtime only) can load the bundles.
    assert not isinstance(tflite_python, str), tflite_python
    for timesteps, variants in CONVERTED:
        exported = export_bundle(converted(timesteps, variants).bundle_dir, out)
        assert (exported / "manifest.json").is_file() and exported.with_name(exported.name + ".tar.gz").is_file()
    for timesteps in AGENT_TIMESTEPS:
        exported = export_bundle(agent_bundle_dir(timesteps), out, f"agent_T{timesteps}")
        assert (exported / "manifest.json").is_file()
    exported = export_bundle(envelope_bundle_dir(tmp_path), out, "agent_envelope")  # test_agent_diagnosis.py
    assert (exported / "manifest.json").is_file()
