"""What a bundle carries for the physics diagnosis: the bearing, the shaft speed and the commissioning baseline.

``bearing-convert ... --physics-baseline RECORDING`` (:mod:`train.physics_baseline`, :mod:`convert.pipeline`) writes a
``physics`` section into the manifest and the baseline's squared envelope spectrum as a ``.npy`` file
listed (and checksummed) in ``files``::

    "physics": {"bearing": {"n_elements": 16, ...}, "shaft_hz": 33.33,
                "baseline": {"file": "physics_baseline.npy", "sample_rate_hz": 20000,
                             "samples_per_snapshot": 20480, "n_snapshots": 20, "bins": 1170,
                             "first": "2004-02-12 10:32:39", "last": "2004-02-12 13:42:39"}}

The section is optional and the schema stays 2: an agent from before it verifies the extra file like any
other and ignores the section; a bundle without it loads here as before and simply gets no physics
diagnosis (:func:`missing_reason` says why, in words the page and ``status`` show).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_agent.diagnosis.physics import Baseline, spectrum_extent_hz
from edge_agent.features.bearing import BearingGeometry
from edge_agent.features.condition import ConditionSettings
from edge_agent.features.spec import FeatureSpec
from firmware_io.errors import BearingEdgeError

SECTION = "physics"
BASELINE_FILE = "physics_baseline.npy"
#: A stored spectrum larger than this many bins x channels is refused (a bundle is read whole into memory).
MAX_VALUES = 1 << 20


class PhysicsSectionError(BearingEdgeError, ValueError):
    """The manifest's ``physics`` section or its baseline file is malformed; the message names the field."""


@dataclass(frozen=True)
class BundlePhysics:
    """What the device needs to name a failing part: geometry, nominal shaft speed, the baseline's spectrum."""

    bearing: BearingGeometry
    shaft_hz: float
    baseline: Baseline
    first: str | None = None
    last: str | None = None


def section(bearing: BearingGeometry, shaft_hz: float, baseline: Baseline, first: str | None,
            last: str | None) -> tuple[dict[str, Any], bytes]:
    """The manifest section and the ``.npy`` file's bytes for ``baseline`` (what bearing-convert writes)."""
    power = baseline.truncated(spectrum_extent_hz(bearing, shaft_hz))
    buffer = io.BytesIO()
    np.save(buffer, power, allow_pickle=False)
    return ({"bearing": bearing.to_dict(), "shaft_hz": float(shaft_hz),
             "baseline": {"file": BASELINE_FILE, "sample_rate_hz": baseline.sample_rate_hz,
                          "samples_per_snapshot": baseline.samples_per_snapshot, "n_snapshots": baseline.n_snapshots,
                          "bins": int(power.shape[0]), "first": first, "last": last}},
            buffer.getvalue())


def read(manifest: dict, files: dict[str, bytes], spec: FeatureSpec) -> BundlePhysics | None:
    """The manifest's ``physics`` section with its baseline (``files``: the verified bytes by name), None
    without one; :class:`PhysicsSectionError` when it is malformed or disagrees with the feature spec."""
    d = manifest.get(SECTION)
    if d is None:
        return None
    if not isinstance(d, dict) or not isinstance(d.get("baseline"), dict):
        raise PhysicsSectionError(f"'{SECTION}' must be an object with bearing, shaft_hz and baseline")
    try:
        bearing = BearingGeometry.from_dict(d.get("bearing") if isinstance(d.get("bearing"), dict) else {})
    except (TypeError, ValueError) as exc:
        raise PhysicsSectionError(f"{SECTION}.bearing: {exc}") from None
    shaft_hz = d.get("shaft_hz")
    if isinstance(shaft_hz, bool) or not isinstance(shaft_hz, (int, float)) or not 0 < shaft_hz < 10_000:
        raise PhysicsSectionError(f"{SECTION}.shaft_hz must be a speed in Hz (0-10000), got {shaft_hz!r}")
    b = d["baseline"]
    name = b.get("file")
    if name not in files:
        raise PhysicsSectionError(f"{SECTION}.baseline.file {name!r} is not among the bundle's checksummed files")
    rate, length, count = b.get("sample_rate_hz"), b.get("samples_per_snapshot"), b.get("n_snapshots")
    if rate != spec.sample_rate_hz or length != spec.samples_per_snapshot:
        raise PhysicsSectionError(f"{SECTION}.baseline is of {length} samples at {rate} Hz, the feature spec of "
                                  f"{spec.samples_per_snapshot} at {spec.sample_rate_hz} Hz: reconvert the bundle")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise PhysicsSectionError(f"{SECTION}.baseline.n_snapshots must be a count >= 1, got {count!r}")
    try:
        power = np.load(io.BytesIO(files[name]), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise PhysicsSectionError(f"{name}: not a numpy array file ({exc})") from None
    if power.ndim != 2 or power.shape[1] != spec.n_channels or power.size > MAX_VALUES \
            or not np.issubdtype(power.dtype, np.floating):
        raise PhysicsSectionError(f"{name}: expected a float array (bins, {spec.n_channels} channels), got "
                                  f"{power.dtype} {power.shape}")
    if not (np.isfinite(power).all() and (power >= 0).all()):
        raise PhysicsSectionError(f"{name}: the baseline spectrum must be finite powers >= 0")
    try:
        baseline = Baseline.from_truncated(power, float(rate), int(length), count)
    except ValueError as exc:
        raise PhysicsSectionError(f"{name}: {exc}") from None
    if baseline.freqs[power.shape[0] - 1] < spectrum_extent_hz(bearing, float(shaft_hz)) - 2 * (baseline.freqs[1]):
        raise PhysicsSectionError(f"{name}: the stored spectrum ends at {baseline.freqs[power.shape[0] - 1]:.0f} Hz, "
                                  f"below the {spectrum_extent_hz(bearing, float(shaft_hz)):.0f} Hz the diagnosis reads")
    text = {k: (b.get(k) if isinstance(b.get(k), str) else None) for k in ("first", "last")}
    return BundlePhysics(bearing, float(shaft_hz), baseline, text["first"], text["last"])


def missing_reason(spec: FeatureSpec) -> str:
    """Why a bundle without a ``physics`` section gets no physics diagnosis, and what to do."""
    try:
        has_bearing = ConditionSettings.from_dict(spec.extra.get("condition")).bearing is not None
    except (TypeError, ValueError):
        has_bearing = False
    fix = ("reconvert it with bearing-convert MODEL_DIR --out BUNDLE --physics-baseline RECORDING "
           "(the healthy recording the model was trained on)")
    if has_bearing:
        return ("no physics diagnosis: this bundle carries no commissioning envelope spectrum (converted before "
                f"it was stored, or without --physics-baseline); {fix}")
    return ("no physics diagnosis: this bundle carries neither the bearing geometry nor a commissioning envelope "
            f"spectrum; {fix} --bearing N,d,D,ANGLE --shaft-rpm RPM")

