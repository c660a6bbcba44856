"""A bundle proves it can decide: its reference windows are scored again where it is loaded.

A checksum proves the files are the ones the manifest names, not that the model in them
can tell a healthy bearing from a failing one. A valid TFLite model of the right shape that
copies its input (error 0: never an alarm) or outputs ``log(0)`` (error inf: nothing scored)
passes every other check. So ``bearing-convert`` stores a few windows of the training table
in the manifest (``reference``): healthy ones from the training period and, where the data
has them, ones well past the threshold, with the error every variant gave on every runtime
in the parity gate. :func:`check_reference` scores them again with the model as loaded and
refuses a bundle whose errors differ beyond :data:`TOLERANCE`, that puts none of its
past-threshold windows over the threshold, or a healthy one over it. A bundle trained on healthy data only has no
such window; it says so (``healthy_only``) and is checked against its healthy errors.

Every bundle, with or without reference windows (schema 1), is also refused by
:func:`check_can_score` when its error is not a finite number on the edges of the scaled
range, or exactly zero on both (a model that returns its input).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from edge_agent.scoring.detection import reconstruction_error
from edge_agent.scoring.scaler import ScalerParams
from firmware_io.errors import BearingEdgeError

#: How far an error recomputed here may be from the one the gate measured on the same runtime, as a fraction of
#: the threshold or of the error itself, whichever is larger. The same model on the same runtime differs only
#: by the CPU's float rounding: about 1e-7 of the error on x86, 1e-5 on a 32-bit ARM (armhf: tflite-runtime
#: flushes denormals to zero and its NEON kernels round differently; measured by .ci/arm-edge.sh armhf on a
#: saturated window, error 30.22 against a threshold of 0.25); a model that is not the one that was gated
#: differs by orders of magnitude more. Relative to the error too, because far past the threshold rounding
#: grows with the error while the decision cannot change.
TOLERANCE = 1e-3
#: The windows bearing-convert chooses stay this far from the threshold (a fraction of it), so that no rounding
#: can put them on the other side of it.
MARGIN = 0.2
MAX_WINDOWS = 32


class ReferenceMismatch(BearingEdgeError, ValueError):
    """The model as loaded does not reproduce the bundle's reference errors, or cannot score at all."""


@dataclass(frozen=True)
class ReferenceCheck:
    """What the reference check found (``bearing-agent check-bundle`` shows it)."""

    healthy: int
    over: int
    max_difference: float  # |error here - error in the gate| of the window nearest its tolerance
    tolerance: float
    healthy_only: bool

    def text(self) -> str:
        if self.healthy_only:
            return (f"trained on healthy data only: no window past the threshold to show; its {self.healthy} "
                    f"healthy reference errors reproduced (largest difference {self.max_difference:.2g}, "
                    f"tolerance {self.tolerance:.2g})")
        return (f"{self.healthy} healthy and {self.over} past-threshold reference windows reproduced (largest "
                f"difference {self.max_difference:.2g}, tolerance {self.tolerance:.2g}): it can decide")


