"""Is the machine running, and is the sensor sound? Decided for each snapshot before any bearing judgement.

A stopped pump, a sensor that fell off or a clipping amplifier look nothing like the healthy
machine, so the autoencoder calls them novel; none of them is a bearing defect. Each snapshot is
classified first, and only a *running* one is judged for the bearing alarm:

- ``sensor_fault``: flat line (a channel's samples all equal, or its level exactly 0), dropout (one
  channel below the stopped floor while another runs), clipping (samples at the full-scale code),
  or a DC offset that moved by more than the channel's healthy level since commissioning;
- ``stopped``: every channel's overall level (mean |x| or RMS) is below the floor,
  ``stopped_db`` under its commissioning level (default -20 dB: a tenth of the healthy level;
  a stopped machine reads about 1 %, a machine idling under light load a third or more);
- ``starting``: within ``settle_s`` after the last stopped snapshot (default 30 minutes: a
  machine's bearings and casing reach a steady temperature and alignment some tens of minutes
  after a start, and its vibration with them); measured on the snapshots' own timestamps, so the
  live agent and offline scoring agree;
- ``running``: everything else.

The level checks read the feature vector (so a feature table scored offline gets the same states);
the sample checks (flat, clipping, DC offset) need the raw samples and run on the live stream only.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

RUNNING, STOPPED, STARTING, SENSOR_FAULT = "running", "stopped", "starting", "sensor_fault"
MACHINE_STATES = (RUNNING, STOPPED, STARTING, SENSOR_FAULT)


@dataclass(frozen=True)
class MachineRules:
    """How the states are told apart (``[machine]`` in agent.toml overrides them on the device)."""

    stopped_db: float = -20.0
    settle_s: float = 1800.0
    #: a channel clips when at least this fraction of its samples sit at the full-scale code
    clip_fraction: float = 0.001
    #: the full-scale code in counts; None: the wire's int16 limits
    full_scale_counts: int | None = None
    #: a DC offset that moved by more than this many times the channel's healthy level is a sensor fault
    dc_jump_levels: float = 1.0

    def __post_init__(self) -> None:
        checks = {"stopped_db": -80 <= self.stopped_db <= -1, "settle_s": 0 <= self.settle_s <= 7 * 86400,
                  "clip_fraction": 0 < self.clip_fraction <= 1, "dc_jump_levels": 0 < self.dc_jump_levels <= 1000,
                  "full_scale_counts": self.full_scale_counts is None
                  or (isinstance(self.full_scale_counts, int) and 1 <= self.full_scale_counts <= 32767)}
        bad = [f"{k} = {getattr(self, k)!r}" for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"machine: {', '.join(bad)} out of range (stopped_db -80..-1 dB, settle_s 0..604800, "
                             "clip_fraction (0, 1], dc_jump_levels (0, 1000], full_scale_counts 1..32767)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "MachineRules":
        known = {f.name for f in fields(cls)}
        d = dict(d or {})
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"machine: unknown keys {unknown}; known: {sorted(known)}")
        return cls(**d)


@dataclass(frozen=True)
class StateVerdict:
    state: str
    #: why, in words, for anything but running ("all channels 38 dB under their commissioning level")
    reason: str | None = None


class MachineState:
    """Classifies snapshots; remembers the last stop (for ``starting``) and the commissioning DC offsets."""

    def __init__(self, channel_names: tuple[str, ...] | list[str], healthy_level: np.ndarray | None,
                 rules: MachineRules = MachineRules()) -> None:
        self.channel_names = tuple(channel_names)
        self.rules = rules
        self.set_healthy_level(healthy_level)
        self.last_stop: float | None = None
        #: per channel, the DC offset (physical units) of the first running snapshots; a jump from it is a fault
        self.dc_reference: np.ndarray | None = None

    def set_healthy_level(self, healthy_level: np.ndarray | None) -> None:
        """The per-channel overall level of the healthy machine (a baseline's), and the stopped floor under it."""
        self.healthy_level = None if healthy_level is None else np.asarray(healthy_level, dtype=np.float64)
        #: per channel, the overall level below which it counts as stopped (None: no floor known)
        self.floor = None if self.healthy_level is None else self.healthy_level * 10 ** (self.rules.stopped_db / 20)

    def classify(self, time_s: float | None, level: np.ndarray | None, samples: np.ndarray | None = None,
                 scale: float = 1.0) -> StateVerdict:
        """One snapshot: its time (unix seconds), its per-channel overall level (or None), its samples."""
        verdict = self._sensor(level, samples, scale) or self._machine(level)
        if verdict is not None and verdict.state == STOPPED:
            self.last_stop = time_s
            return verdict
        if verdict is not None:
            return verdict
        if time_s is not None and self.last_stop is not None and 0 <= time_s - self.last_stop <= self.rules.settle_s:
            return StateVerdict(STARTING, f"started {time_s - self.last_stop:.0f} s after a stop; judged again "
                                          f"after {self.rules.settle_s:g} s")
        return StateVerdict(RUNNING)

    def _sensor(self, level: np.ndarray | None, samples: np.ndarray | None, scale: float) -> StateVerdict | None:
        names = self.channel_names
        if level is not None and (flat := [n for n, v in zip(names, level) if not v > 0]):
            return StateVerdict(SENSOR_FAULT, f"flat line on {', '.join(flat)}: no signal at all")
        if samples is not None and len(samples):
            # Three passes over the samples (max, min, and the sum for the DC offset), not six: whether any sample
            # sits at full scale follows from the max and min, so the clipped fraction is counted only then.
            x = np.asarray(samples)
            top, bottom = x.max(axis=0), x.min(axis=0)
            flat = np.flatnonzero(top == bottom)
            if len(flat):
                return StateVerdict(SENSOR_FAULT, f"flat line on {', '.join(names[i] for i in flat)}: every sample "
                                                  f"is {x[0, flat[0]]}")
            if np.issubdtype(x.dtype, np.integer):
                hi = self.rules.full_scale_counts or 32767
                lo = -(self.rules.full_scale_counts or 32768)
                touching = np.flatnonzero((top >= hi) | (bottom <= lo))
                at = np.zeros(x.shape[1])
                if len(touching):
                    at[touching] = ((x[:, touching] >= hi) | (x[:, touching] <= lo)).mean(axis=0)
                clipped = np.flatnonzero(at >= self.rules.clip_fraction)
                if len(clipped):
                    i = clipped[0]
                    return StateVerdict(SENSOR_FAULT, f"clipping on {', '.join(names[j] for j in clipped)}: "
                                                      f"{at[i]:.1%} of the samples at the full-scale code "
                                                      f"(+-{hi}); lower the gain or use a larger range")
            if self.healthy_level is not None:
                dc = x.mean(axis=0, dtype=np.float64) * scale
                if self.dc_reference is None:
                    self.dc_reference = dc
                moved = np.abs(dc - self.dc_reference) > self.rules.dc_jump_levels * self.healthy_level
                if moved.any():
                    i = int(np.argmax(moved))
                    return StateVerdict(SENSOR_FAULT, f"DC offset on {', '.join(names[j] for j in np.flatnonzero(moved))} "
                                                      f"moved by {dc[i] - self.dc_reference[i]:+.4g} since commissioning "
                                                      f"(more than {self.rules.dc_jump_levels:g} x its healthy level): "
                                                      "check the sensor's bias and cable, or re-baseline after a sensor change")
        return None

    def _machine(self, level: np.ndarray | None) -> StateVerdict | None:
        if level is None or self.floor is None:
            return None
        below = np.asarray(level) < self.floor
        if below.all():
            drop = float(np.max(20 * np.log10(np.asarray(level) / self.healthy_level)))
            return StateVerdict(STOPPED, f"every channel {-drop:.0f} dB or more under its commissioning level "
                                         f"(floor {self.rules.stopped_db:g} dB)")
        if below.any():
            low = [n for n, b in zip(self.channel_names, below) if b]
            return StateVerdict(SENSOR_FAULT, f"dropout on {', '.join(low)}: under {self.rules.stopped_db:g} dB of its "
                                              "commissioning level while the other channels run; check its mounting "
                                              "and cable")
        return None

    def state(self) -> dict[str, Any]:
        return {"last_stop": self.last_stop,
                "dc_reference": None if self.dc_reference is None else self.dc_reference.tolist()}

    def restore(self, state: dict[str, Any]) -> None:
        last = state.get("last_stop")
        self.last_stop = float(last) if isinstance(last, (int, float)) and np.isfinite(last) else None
        dc = state.get("dc_reference")
        if isinstance(dc, list) and len(dc) == len(self.channel_names):
            self.dc_reference = np.asarray(dc, dtype=np.float64)
