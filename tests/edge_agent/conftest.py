"""The real agent bundle (T = 2, trained and converted once per session by tests.agent_fixtures), for the deploy
tests (tests/edge_agent/deploy, cli/test_deploy.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.agent_fixtures import bundle_dir


@pytest.fixture(scope="module")
def real_bundle(tmp_path_factory) -> Path:
    return bundle_dir(root=tmp_path_factory.mktemp("agent-bundles"))
