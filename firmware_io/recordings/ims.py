"""The IMS bearing data: its facts (rate, snapshot length, scale) and where it lives.

The one place for them: the feature spec's defaults, the replay's rate, the
agent's learning-mode snapshot length and the benchmarks all read them here.
The small files (features, 26 raw snapshots) are in ``data/ims`` so a fresh
clone works alone. The whole of test 2 packed (96 MB) is not committed: it is
looked up in ``$BEARING_EDGE_FULL_NPZ`` or ``../shared/data/ims/full/``.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data" / "ims"
RAW_TEST2_DIR = DATA_DIR / "raw" / "2nd_test"
RAW_TEST1_DIR = DATA_DIR / "raw" / "1st_test"
REFERENCE_DIR = DATA_DIR / "reference"
FEATURES_TEST2 = DATA_DIR / "features" / "ims_test2_features.csv"
FEATURES_TEST1 = DATA_DIR / "features" / "ims_test1_features.csv"

#: The IMS recordings: 20,480 samples per channel at 20 kHz, one file a snapshot.
IMS_SAMPLE_RATE_HZ = 20_000
IMS_SAMPLES_PER_SNAPSHOT = 20_480
#: IMS values have exactly 3 decimals and clip at +/-5.000: counts of 0.001 are exact in int16.
IMS_SCALE = 0.001

#: The classic split of IMS test 2: healthy until here (inclusive).
TEST2_TRAIN_UNTIL = "2004-02-15 12:52:39"

FULL_NPZ_NAME = "ims_test2_int16.npz"


def full_test2_npz() -> Path | None:
    """The packed full test 2 if it is on this machine, else None."""
    candidates = []
    if os.environ.get("BEARING_EDGE_FULL_NPZ"):
        candidates.append(Path(os.environ["BEARING_EDGE_FULL_NPZ"]))
    candidates.append(REPO_ROOT.parent / "shared" / "data" / "ims" / "full" / FULL_NPZ_NAME)
    for path in candidates:
        if path.is_file():
            return path
    return None


FULL_NPZ_MISSING = (
    f"the packed full IMS test 2 ({FULL_NPZ_NAME}, 96 MB) is not on this machine: "
    f"looked in $BEARING_EDGE_FULL_NPZ and ../shared/data/ims/full/. It is not committed; "
    "CI has it beside the clone")
