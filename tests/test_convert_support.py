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

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from edge_agent.feature_table import read_feature_table  # noqa: E402
from train import datasets  # noqa: E402

_ROOT = Path(tempfile.mkdtemp(prefix="bearing-convert-tests-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)


def feature_table_path() -> Path:
    """IMS test 2 features (984 snapshots); the reference CSV has identical values."""
    return datasets.FEATURES_TEST2 if datasets.FEATURES_TEST2.is_file() else \
        datasets.REFERENCE_DIR / "DatasetBearingTest_2.csv"


def _train_model_dir(out: Path, timesteps: int, epochs: int) -> Path:
    """A real model directory in the ``bearing-train fit`` format, trained briefly."""
    import keras
    from sklearn.preprocessing import MinMaxScaler

    from edge_agent.detection import debounce, make_windows, reconstruction_error
    from edge_agent.features import FeatureSpec
    from edge_agent.scaler import ScalerParams
    from train.model import build_autoencoder

    out.mkdir(parents=True)
    table = read_feature_table(feature_table_path())
    healthy = table.timestamps <= np.datetime64(datasets.TEST2_TRAIN_UNTIL)
    scaler = ScalerParams.from_fitted(MinMaxScaler().fit(table.values[healthy]), table.channel_names)
    scaler.save(out / "scaler.json")
    windows = make_windows(scaler.transform(table.values).astype(np.float32), timesteps)
    train = healthy[timesteps - 1:]
    keras.utils.set_random_seed(0)
    model = build_autoencoder(timesteps, len(table.channel_names))
    model.compile("adam", "mae")
    model.fit(windows[train], windows[train], epochs=epochs, batch_size=10, verbose=0)
    model.save(out / "model.keras")
    error = reconstruction_error(windows, model.predict(windows, verbose=0))
    threshold = float(np.quantile(error[train], 0.99))
    k = 3
    (out / "threshold.json").write_text(json.dumps(
        {"value": threshold, "rule": "quantile", "params": {"q": 0.99}, "debounce": k}))
    over = error > threshold
    alarm = debounce(over, k)
    stamps = table.timestamp_strings()[timesteps - 1:]
    lines = ["timestamp,error,over_threshold,alarm,split"] + [
        f"{s},{float(e)!r},{int(o)},{int(a)},{'train' if t else 'test'}"
        for s, e, o, a, t in zip(stamps, error, over, alarm, train)]
    (out / "scores.csv").write_text("\n".join(lines) + "\n")
    spec = FeatureSpec(tuple(table.channel_names), timesteps=timesteps)
    (out / "metadata.json").write_text(json.dumps({
        "timesteps": timesteps, "feature_spec": spec.to_dict(), "data_sha256": "test",
        "train_until": datasets.TEST2_TRAIN_UNTIL, "seed": 0, "versions": {"keras": keras.__version__}}))
    return out


def model_dir(timesteps: int = 1, epochs: int = 40) -> Path:
    return _model_dir(timesteps, epochs)


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
    from edge_agent.bundle import sha256_file

    manifest = json.loads((bundle / "manifest.json").read_text())
    if mutate_manifest:
        mutate_manifest(manifest)
    manifest["files"] = {name: sha256_file(bundle / name) for name in manifest["files"] if (bundle / name).exists()}
    (bundle / "manifest.json").write_text(json.dumps(manifest, allow_nan=True))
