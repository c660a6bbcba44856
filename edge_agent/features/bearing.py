"""Rolling-bearing geometry and the four defect frequencies it implies at a shaft speed.

A defect on a race or a rolling element is struck once per passing element, so
the vibration's envelope repeats at a frequency fixed by the geometry and the
shaft speed. Those four frequencies are where :mod:`edge_agent.features.condition`
looks in the envelope spectrum, and their names are what the agent reports
("bearing 1, outer race"). Textbook kinematics (no slip), outer race fixed:

- FTF  (cage)           = f_r / 2 * (1 - d/D cos a)
- BPFO (outer race)     = n f_r / 2 * (1 - d/D cos a)
- BPFI (inner race)     = n f_r / 2 * (1 + d/D cos a)
- BSF  (rolling element) = D / (2 d) * f_r * (1 - (d/D cos a)^2)

with n rolling elements (per row), d their diameter, D the pitch diameter and
a the contact angle. Real lines sit a few per cent lower (slip, speed error):
on IMS test 2 the outer-race line is 2.5 % below the nominal BPFO, which is why
the features look within a tolerance band, not at one bin.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

#: Defect frequency -> the part of the bearing it points at, in the words the agent prints.
DEFECT_PARTS: dict[str, str] = {
    "bpfo": "outer race",
    "bpfi": "inner race",
    "bsf": "rolling element",
    "ftf": "cage",
}


@dataclass(frozen=True)
class BearingGeometry:
    """The dimensions that fix a bearing's defect frequencies (any one length unit for both diameters).

    >>> IMS_BEARING.defect_frequencies(IMS_SHAFT_HZ)["bpfo"]  # doctest: +ELLIPSIS
    236.4...
    """

    n_elements: int
    element_diameter: float
    pitch_diameter: float
    contact_angle_deg: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        problems = []
        if int(self.n_elements) != self.n_elements or self.n_elements < 3:
            problems.append(f"n_elements must be a whole number >= 3, got {self.n_elements!r}")
        if not self.element_diameter > 0:
            problems.append(f"element_diameter must be > 0, got {self.element_diameter!r}")
        if not self.pitch_diameter > self.element_diameter:
            problems.append(f"pitch_diameter ({self.pitch_diameter!r}) must exceed "
                            f"element_diameter ({self.element_diameter!r})")
        if not 0.0 <= self.contact_angle_deg < 90.0:
            problems.append(f"contact_angle_deg must be in [0, 90), got {self.contact_angle_deg!r}")
        if problems:
            raise ValueError("invalid bearing geometry: " + "; ".join(problems))

    def defect_frequencies(self, shaft_hz: float) -> dict[str, float]:
        """The four defect frequencies in Hz at ``shaft_hz`` (revolutions per second), keyed as DEFECT_PARTS."""
        if not shaft_hz > 0:
            raise ValueError(f"shaft_hz must be > 0, got {shaft_hz!r}")
        ratio = self.element_diameter / self.pitch_diameter * math.cos(math.radians(self.contact_angle_deg))
        n = self.n_elements
        return {
            "bpfo": n * shaft_hz / 2 * (1 - ratio),
            "bpfi": n * shaft_hz / 2 * (1 + ratio),
            "bsf": self.pitch_diameter / (2 * self.element_diameter) * shaft_hz * (1 - ratio ** 2),
            "ftf": shaft_hz / 2 * (1 - ratio),
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BearingGeometry":
        known = {"n_elements", "element_diameter", "pitch_diameter", "contact_angle_deg", "name"}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"bearing geometry has unknown keys {sorted(unknown)}; known: {sorted(known)}")
        missing = {"n_elements", "element_diameter", "pitch_diameter"} - set(d)
        if missing:
            raise ValueError(f"bearing geometry is missing {sorted(missing)}")
        return cls(**d)


#: The IMS rig's bearings. From the dataset's readme (Readme_Document_for_IMS_Bearing_Data.pdf,
#: checked): Rexnord ZA-2115, double row, 2000 rpm, 6000 lbs radial load; the readme gives no
#: dimensions. Rollers per row, roller and pitch diameter (inches) and contact angle: the paper the
#: readme cites as its reference, Qiu, Lee, Lin and Yu (2006), "Wavelet filter-based weak signature
#: detection method and its application on rolling element bearing prognostics", J. Sound and
#: Vibration 289, 1066-1090 (the readme lists three of the authors and says "roller bearing"); the
#: paper itself was not available here, the same four figures are quoted by other IMS analyses.
#: The data agrees: test 2's outer-race line sits at 230.5 Hz, 2.5 % below the 236.4 Hz these
#: give (slip puts real lines a little low); 15 or 17 rollers would compute 221.6 or 251.2 Hz,
#: leaving the line 4 % above or 8 % below. Both rows see the same frequencies, so n = 16.
IMS_BEARING = BearingGeometry(n_elements=16, element_diameter=0.331, pitch_diameter=2.815,
                              contact_angle_deg=15.17, name="Rexnord ZA-2115 (inches)")
#: 2000 rpm, kept constant by the rig's AC motor (readme).
IMS_SHAFT_HZ = 2000.0 / 60.0
