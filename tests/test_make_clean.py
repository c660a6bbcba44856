"""``make clean`` removes what ``make demo`` and ``pip install .`` leave behind (issue 21 #34): the venv, the demo's
output (and ``make commission-demo``'s), setuptools' ``build/`` and the demo's tflite-runtime environment in the user's cache
(``convert.tflite_env``: ``$XDG_CACHE_HOME/bearing-edge``)."""
from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import require_executable

REPO = Path(__file__).resolve().parents[1]


def test_make_clean_removes_the_build_folder_and_the_demo_environment_in_the_cache(tmp_path):
    make = require_executable("make", "make")
    made = {name: tmp_path / name for name in ("venv", "demo-output", "commission-output", "build", "pytest-cache")}
    cache = tmp_path / "cache"
    demo_env = cache / "bearing-edge" / "tflite-runtime-venv"
    for folder in [*made.values(), demo_env]:
        folder.mkdir(parents=True)
        (folder / "file").write_text("x")
    (cache / "other-tool").mkdir()
    done = subprocess.run([make, "-C", str(REPO), "clean", f"VENV={made['venv']}", f"DEMO_OUT={made['demo-output']}",
                           f"COMMISSION_OUT={made['commission-output']}",
                           f"BUILD_DIR={made['build']}", f"PYTEST_CACHE={made['pytest-cache']}",
                           f"XDG_CACHE_HOME={cache}"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not any(p.exists() for p in made.values()) and not (cache / "bearing-edge").exists()
    assert (cache / "other-tool").is_dir()  # only ours
