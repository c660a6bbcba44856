"""The package rules of docs/ARCHITECTURE.md, checked on the source: who may import whom, and the module map.

Static (every import statement of every module, also those inside functions), so a forbidden import
on a code path no other test runs is still caught. ``tests/e2e/test_agent_e2e.py`` checks the same rule
at run time, in the modules a scoring agent really loaded.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("firmware_io", "edge_agent", "train", "convert", "benchmarks", "demo")

#: package -> top-level names it must never import (the Pi installs only the [edge] extra).
DESKTOP_ONLY = {"tensorflow", "keras", "sklearn", "pandas", "scipy", "matplotlib", "tqdm", "rich"}
FORBIDDEN = {
    "firmware_io": DESKTOP_ONLY | {"edge_agent", "train", "convert", "benchmarks", "demo", "tests"},
    "edge_agent": DESKTOP_ONLY | {"train", "convert", "benchmarks", "demo", "tests"},
    "train": {"convert", "benchmarks", "demo", "tests"},
    "convert": {"benchmarks", "demo", "tests"},
}


def modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py"))


def imported_top_levels(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_runs_against_the_arrows(package):
    offenders = {str(p.relative_to(ROOT)): sorted(imported_top_levels(p) & FORBIDDEN[package])
                 for p in modules(package)}
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, f"{package} may not import these (docs/ARCHITECTURE.md): {offenders}"


def test_the_checker_sees_imports_inside_functions(tmp_path):
    """The rule above would pass vacuously if the parser missed lazy imports: it does not."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from tensorflow import keras\n    import sklearn.svm\n")
    assert imported_top_levels(probe) == {"tensorflow", "sklearn"}


def test_architecture_module_map_lists_every_module():
    """The module map in docs/ARCHITECTURE.md names every module with logic, and none that is gone."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^- `([\w/]+\.py)`", text, flags=re.M))
    present = {p.relative_to(ROOT).as_posix() for pkg in PACKAGES for p in modules(pkg)
               if p.name != "__init__.py" or p.stat().st_size > 200}
    assert not present - listed, f"modules missing from the module map: {sorted(present - listed)}"
    assert not listed - present, f"the module map names modules that do not exist: {sorted(listed - present)}"
