"""Genuine bundles that decide differently: the real bundle re-made through the manifest code (``resign``:
checksums and content id recomputed), so that it verifies and reproduces its reference windows, for the deploy
tests. No tests here."""
from __future__ import annotations

import shutil
from pathlib import Path


def remade(src: Path, dst: Path, resign, change) -> Path:
    """A copy of bundle ``src`` with its manifest changed by ``change``, re-hashed so that it verifies."""
    shutil.copytree(src, dst)
    resign(dst, change)
    return dst


def alarms_on_healthy_data(manifest: dict) -> None:
    """The commissioning baseline at a tenth (every feature +20 dB over it) and a per-feature immediate limit far
    under any error (every snapshot novel): Danger on a healthy machine, while the reference windows, which
    check the model's errors against the threshold, still pass."""
    threshold = manifest["threshold"]
    baseline = threshold["baseline"]
    baseline["median"] = [v / 10 for v in baseline["median"]]
    threshold["immediate"] = {"limits": [1e-9] * len(baseline["median"])}


def threshold_5_percent_higher(manifest: dict) -> None:
    """Another bundle id, the same decisions on healthy data."""
    manifest["threshold"]["value"] *= 1.05
    for info in manifest["variants"].values():
        if "threshold" in info:
            info["threshold"] *= 1.05
