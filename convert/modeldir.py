"""Read a model directory written by ``bearing-train fit`` and check it is complete."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from edge_agent.features.spec import FeatureSpec
from edge_agent.scoring.scaler import ScalerParams

REQUIRED = ("model.keras", "scaler.json", "threshold.json", "metadata.json")


class ModelDirError(ValueError):
    """A model directory that cannot be converted; says which file and why."""


@dataclass
class ModelDir:
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


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelDirError(f"{path}: not valid JSON ({exc})") from exc


def read_model_dir(path: str | Path) -> ModelDir:
    """Load the Keras model and its scaler, threshold and metadata, cross-checked."""
    import keras

    path = Path(path)
    missing = [name for name in REQUIRED if not (path / name).is_file()]
    if missing:
        raise ModelDirError(f"{path}: not a complete model directory, missing {missing} "
                            "(make one with 'bearing-train fit')")
    try:
        scaler = ScalerParams.load(path / "scaler.json")
    except ValueError as exc:
        raise ModelDirError(str(exc)) from exc
    threshold = _json(path / "threshold.json")
    if "value" not in threshold:
        raise ModelDirError(f"{path / 'threshold.json'}: no 'value'")
    metadata = _json(path / "metadata.json")
    if "feature_spec" not in metadata:
        raise ModelDirError(f"{path / 'metadata.json'}: no 'feature_spec'")
    spec = FeatureSpec.from_dict(metadata["feature_spec"])
    model = keras.models.load_model(path / "model.keras", compile=False)
    _, timesteps, n_features = model.input_shape
    if (timesteps, n_features) != (spec.timesteps, spec.n_channels):
        raise ModelDirError(f"{path}: model input (T={timesteps}, f={n_features}) disagrees with the feature "
                            f"spec in metadata.json (T={spec.timesteps}, f={spec.n_channels})")
    if list(scaler.feature_names) != list(spec.channel_names):
        raise ModelDirError(f"{path}: scaler features {list(scaler.feature_names)} differ from the spec's "
                            f"channels {list(spec.channel_names)}")
    return ModelDir(path, model, scaler, threshold, metadata, spec)
