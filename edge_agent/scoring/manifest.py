"""The bundle manifest: read ``manifest.json`` and check the type and range of every field the device uses.

A checksum proves a file arrived as it was signed, not that it makes sense. A bundle
whose numbers no model can meaningfully use must be refused at load, with the field
named, because at run time it fails silently: a threshold of 1e308 or a debounce of
10**300 never alarms, and a ``samples_per_snapshot`` of 10**12 makes the agent try to
allocate terabytes. So every number is checked against what a model scoring scaled
features can use, and every container against the type the loader indexes it as, before
anything else reads the manifest (:func:`read_manifest`). The scaler's numbers are
checked where the scaler is loaded (:func:`check_scaler_float32`).
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from firmware_io.errors import BearingEdgeError

MANIFEST = "manifest.json"
#: 2: the bundle id covers the whole manifest (:func:`content_id`), reference windows (issue 22). 1 still loads.
SUPPORTED_SCHEMAS = (1, 2)
REQUIRED = ("bundle_id", "files", "feature_spec", "threshold", "variants", "default_variant")

#: The ranges a bearing-edge model can use. A snapshot is buffered whole in memory as int16 counts per channel,
#: so its length bounds the agent's memory (2**20 samples x 8 channels = 16 MiB); the debounce is a count of
#: consecutive snapshots (k = 3 by default: more than a thousand would delay an alarm by days).
MAX_SAMPLES_PER_SNAPSHOT = 2**20
MAX_SAMPLE_RATE_HZ = 10_000_000
MAX_TIMESTEPS = 1024
MAX_CHANNELS = 64
MAX_DEBOUNCE = 1000
#: The error is a mean absolute difference of features scaled to about [0, 1] on the healthy data: a threshold
#: above this, or above THRESHOLD_MAX_RATIO x the largest healthy error it was set from, can never be reached.
MAX_THRESHOLD = 1e6
THRESHOLD_MAX_RATIO = 1000.0
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ManifestError(BearingEdgeError, ValueError):
    """A manifest field of the wrong type or out of range; the message names the field and the fix."""


def read_manifest(root: Path, data: bytes | None = None) -> dict:
    """``root/manifest.json`` (or its bytes ``data``, already read), parsed and checked (types and ranges);
    raise :class:`ManifestError` if not usable."""
    path = root / MANIFEST
    if data is None and not path.is_file():
        raise ManifestError(f"{root}: no {MANIFEST}; is this a bundle directory made by bearing-convert?")
    try:
        manifest = json.loads(data.decode("utf-8") if data is not None else path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # ValueError: also a 5000-digit integer
        raise ManifestError(f"{path}: not valid JSON ({exc}); copy the bundle again") from exc
    if not isinstance(manifest, dict):
        raise ManifestError(f"{path}: expected a JSON object, got {type(manifest).__name__}")
    version = manifest.get("schema_version")
    if isinstance(version, bool) or version not in SUPPORTED_SCHEMAS:
        raise ManifestError(
            f"{path}: unknown schema_version {version!r}; this edge_agent reads {list(SUPPORTED_SCHEMAS)}. "
            "Upgrade bearing-edge on the device or convert the model with a matching bearing-convert")
    missing = [k for k in REQUIRED if k not in manifest]
    if missing:
        raise ManifestError(f"{path}: manifest is missing {missing}")
    _check(manifest, path)
    check_bundle_id(manifest, path)
    return manifest


#: What a schema-2 bundle id leaves out: the id itself, and when the bundle was made (two conversions of one
#: model and table are one bundle). Everything else is in: the files' sha256, the threshold and every number the
#: device reads, the gate's figures, and any section this version does not know yet.
NOT_IN_ID = ("bundle_id", "created_utc")


def content_id(manifest: dict) -> str:
    """The bundle id that names this manifest's content: 16 hex digits of a sha256 over it.

    Schema 2: the whole manifest but :data:`NOT_IN_ID`. Schema 1 (bundles converted before issue 22): the
    ``files``, ``threshold``, ``feature_spec`` and ``default_variant`` only, as bearing-convert computed it then.
    """
    if manifest.get("schema_version") == 1:
        body = {k: manifest.get(k) for k in ("files", "threshold", "feature_spec", "default_variant")}
    else:
        body = {k: v for k, v in manifest.items() if k not in NOT_IN_ID}
    return _digest(body)


def _digest(value: Any) -> str:
    from edge_agent.scoring.disk_watch import sha256_bytes

    return sha256_bytes(json.dumps(value, sort_keys=True).encode())[:16]


def check_bundle_id(manifest: dict, path: Path) -> None:
    """Refuse a manifest whose ``bundle_id`` does not name its content: edited after bearing-convert wrote it
    (a model replaced and its checksum updated, a threshold changed), whose rows would be journaled under the
    id of the bundle it was made from.

    A schema-1 bundle's id is checked by the recipe its converter used: the first ones hashed the ``files``
    table only, later ones also the threshold, spec and default variant (:func:`content_id`).
    """
    stated = manifest["bundle_id"]
    expected = content_id(manifest)
    if stated == expected:
        return
    if manifest.get("schema_version") == 1 and stated == _digest(manifest["files"]):
        return  # the first converter's recipe: the id names the files
    raise ManifestError(
        f"{path}: bundle_id {_short(stated)} does not name this bundle's content (its files and settings give "
        f"{expected}): the manifest or a file was changed after bearing-convert wrote it. Copy the bundle again "
        "from the desktop, or reconvert it")


def _check(m: dict, path: Path) -> None:
    where = f"{path}:"
    _typed(m, "bundle_id", str, where)
    _typed(m, "default_variant", str, where)
    files = _typed(m, "files", dict, where)
    for name, digest in files.items():
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise ManifestError(f"{where} files[{name!r}] must be a sha256 (64 hex digits), got {_short(digest)}")
    threshold = _typed(m, "threshold", dict, where)
    value = number(threshold.get("value"), f"{where} threshold.value", 0.0, MAX_THRESHOLD)
    check_threshold_against_errors(value, threshold.get("params"), f"{where} threshold.value")
    integer(threshold.get("debounce", 1), f"{where} threshold.debounce", 1, MAX_DEBOUNCE)
    variants = _typed(m, "variants", dict, where)
    if not variants:
        raise ManifestError(f"{where} 'variants' is empty: the bundle has no model")
    for name, info in variants.items():
        at = f"{where} variants[{name!r}]"
        if not isinstance(info, dict):
            raise ManifestError(f"{at} must be an object (file, runtimes, threshold), got {type(info).__name__}")
        if not isinstance(info.get("file"), str):
            raise ManifestError(f"{at}.file must be a file name, got {_short(info.get('file'))}")
        runtimes = info.get("runtimes", ["(absent: all)"])
        if not (isinstance(runtimes, list) and runtimes and all(isinstance(r, str) for r in runtimes)):
            raise ManifestError(f"{at}.runtimes must be a non-empty list of runtime names, got {_short(runtimes)}")
        if "threshold" in info:
            own = number(info["threshold"], f"{at}.threshold", 0.0, MAX_THRESHOLD)
            check_threshold_against_errors(own, threshold.get("params"), f"{at}.threshold")
    _check_feature_spec(_typed(m, "feature_spec", dict, where), f"{where} feature_spec")


def _check_feature_spec(spec: dict, where: str) -> None:
    channels = spec.get("channel_names")
    if not (isinstance(channels, list) and 1 <= len(channels) <= MAX_CHANNELS
            and all(isinstance(c, str) for c in channels)):
        raise ManifestError(f"{where}.channel_names must be a list of 1 to {MAX_CHANNELS} names, got {_short(channels)}")
    if "sample_rate_hz" in spec:
        number(spec["sample_rate_hz"], f"{where}.sample_rate_hz", 0.0, MAX_SAMPLE_RATE_HZ)
    if "samples_per_snapshot" in spec:
        integer(spec["samples_per_snapshot"], f"{where}.samples_per_snapshot", 1, MAX_SAMPLES_PER_SNAPSHOT)
    if "timesteps" in spec:
        integer(spec["timesteps"], f"{where}.timesteps", 1, MAX_TIMESTEPS)


def check_threshold_against_errors(value: float, params: Any, where: str) -> None:
    """Refuse a threshold far above the largest healthy error it was set from (``params.errors_max``)."""
    errors_max = params.get("errors_max") if isinstance(params, dict) else None
    if isinstance(errors_max, (int, float)) and not isinstance(errors_max, bool) and math.isfinite(errors_max) \
            and errors_max > 0 and value > THRESHOLD_MAX_RATIO * errors_max:
        raise ManifestError(
            f"{where} {value:.6g} is more than {THRESHOLD_MAX_RATIO:g} x the largest healthy error it was set from "
            f"({errors_max:.6g}): the model's error can never reach it, so this bundle would never alarm; "
            "re-run bearing-train fit (or set the threshold from the healthy errors) and reconvert")


def number(value: Any, where: str, low: float, high: float) -> float:
    """``value`` as a float, if it is a JSON number, finite, > ``low`` and <= ``high``; else ManifestError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ManifestError(f"{where} must be a number, got {_short(value)} ({type(value).__name__})")
    if isinstance(value, int) and not low < value <= high:  # compared as int: a huge integer has no float
        raise ManifestError(f"{where} must be > {low:g} and <= {high:g}, got {_short(value)}")
    value = float(value)
    if not (math.isfinite(value) and low < value <= high):
        raise ManifestError(f"{where} must be a finite number > {low:g} and <= {high:g}, got {_short(value)}")
    return value


