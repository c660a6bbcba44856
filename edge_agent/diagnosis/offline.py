"""The physics diagnosis of a score table's alarming snapshots, offline: ``bearing-agent score --recording`` and
``bearing-train report --recording`` read the recording the table was computed from and name the failing part
of each snapshot in alarm, with the device's own code (:func:`edge_agent.diagnosis.physics.diagnose`) and the
baseline the bundle carries (or, for a model directory, the one ``bearing-convert`` would store).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

from edge_agent.diagnosis.bundle_section import BundlePhysics
from edge_agent.diagnosis.physics import PhysicsDiagnosis, diagnose
from edge_agent.scoring.scores import ScoreTable


@dataclass(frozen=True)
class AlarmDiagnosis:
    """One snapshot in alarm: its time, its level, the physics diagnosis and the samples it was read from."""

    time: np.datetime64
    level: str
    result: PhysicsDiagnosis
    values: np.ndarray

    def line(self) -> str:
        when = str(np.datetime64(self.time, "s")).replace("T", " ")
        return (f"{when} [{self.level}]  {self.result.part:<15} {self.result.confidence:4.2f}  "
                f"{self.result.summary()}")


def alarming(scores: ScoreTable) -> dict[np.datetime64, str]:
    """The snapshots a score table has in alarm, to the second, with their level (``alarm`` when it has none)."""
    levels = scores.level if scores.level is not None else np.full(len(scores), "alarm")
    return {np.datetime64(t, "s"): str(level) for t, level, on in zip(scores.timestamps, levels, scores.alarm) if on}


def diagnose_alarms(physics: BundlePhysics, sample_rate_hz: float, channel_names: Sequence[str],
                    alarms: dict[np.datetime64, str], snapshots: Iterable[tuple[np.datetime64, np.ndarray]]
                    ) -> Iterator[AlarmDiagnosis]:
    """Each of ``snapshots`` (time, physical values) whose time to the second is among ``alarms``, diagnosed
    against the bundle's commissioning baseline (a ValueError when a snapshot does not fit it)."""
    for when, values in snapshots:
        key = np.datetime64(when, "s")
        if key not in alarms:
            continue
        result = diagnose(values, sample_rate_hz, physics.bearing, physics.shaft_hz, physics.baseline, channel_names)
        yield AlarmDiagnosis(key, alarms[key], result, values)


def summary(found: list[AlarmDiagnosis], n_alarms: int) -> list[str]:
    """A few lines: how many alarming snapshots were read and named what, and the first one's evidence."""
    if not found:
        return [f"physics diagnosis: none of the {n_alarms} snapshots in alarm is in the recording (times are "
                "matched to the second)"]
    counts = Counter(d.result.part for d in found)
    channels = Counter(d.result.channel for d in found if d.result.part != "none")
    lines = [f"physics diagnosis of {len(found)} of the {n_alarms} snapshots in alarm: "
             + ", ".join(f"{part.replace('_', ' ')} {n}" for part, n in counts.most_common())
             + (f" (channel most named: {channels.most_common(1)[0][0]})" if channels else ""),
             f"  at the first: {found[0].line()}"]
    return lines
