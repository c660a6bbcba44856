"""Fixtures of the end-to-end agent tests: the real bundle and the recorded snapshots' features."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.agent_fixtures import bundle_dir, features_of, raw_test2_files


@pytest.fixture(scope="session")
def agent_bundle(tmp_path_factory) -> Path:
    """The agent tests' bundle (T = 2, float32), trained and converted once per session."""
    return bundle_dir(root=tmp_path_factory.mktemp("agent-bundles"))


@pytest.fixture(scope="session")
def truth():
    """Features of the 25 recorded snapshots, computed from the files."""
    return features_of(raw_test2_files())