def integer(value: Any, where: str, low: int, high: int) -> int:
    """``value`` if it is a JSON integer in ``[low, high]`` (a float such as 3.0 or inf is refused); else ManifestError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ManifestError(f"{where} must be an integer from {low} to {high:,}, got {_short(value)} "
                            f"({type(value).__name__})")
    if not low <= value <= high:
        raise ManifestError(f"{where} must be an integer from {low} to {high:,}, got {_short(value)}")
    return value


def check_scaler_float32(scale: tuple[float, ...], minimum: tuple[float, ...], names: tuple[str, ...],
                         where: str) -> None:
    """The model is fed float32: a scale that is finite in float64 but not in float32 (1e39) makes every
    scaled feature inf and every error NaN, and a scale <= 0 inverts or erases the features."""
    for what, values in (("scale", scale), ("min", minimum)):
        bad = [n for n, v in zip(names, values) if not abs(v) <= _FLOAT32_MAX]
        if bad:
            raise ManifestError(f"{where}: scaler {what} is not finite in float32 (|x| > {_FLOAT32_MAX:.4g}) for "
                                f"{bad}: the model would see inf; refit the scaler on the sensor's real range")
    bad = [n for n, v in zip(names, scale) if not v > 0]
    if bad:
        raise ManifestError(f"{where}: scaler scale must be > 0, got {[scale[names.index(n)] for n in bad]} for "
                            f"{bad}; refit the scaler (bearing-train fit) and reconvert")


def _typed(m: dict, key: str, kind: type, where: str) -> Any:
    value = m[key]
    if not isinstance(value, kind):
        expected = {dict: "an object", str: "a string", list: "a list"}[kind]
        raise ManifestError(f"{where} '{key}' must be {expected}, got {type(value).__name__} {_short(value)}")
    return value


def _short(value: Any, limit: int = 60) -> str:
    """A value for a message: never a 5000-digit integer or a whole list."""
    if isinstance(value, int) and value.bit_length() > 100:
        return f"an integer of about {int(value.bit_length() * math.log10(2))} digits"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