def windows(manifest: dict, scaler: ScalerParams, timesteps: int) -> tuple[np.ndarray, list[dict]] | None:
    """The manifest's reference windows, scaled as the scorer scales them (float32, ``(n, T, f)``), with their
    entries; None if the bundle has none (schema 1). Raise :class:`ReferenceMismatch` if they are malformed."""
    section = manifest.get("reference")
    if section is None:
        return None
    entries = section.get("windows") if isinstance(section, dict) else None
    if not (isinstance(entries, list) and 1 <= len(entries) <= MAX_WINDOWS and all(isinstance(e, dict)
                                                                                   for e in entries)):
        raise ReferenceMismatch(f"reference.windows must be a list of 1 to {MAX_WINDOWS} windows")
    out = []
    for k, entry in enumerate(entries):
        try:
            raw = np.asarray(entry.get("features"), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ReferenceMismatch(f"reference.windows[{k}].features: not a table of numbers ({exc})") from exc
        if raw.shape != (timesteps, scaler.n_features) or not np.isfinite(raw).all():
            raise ReferenceMismatch(f"reference.windows[{k}].features must be {timesteps} rows of "
                                  f"{scaler.n_features} finite numbers, got shape {list(raw.shape)}")
        if entry.get("kind") not in ("healthy", "over"):
            raise ReferenceMismatch(f"reference.windows[{k}].kind must be 'healthy' or 'over', got {entry.get('kind')!r}")
        out.append(scaler.transform(raw).astype(np.float32))
    return np.stack(out), entries


def errors(run: Callable[[np.ndarray], np.ndarray], scaled: np.ndarray) -> np.ndarray:
    """The model's error on each scaled window, as the scorer computes it."""
    return np.array([float(reconstruction_error(w[None], run(np.ascontiguousarray(w[None])))[0]) for w in scaled])


def check_can_score(run: Callable[[np.ndarray], np.ndarray], shape: tuple[int, ...], threshold: float) -> None:
    """Refuse a model whose error is not finite at the edges of the scaled range (0 and 1), or zero at both."""
    edges = errors(run, np.stack([np.full(shape[1:], fill, dtype=np.float32) for fill in (0.0, 1.0)]))
    if not np.isfinite(edges).all():
        raise ReferenceMismatch(
            f"the model's error is {edges[0]:.6g} on an all-0 window and {edges[1]:.6g} on an all-1 window: it "
            "outputs no usable numbers (inf or NaN, e.g. log(0)), so this bundle could score nothing; reconvert the "
            "model with bearing-convert")
    if (edges == 0).all():
        raise ReferenceMismatch(
            "the model returns its input unchanged (error 0 on an all-0 and an all-1 window): its error can never "
            f"pass the threshold {threshold:.6g}, so this bundle would never alarm; it is not an autoencoder "
            "trained by bearing-train: reconvert the model with bearing-convert")


def check_reference(run: Callable[[np.ndarray], np.ndarray], manifest: dict, variant: str, runtime: str,
                    scaler: ScalerParams, timesteps: int, threshold: float) -> ReferenceCheck | None:
    """Score the reference windows with ``run`` (the loaded model) and compare with the gate's errors for
    ``variant`` on ``runtime``; None if the bundle has no reference windows (schema 1)."""
    found = windows(manifest, scaler, timesteps)
    if found is None:
        return None
    scaled, entries = found
    expected = _expected(manifest, variant, runtime, entries)
    here = errors(run, scaled)
    tolerances = TOLERANCE * np.maximum(threshold, np.abs(expected))
    labels = [f"reference window {k} ({e['kind']}, {e.get('timestamp', '?')})" for k, e in enumerate(entries)]
    bad = [k for k in range(len(here)) if not math.isfinite(here[k])]
    if bad:
        raise ReferenceMismatch(f"{labels[bad[0]]}: the model's error is {here[bad[0]]} here: it outputs no usable "
                              "numbers (inf or NaN), so this bundle could score nothing; reconvert the model")
    diff = np.abs(here - expected)
    worst = int(np.argmax(diff / tolerances))  # the window nearest its own tolerance
    tolerance = float(tolerances[worst])
    if diff[worst] > tolerance:
        raise ReferenceMismatch(
            f"{labels[worst]}: the model's error is {here[worst]:.6g} here, {expected[worst]:.6g} when "
            f"bearing-convert gated {variant} on {runtime} (tolerance {tolerance:.2g}): the model is not the one "
            "that was verified; copy the bundle again from the desktop, or reconvert")
    over = [k for k, e in enumerate(entries) if e["kind"] == "over"]
    if over and not any(here[k] > threshold for k in over):
        raise ReferenceMismatch(
            f"none of the {len(over)} reference windows past the threshold when the bundle was converted is over "
            f"it here (largest error {max(here[k] for k in over):.6g}, threshold {threshold:.6g}): this model cannot "
            "alarm on a bearing the converted one alarmed on; copy the bundle again from the desktop, or reconvert")
    loud = [k for k, e in enumerate(entries) if e["kind"] == "healthy" and here[k] > threshold]
    if loud:
        raise ReferenceMismatch(
            f"{labels[loud[0]]}: a healthy window of the training period has an error of {here[loud[0]]:.6g} here, "
            f"over the threshold {threshold:.6g}: this bundle would alarm on the healthy machine it was trained on; "
            "copy the bundle again from the desktop, or reconvert")
    return ReferenceCheck(healthy=len(entries) - len(over), over=len(over), max_difference=float(diff[worst]),
                          tolerance=tolerance, healthy_only=not over)


def _expected(manifest: dict, variant: str, runtime: str, entries: list[dict]) -> np.ndarray:
    """The errors the gate measured for this variant on this runtime (else on another, else Keras's)."""
    measured = manifest["variants"][variant].get("reference_errors")
    candidates: list[Any] = []
    if isinstance(measured, dict):
        candidates = [measured.get(runtime), *measured.values()]
    candidates.append([e.get("keras_error") for e in entries])
    for values in candidates:
        if isinstance(values, list) and len(values) == len(entries) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
            return np.asarray(values, dtype=np.float64)
    raise ReferenceMismatch(f"variants[{variant!r}].reference_errors: no {len(entries)} finite errors to compare with")
