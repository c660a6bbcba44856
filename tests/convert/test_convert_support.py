"""Shared, cached builders for the convert / bundle / scorer / tflite-runtime tests.

Training and conversion take seconds, so each is done once per test session
(``functools.cache``) and shared by every test module that needs it. No tests here.
"""
from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from firmware_io.recordings import ims as datasets  # noqa: E402

_ROOT = Path(tempfile.mkdtemp(prefix="bearing-convert-tests-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)


def feature_table_path() -> Path:
    """IMS test 2 features (984 snapshots); the reference CSV has identical values."""
    return datasets.FEATURES_TEST2 if datasets.FEATURES_TEST2.is_file() else \
        datasets.REFERENCE_DIR / "DatasetBearingTest_2.csv"


def _train_model_dir(out: Path, timesteps: int, epochs: int) -> Path:
    """A real model directory from ``bearing-train fit``'s Python API, with few epochs."""
    from train.fit import fit_model_dir

    fit_model_dir(feature_table_path(), out, datasets.TEST2_TRAIN_UNTIL, timesteps=timesteps, seed=0,
                  epochs=epochs, make_plots=False)
    return out


#: Few epochs keep the session short; T=3 only exercises windows and restart state.
EPOCHS = {1: 30, 3: 10}


def model_dir(timesteps: int = 1) -> Path:
    return _model_dir(timesteps, EPOCHS.get(timesteps, 10))


@functools.cache
def _model_dir(timesteps: int, epochs: int) -> Path:
    return _train_model_dir(_ROOT / f"model_T{timesteps}_e{epochs}", timesteps, epochs)


@functools.cache
def tflite_python() -> Path | str:
    """The tflite-runtime env's python, built on first use; a str is the reason it is unavailable."""
    from convert import tflite_env

    py = tflite_env.tflite_python()
    if py is not None:
        return py
    try:
        return tflite_env.create_venv()
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        return (f"cannot build the tflite-runtime env ({exc}); pip could not reach the registry or "
                "python3.11 is missing")


def converted(timesteps: int = 1, variants: tuple[str, ...] = ("float32", "float16", "dynamic", "int8")):
    """The bundle of the session's model (after the tflite env exists, so both runtimes are gated)."""
    return _converted(timesteps, tuple(variants))


@functools.cache
def _converted(timesteps: int, variants: tuple[str, ...]):
    from convert.pipeline import convert_model_dir

    tflite_python()
    return convert_model_dir(model_dir(timesteps), _ROOT / f"bundle_T{timesteps}_{'-'.join(variants)}",
                             variants=variants, data=feature_table_path())


def copy_bundle(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def resign(bundle: Path, mutate_manifest=None) -> None:
    """Recompute the manifest checksums after a deliberate edit (to reach the checks after them)."""
    from edge_agent.scoring.bundle import sha256_file

    manifest = json.loads((bundle / "manifest.json").read_text())
    if mutate_manifest:
        mutate_manifest(manifest)
    manifest["files"] = {name: sha256_file(bundle / name) for name in manifest["files"] if (bundle / name).exists()}
    (bundle / "manifest.json").write_text(json.dumps(manifest, allow_nan=True))
