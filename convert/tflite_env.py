"""The second environment: tflite-runtime 2.14 with numpy < 2, for the runtime check.

tflite-runtime cannot live beside numpy 2 (the desktop's TensorFlow needs it),
so conversion verifies each variant on it through a subprocess in a separate
venv (``.venv-tflite`` in the repo root, or ``$BEARING_EDGE_TFLITE_PYTHON``).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from firmware_io.recordings.ims import REPO_ROOT

VENV_DIR = REPO_ROOT / ".venv-tflite"
PACKAGES = ("tflite-runtime==2.14.0", "numpy<2")


def tflite_python() -> Path | None:
    """The Python of an environment that has tflite-runtime, or None."""
    env = os.environ.get("BEARING_EDGE_TFLITE_PYTHON")
    candidates = [Path(env)] if env else []
    candidates.append(VENV_DIR / "bin" / "python")
    for py in candidates:
        if py.is_file() and subprocess.run([str(py), "-c", "import tflite_runtime.interpreter"],
                                           capture_output=True).returncode == 0:
            return py
    return None


def create_venv(python: str = "python3.11", venv: Path = VENV_DIR) -> Path:
    """Build (or reuse) the tflite-runtime venv; raises CalledProcessError if pip fails."""
    py = venv / "bin" / "python"
    if not py.is_file():
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
    if subprocess.run([str(py), "-c", "import tflite_runtime.interpreter, edge_agent"],
                      capture_output=True).returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", *PACKAGES], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(REPO_ROOT)], check=True)
    return py


def score_in_tflite_env(py: Path, bundle: Path, variant: str, table: Path, out_csv: Path,
                        timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``bearing-agent score`` (the edge code path) on tflite-runtime in the second env."""
    cmd = [str(py), "-m", "edge_agent.cli.score", "score", "--bundle", str(bundle), "--variant", variant,
           "--runtime", "tflite-runtime", str(table), "-o", str(out_csv)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)


if __name__ == "__main__":
    print(create_venv(sys.argv[1] if len(sys.argv) > 1 else "python3.11"))
