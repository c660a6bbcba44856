"""The model directory: what ``bearing-train fit`` writes and ``bearing-convert`` reads.

One folder per trained model::

    model.keras       the trained Keras autoencoder
    scaler.json       MinMax parameters (edge_agent.scoring.scaler.ScalerParams)
    threshold.json    value, rule, params, debounce (train.threshold.ThresholdRule.to_dict)
    scores.csv        one row per snapshot (edge_agent.scoring.scores.ScoreTable, with split)
    metadata.json     data file sha256, split, seed, timesteps, feature spec, versions, result
    history.csv       loss per epoch
    plots/*.png       the figures of train.plots

This module owns those names and both directions: :func:`write_model_dir`
(``fit``) and :func:`read_model_dir` (``convert``, the benchmarks), so the
format has one definition, as the bundle has in ``edge_agent.scoring.bundle``.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from edge_agent.atomic import atomic_directory, atomic_output, write_text_atomic
from edge_agent.features.spec import FeatureSpec
from edge_agent.scoring.scaler import ScalerParams
from edge_agent.scoring.scores import ScoreTable
from firmware_io.errors import BearingEdgeError

MODEL = "model.keras"
SCALER = "scaler.json"
THRESHOLD = "threshold.json"
SCORES = "scores.csv"
METADATA = "metadata.json"
HISTORY = "history.csv"
PLOTS = "plots"
#: The files every model directory has (history.csv and plots/ come beside them).
FILES = (MODEL, SCALER, THRESHOLD, SCORES, METADATA)
#: What conversion needs; the scores, the history and the plots are for people.
REQUIRED = (MODEL, SCALER, THRESHOLD, METADATA)


class ModelDirError(BearingEdgeError, ValueError):
    """A model directory that cannot be used; says which file and why."""


def is_model_dir(path: str | Path) -> bool:
    """True for a folder ``fit`` wrote (it has ``metadata.json``): ``fit`` may replace it."""
    return (Path(path) / METADATA).is_file()


def write_model_dir(out: str | Path, *, model, scaler: ScalerParams, threshold: dict[str, Any],
                    scores: ScoreTable, metadata: dict[str, Any], history: dict[str, list[float]],
                    draw_plots: Callable[[Path], None] | None = None) -> Path:
    """Write every file into a fresh folder that replaces ``out`` only when all of them succeeded.

    ``draw_plots(folder)``, when given, draws the figures into ``plots/``.
    The caller checks first that ``out`` may be replaced (:func:`is_model_dir`).
    """
    out = Path(out)
    with atomic_directory(out) as stage:
        model.save(stage / MODEL)
        scaler.save(stage / SCALER)
        write_text_atomic(stage / THRESHOLD, json.dumps(threshold, indent=2) + "\n")
        scores.write(stage / SCORES)
        write_text_atomic(stage / METADATA, json.dumps(metadata, indent=2) + "\n")
        _write_history(stage / HISTORY, history)
        if draw_plots is not None:
            (stage / PLOTS).mkdir()
            draw_plots(stage / PLOTS)
    return out


def _write_history(path: Path, history: dict[str, list[float]]) -> None:
    keys = list(history)
    with atomic_output(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["epoch", *keys])
        for i in range(len(history[keys[0]])):
            w.writerow([i + 1, *(repr(history[k][i]) for k in keys)])


def read_json(path: str | Path, name: str) -> dict[str, Any]:
    """One of the directory's JSON files, parsed; a clear error if it is missing or broken."""
    file = Path(path) / name
    if not file.is_file():
        raise ModelDirError(f"{path}: not a model directory (no {name}); run 'bearing-train fit' first")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelDirError(f"{file}: not valid JSON ({exc})") from exc


def read_scores(path: str | Path) -> ScoreTable:
    """The per-snapshot scores ``fit`` wrote (with their ``split``)."""
    return ScoreTable.read(Path(path) / SCORES)


def plot_names(path: str | Path) -> list[str]:
    """The figures in ``plots/``, sorted (none when fit ran with ``--no-plots``)."""
    folder = Path(path) / PLOTS
    return sorted(p.name for p in folder.glob("*.png")) if folder.is_dir() else []


@dataclass
class ModelDir:
    """A model directory, loaded and cross-checked."""

    path: Path
    model: object  # keras.Model
    scaler: ScalerParams
    threshold: dict  # {"value", "rule", "params", "debounce"}
    metadata: dict
    spec: FeatureSpec

    @property
    def threshold_value(self) -> float:
        return float(self.threshold["value"])

    @property
    def debounce(self) -> int:
        return int(self.threshold.get("debounce", 1))

    @property
    def train_until(self) -> str | None:
        """End of the healthy period (inclusive), as ``bearing-train fit`` recorded it."""
        return self.metadata.get("split", {}).get("train_until")

    @property
    def data_path(self) -> str | None:
        return self.metadata.get("data", {}).get("path")

    @property
    def data_sha256(self) -> str | None:
        return self.metadata.get("data", {}).get("sha256")


def check_model_dir_files(path: str | Path) -> None:
    """Refuse a folder that lacks a model directory's files (cheap: before Keras is imported)."""
    missing = [name for name in REQUIRED if not (Path(path) / name).is_file()]
    if missing:
        raise ModelDirError(f"{path}: not a complete model directory, missing {missing} "
                            "(make one with 'bearing-train fit')")


def read_model_dir(path: str | Path) -> ModelDir:
    """Load the Keras model and its scaler, threshold and metadata, cross-checked."""
    path = Path(path)
    check_model_dir_files(path)
    try:
        scaler = ScalerParams.load(path / SCALER)
    except ValueError as exc:
        raise ModelDirError(str(exc)) from exc
    threshold = read_json(path, THRESHOLD)
    if "value" not in threshold:
        raise ModelDirError(f"{path / THRESHOLD}: no 'value'")
    metadata = read_json(path, METADATA)
    if "feature_spec" not in metadata:
        raise ModelDirError(f"{path / METADATA}: no 'feature_spec'")
    spec = FeatureSpec.from_dict(metadata["feature_spec"])
    from train.quiet_tensorflow import quiet_tensorflow

    quiet_tensorflow()  # only now: a directory that is not complete is refused without loading TensorFlow
    import keras

    model = keras.models.load_model(path / MODEL, compile=False)
    _, timesteps, n_features = model.input_shape
    if (timesteps, n_features) != (spec.timesteps, spec.n_features):
        raise ModelDirError(f"{path}: model input (T={timesteps}, f={n_features}) disagrees with the feature "
                            f"spec in {METADATA} (T={spec.timesteps}, f={spec.n_features})")
    if list(scaler.feature_names) != list(spec.feature_names):
        raise ModelDirError(f"{path}: scaler features {list(scaler.feature_names)} differ from the spec's "
                            f"features {list(spec.feature_names)}")
    return ModelDir(path, model, scaler, threshold, metadata, spec)
