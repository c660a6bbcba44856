"""The PRONOSTIA (FEMTO-ST, IEEE PHM 2012) run-to-failure recordings: their facts and where they live.

Each ``acc_NNNNN.csv`` is one burst of 2,560 samples at 25.6 kHz (0.1 s) taken every 10 s:
no header, six comma-separated columns, hour, minute, second, microsecond, horizontal and
vertical acceleration in g. The archives are not committed (no licence stated): they are
looked up in ``$BEARING_EDGE_PRONOSTIA`` or ``../shared/data/pronostia/``. Cite: P. Nectoux et
al., "PRONOSTIA: An Experimental Platform for Bearings Accelerated Degradation Tests", IEEE
PHM 2012.
"""
from __future__ import annotations

import os
from pathlib import Path

from firmware_io.recordings.ims import REPO_ROOT
from firmware_io.recordings.sources import ReadOptions

PRONOSTIA_SAMPLE_RATE_HZ = 25_600
PRONOSTIA_SAMPLES_PER_BURST = 2_560
#: Seconds between bursts.
PRONOSTIA_BURST_INTERVAL_S = 10.0
PRONOSTIA_CHANNELS = ("horizontal", "vertical")
#: Shaft speed by operating condition (challenge description): 1 = 1800 rpm / 4000 N, 2 = 1650 rpm / 4200 N.
PRONOSTIA_SHAFT_RPM = {1: 1800.0, 2: 1650.0}
#: The bearing (challenge description): 13 rolling elements of 3.5 mm on a 25.6 mm pitch
#: diameter; no contact angle is given, 0 is taken (a deep-groove ball bearing under radial load).
PRONOSTIA_BEARING = "13,3.5,25.6,0"

#: How ``bearing-train ingest`` reads the acceleration files of an archive or folder.
PRONOSTIA_READ_OPTIONS = ReadOptions(sample_rate_hz=PRONOSTIA_SAMPLE_RATE_HZ,
                                     snapshot_length=PRONOSTIA_SAMPLES_PER_BURST,
                                     pattern="acc_*.csv", time_columns=("1", "2", "3", "4"))


def pronostia_archive(bearing: str) -> Path | None:
    """``Learning_set_Bearing<bearing>.tar.xz`` (e.g. ``"1_1"``) if it is on this machine, else None."""
    name = f"Learning_set_Bearing{bearing}.tar.xz"
    folders = [Path(os.environ["BEARING_EDGE_PRONOSTIA"])] if os.environ.get("BEARING_EDGE_PRONOSTIA") else []
    folders.append(REPO_ROOT.parent / "shared" / "data" / "pronostia")
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    return None


PRONOSTIA_MISSING = ("the PRONOSTIA archives (Learning_set_Bearing1_1.tar.xz, ...) are not on this machine: looked "
                     "in $BEARING_EDGE_PRONOSTIA and ../shared/data/pronostia/. They are not committed; CI has them")
