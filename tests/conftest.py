import os
import shutil

import pytest

from firmware_io.recordings import ims as datasets

#: Under CI a real component that is missing is a failure, not a skip (CI installs them).
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_executable(name: str, package: str) -> str:
    """The path of ``name``; skip naming the Debian ``package`` when it is missing, fail under CI=true.

    ``make test`` installs these packages when it runs as root with apt (``.ci/system-packages.sh``).
    """
    path = shutil.which(name) or (name if os.path.isabs(name) and os.access(name, os.X_OK) else None)
    if path:
        return path
    reason = f"{name} not found: install the Debian package '{package}' (make test does it as root with apt)"
    if IN_CI:
        pytest.fail(f"CI=true: a real-component test cannot skip: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def full_npz():
    """The packed full test 2, or a skip that says where it was looked for."""
    path = datasets.full_test2_npz()
    if path is None:
        pytest.skip(datasets.FULL_NPZ_MISSING)
    return path
