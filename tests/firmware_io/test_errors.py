"""Every error the kit raises on purpose derives from BearingEdgeError and keeps its built-in base."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from firmware_io.errors import BearingEdgeError
from tests.conftest import import_or_skip_desktop

#: (module, class, the built-in base callers catch today)
ERRORS = [
    ("edge_agent.config", "ConfigError", ValueError),
    ("edge_agent.scoring.runtime", "RuntimeUnavailable", RuntimeError),
    ("edge_agent.features.table", "FeatureTableError", ValueError),
    ("edge_agent.scoring.bundle", "BundleError", ValueError),
    ("edge_agent.export", "ExportError", ValueError),
    ("edge_agent.journal", "JournalError", RuntimeError),
    ("edge_agent.service", "AgentError", RuntimeError),
    ("edge_agent.systemd_unit", "InstallError", Exception),
    ("train.model_dir", "ModelDirError", ValueError),
    ("convert.pipeline", "ConversionError", RuntimeError),
    ("train.fit", "FitError", ValueError),
    ("firmware_io.protocol.frames", "PayloadError", ValueError),
    ("firmware_io.recordings.reader", "RecordingError", ValueError),
    ("firmware_io.simulator.replay", "ReplayError", ValueError),
    ("benchmarks.cli", "BenchError", Exception),
]

#: A class statement naming an error.
CLASS_LINE = re.compile(r"(?m)^class (\w+(?:Error|Unavailable))\(")


@pytest.mark.parametrize("module, name, builtin", ERRORS, ids=[e[1] for e in ERRORS])
def test_error_derives_from_the_base_and_keeps_its_builtin_base(module, name, builtin):
    cls = getattr(import_or_skip_desktop(module), name)
    assert issubclass(cls, BearingEdgeError) and issubclass(cls, builtin)
    err = cls("x.csv: line 2: bad")
    assert str(err) == "x.csv: line 2: bad" and err.exit_code in (1, 2)


def test_every_error_class_in_the_packages_derives_from_the_base():
    """A new ``class ...Error`` anywhere in the packages must derive from the base too."""
    root = Path(__file__).resolve().parents[2]
    found = []
    for package in ("firmware_io", "edge_agent", "train", "convert", "benchmarks"):
        for path in sorted((root / package).rglob("*.py")):
            module = ".".join(path.relative_to(root).with_suffix("").parts)
            found += [(module, name) for name in CLASS_LINE.findall(path.read_text(encoding="utf-8"))]
    assert {name for _, name, _ in ERRORS} <= {name for _, name in found}
    outside = [f"{m}.{n}" for m, n in found
               if n != "BearingEdgeError" and not issubclass(getattr(import_or_skip_desktop(m), n), BearingEdgeError)]
    assert outside == []
