"""The commissioning baseline a bundle carries for the device's physics diagnosis (``bearing-convert`` stores it,
``bearing-train report`` diagnoses against the same).

``bearing-convert MODEL_DIR --out BUNDLE --physics-baseline RECORDING...`` reads the healthy recording the
model was trained on (any form ``bearing-train ingest`` reads), takes its first ``--baseline-snapshots``
snapshots (default :data:`DEFAULT_SNAPSHOTS`) up to the model's ``train_until``, and stores their mean squared
envelope spectrum with the bearing and shaft speed (:mod:`edge_agent.diagnosis.bundle_section`). The bearing
is the model's own (``ingest --bearing``) unless ``--bearing`` / ``--shaft-rpm`` give it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from edge_agent.diagnosis import bundle_section
from edge_agent.diagnosis.physics import Baseline
from edge_agent.features.bearing import BearingGeometry
from edge_agent.features.condition import ConditionSettings
from edge_agent.features.spec import FeatureSpec
from firmware_io.errors import BearingEdgeError
from train.diagnose import iter_recording

#: The first snapshots of the healthy period: the machine as commissioned (on IMS test 2, 20 snapshots are
#: 3 h 10 min; docs/diagnosis.md reports the diagnosis against them).
DEFAULT_SNAPSHOTS = 20


class PhysicsBaselineError(BearingEdgeError, ValueError):
    """The baseline recording cannot be used for this model; the message says why and what to do."""


@dataclass(frozen=True)
class PhysicsBaseline:
    """What goes into the bundle: the manifest section and the spectrum file's bytes."""

    section: dict
    file_bytes: bytes

    def write(self, folder: Path) -> None:
        (folder / bundle_section.BASELINE_FILE).write_bytes(self.file_bytes)


def geometry(spec: FeatureSpec, bearing: BearingGeometry | None, shaft_hz: float | None
             ) -> tuple[BearingGeometry, float]:
    """The bearing and nominal shaft speed: given, else the model's own (its spec's condition settings)."""
    if bearing is not None and shaft_hz is not None:
        return bearing, shaft_hz
    settings = ConditionSettings.from_dict(spec.extra.get("condition"))
    if settings.bearing is None or settings.shaft_hz is None:
        raise PhysicsBaselineError("the model names no bearing (it was ingested without --bearing): give "
                                   "--bearing N,d,D,ANGLE --shaft-rpm RPM (or --bearing ims) with --physics-baseline")
    return settings.bearing, settings.shaft_hz


def build(sources: Sequence[str | Path], spec: FeatureSpec, train_until: np.datetime64, options=None,
          bearing: BearingGeometry | None = None, shaft_hz: float | None = None,
          snapshots: int = DEFAULT_SNAPSHOTS) -> PhysicsBaseline:
    """The baseline of the first ``snapshots`` snapshots of ``sources`` up to ``train_until`` (refused when the
    recording's rate, length or channels differ from the model's spec, or it has none in the healthy period)."""
    bearing, shaft_hz = geometry(spec, bearing, shaft_hz)
    if snapshots < 1:
        raise PhysicsBaselineError(f"--baseline-snapshots must be >= 1, got {snapshots}")
    kept, times = [], []
    for r in iter_recording(sources, options):
        if np.datetime64(r.snapshot.timestamp, "us") > np.datetime64(train_until, "us"):
            break
        values = r.snapshot.physical()
        where = r.snapshot.source
        if r.sample_rate_hz != spec.sample_rate_hz or values.shape != (spec.samples_per_snapshot, spec.n_channels):
            raise PhysicsBaselineError(
                f"{where}: {values.shape[0]} samples x {values.shape[1]} channels at {r.sample_rate_hz:g} Hz, the "
                f"model's snapshots are {spec.samples_per_snapshot} x {spec.n_channels} at {spec.sample_rate_hz} Hz: "
                "give the recording the model was trained on (and --sample-rate/--snapshot-length as for ingest)")
        kept.append(values)
        times.append(r.snapshot.timestamp)
        if len(kept) >= snapshots:
            break
    if not kept:
        raise PhysicsBaselineError(f"no snapshot of {', '.join(map(str, sources))} is in the model's healthy period "
                                   f"(up to {str(train_until).replace('T', ' ')})")
    baseline = Baseline.from_snapshots(kept, float(spec.sample_rate_hz))
    section, data = bundle_section.section(bearing, shaft_hz, baseline, _text(times[0]), _text(times[-1]))
    return PhysicsBaseline(section, data)


def _text(ts) -> str:
    return str(np.datetime64(ts, "s")).replace("T", " ")
