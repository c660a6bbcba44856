"""The second environment: tflite-runtime 2.14 with numpy < 2, for the runtime check of every conversion.

tflite-runtime cannot live beside numpy 2 (the desktop's TensorFlow needs it), so
conversion verifies each variant on it through a subprocess in a separate venv that
holds only ``tflite-runtime`` and ``numpy<2``. :func:`ensure_python` finds it
(``$BEARING_EDGE_TFLITE_PYTHON``, the user's cache, or a ``.venv-tflite`` beside the
sources made by earlier versions) or creates it once, with a progress message, in the
user's cache directory: ``$XDG_CACHE_HOME/bearing-edge/tflite-runtime-venv`` (default
``~/.cache``), so that a ``pip install``ed converter checks both runtimes too.

The subprocess runs this very ``edge_agent`` and ``firmware_io``, however they are
installed, through a folder of links to them on ``PYTHONPATH`` (never the whole
site-packages, which holds numpy 2), and gets absolute paths: it works from any
working directory.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import edge_agent
import firmware_io
from firmware_io.errors import BearingEdgeError
from firmware_io.recordings.ims import REPO_ROOT

PACKAGES = ("tflite-runtime==2.14.0", "numpy<2")
VENV_NAME = "tflite-runtime-venv"
LEGACY_VENV = REPO_ROOT / ".venv-tflite"  # made by earlier versions (and kept working)
SKIP_HINT = "pass --runtimes ai-edge-litert to convert without the tflite-runtime check, knowingly"


class TfliteEnvError(BearingEdgeError, RuntimeError):
    """The tflite-runtime environment could not be created; the message says what to do."""


def cache_venv() -> Path:
    """Where the environment is created: ``$XDG_CACHE_HOME`` (or ``~/.cache``) ``/bearing-edge/tflite-runtime-venv``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bearing-edge" / VENV_NAME


def tflite_python() -> Path | None:
    """The Python of an existing environment that has tflite-runtime, or None."""
    env = os.environ.get("BEARING_EDGE_TFLITE_PYTHON")
    candidates = [Path(env)] if env else []
    candidates += [cache_venv() / "bin" / "python", LEGACY_VENV / "bin" / "python"]
    for py in candidates:
        if py.is_file() and subprocess.run([str(py), "-c", "import tflite_runtime.interpreter"],
                                           capture_output=True).returncode == 0:
            return py
    return None


def ensure_python(progress: Callable[[str], None] | None = None) -> Path:
    """The tflite-runtime environment's Python, created in :func:`cache_venv` on first need."""
    py = tflite_python()
    if py is not None:
        return py
    venv = cache_venv()
    if progress is not None:
        progress(f"creating the tflite-runtime check environment in {venv} (once; pip downloads about 5 MB)")
    try:
        return create_venv(base_python(), venv)
    except (subprocess.CalledProcessError, OSError) as exc:
        raise TfliteEnvError(f"cannot create the tflite-runtime check environment in {venv} ({exc}); check that "
                             f"pip can reach the package index, or {SKIP_HINT}") from exc


def base_python() -> str:
    """A Python tflite-runtime 2.14 has wheels for (3.8 to 3.11): this one, else ``python3.11`` on PATH."""
    if sys.version_info[:2] <= (3, 11):
        return sys.executable
    found = shutil.which("python3.11")
    if found is None:
        raise TfliteEnvError(f"tflite-runtime 2.14 needs Python 3.11 or older and this is {sys.version.split()[0]} "
                             f"with no python3.11 on PATH: install python3.11, or {SKIP_HINT}")
    return found


def create_venv(python: str = "python3.11", venv: Path | None = None) -> Path:
    """Build (or reuse) the tflite-runtime venv at ``venv`` (default :func:`cache_venv`); raises
    CalledProcessError if pip fails. Built beside its final place and renamed into it, so that an interrupted
    build never leaves a half environment that looks finished."""
    venv = venv or cache_venv()
    py = venv / "bin" / "python"
    if py.is_file() and subprocess.run([str(py), "-c", "import tflite_runtime.interpreter"],
                                       capture_output=True).returncode == 0:
        return py
    venv.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{venv.name}.", dir=venv.parent))
    try:
        subprocess.run([python, "-m", "venv", str(building)], check=True)
        subprocess.run([str(building / "bin" / "python"), "-m", "pip", "install", "--quiet", *PACKAGES], check=True)
        shutil.rmtree(venv, ignore_errors=True)
        os.replace(building, venv)  # a venv's python finds its packages relative to itself: it can move
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return py


def score_in_tflite_env(py: Path, bundle: Path, variant: str, table: Path, out_csv: Path,
                        timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``bearing-agent score`` (the edge code path) on tflite-runtime in the second env, from any directory."""
    with tempfile.TemporaryDirectory(prefix="bearing-edge-path-") as links:
        for package in (edge_agent, firmware_io):  # just these two packages, wherever they are installed
            source = Path(package.__file__).resolve().parent
            os.symlink(source, Path(links) / source.name)
        env = {**os.environ, "PYTHONPATH": links}
        cmd = [str(py), "-m", "edge_agent.cli.score", "score", "--bundle", str(Path(bundle).resolve()),
               "--variant", variant, "--runtime", "tflite-runtime", str(Path(table).resolve()),
               "-o", str(Path(out_csv).resolve())]
        # cwd: python -m puts the working directory first on sys.path; the links folder holds nothing else
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=links)


if __name__ == "__main__":
    print(ensure_python(lambda message: print(message, file=sys.stderr)))
