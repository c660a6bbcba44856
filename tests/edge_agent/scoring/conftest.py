"""The bundle every bundle test starts from (built once per session by tests/conftest.py), and a private copy."""
import pytest


@pytest.fixture(scope="module")
def bundle_dir(converted):
    return converted().bundle_dir


@pytest.fixture
def copy(bundle_dir, tmp_path, copy_bundle):
    """A copy of the bundle the test may damage."""
    return copy_bundle(bundle_dir, tmp_path / "bundle")
