import pytest

from firmware_io.recordings import ims as datasets


@pytest.fixture(scope="session")
def full_npz():
    """The packed full test 2, or a skip that says where it was looked for."""
    path = datasets.full_test2_npz()
    if path is None:
        pytest.skip(datasets.FULL_NPZ_MISSING)
    return path
