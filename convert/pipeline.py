"""Model directory -> verified deployment bundle (directory + .tar.gz).

Steps: read the model dir; score the feature table with Keras (the
reference); convert each variant; score the table with every variant through
the edge code path on every available runtime; keep the variants that pass the
parity gate (or all with ``force``, recorded); write the manifest with
checksums; pack the archive.
"""
from __future__ import annotations

import gzip
import json
import platform
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from train.physics_baseline import PhysicsBaseline
from convert.export import convert_variant, unrolled_copy, weight_dtypes
from convert.parity import ParityResult, compare, failed, format_table, keras_scores
from convert import reference_windows, tflite_env
from convert.variants import DEFAULT_PREFERENCE, VARIANT_DESCRIPTIONS, VARIANTS
from edge_agent.diagnosis import bundle_section
from edge_agent.features.spec import FeatureSpec
from edge_agent.atomic import atomic_directory, atomic_output, write_bytes_atomic, write_text_atomic
from edge_agent.scoring.bundle import MANIFEST, SCALER, SCHEMA_VERSION, load_bundle, sha256_file
from edge_agent.scoring.manifest import content_id
from edge_agent.scoring.signing import SIGNATURE
from edge_agent.scoring.signing import sign as sign_manifest
from edge_agent.scoring.detection import make_windows
from edge_agent.features.table import FeatureTable, parse_timestamp, read_feature_table
from edge_agent.scoring.runtime import RUNTIMES, runtime_version
from edge_agent.scoring.levels import Decision
from edge_agent.scoring.scorer import score_table
from edge_agent.scoring.scores import ScoreTable
from firmware_io.errors import BearingEdgeError
from train.ingest import read_table_spec, select_features
from train.model_dir import METADATA, read_model_dir

QUANTIZED_DTYPES = ("int8", "float16")


class ConversionError(BearingEdgeError, RuntimeError):
    """Conversion produced nothing deployable (e.g. no variant passed the parity gate)."""


@dataclass
class ConvertResult:
    bundle_dir: Path
    archive: Path
    default_variant: str
    bundled: list[str]
    parity: list[ParityResult]
    sizes: dict[str, int]
    manifest: dict = field(repr=False, default_factory=dict)

    @property
    def min_threshold_margin(self) -> float:
        """How close the Keras error came to the threshold: what a variant's error difference must stay under."""
        return min((r.min_threshold_margin for r in self.parity if not r.error), default=float("nan"))

    def parity_table(self, markdown: bool = True) -> str:
        """Every variant on every runtime against Keras; ``markdown=False`` for a terminal."""
        return format_table(self.parity, self.sizes, markdown)


def _calibration(model_dir, table: FeatureTable, train_until: np.datetime64):
    """Healthy training windows (the int8 calibration set) and their per-feature range."""
    T = model_dir.spec.timesteps
    X = model_dir.scaler.transform(table.values).astype(np.float32)
    windows = make_windows(X, T)
    train = table.timestamps[T - 1:] <= train_until
    if not train.any():
        raise ConversionError(f"no snapshot of the feature table is in the training period (<= {train_until})")
    cal = windows[train]

    def representative() -> Iterable[list[np.ndarray]]:
        for w in cal:
            yield [w[None]]
    return representative, cal, windows


def _out_of_range(windows: np.ndarray, cal: np.ndarray, reference, threshold: float) -> dict:
    """Where int8 inputs saturate (outside the calibration range), and whether it matters.

    The scorer computes the error against the float input, so saturation only
    bends the reconstruction; it can flip a decision only for a snapshot both
    outside the range and near the threshold. These figures show how far out
    the below-threshold snapshots went and how far over the threshold the rest are.
    """
    error = reference.error[len(reference) - len(windows):]  # rows that end a window
    lo, hi = cal.min(axis=(0, 1)), cal.max(axis=(0, 1))
    overshoot = np.maximum(windows - hi, lo - windows).max(axis=(1, 2))
    outside = overshoot > 0
    below = outside & (error <= threshold)
    return {"calibration_windows": int(len(cal)), "input_min": lo.tolist(), "input_max": hi.tolist(),
            "scaled_input_max_in_table": float(windows.max()),
            "snapshots_outside_calibration_range": int(outside.sum()),
            "snapshots_outside_below_threshold": int(below.sum()),
            "max_overshoot_below_threshold": float(overshoot[below].max()) if below.any() else 0.0,
            "min_error_over_threshold_ratio_when_overshoot_above_1": (
                float((error[overshoot > 1] / threshold).min()) if (overshoot > 1).any() else None)}


def _outside_training_range(windows: np.ndarray, cal: np.ndarray, n_rows: int) -> np.ndarray:
    """Per table row: whether the window ending there has an input outside the healthy training windows' range
    (where an autoencoder's units saturate and variants may differ a lot, far over the threshold)."""
    lo, hi = cal.min(axis=(0, 1)), cal.max(axis=(0, 1))
    outside = ((windows < lo) | (windows > hi)).any(axis=(1, 2))
    return np.concatenate([np.zeros(n_rows - len(windows), bool), outside])


def _write_manifest(out: Path, manifest: dict) -> None:
    manifest["files"] = {p.name: sha256_file(p) for p in sorted(out.iterdir())
                         if p.is_file() and p.name not in (MANIFEST, SIGNATURE)}
    # The id names the content: the files' sha256 and every setting (edge_agent.scoring.manifest.content_id),
    # so a re-thresholded bundle with the same model files gets its own id, and the device checks it at load.
    manifest["bundle_id"] = content_id(manifest)
    write_text_atomic(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=False) + "\n")


def _pack(out: Path) -> Path:
    """``<out>.tar.gz`` with the directory at its top, reproducible (no owners, fixed mtimes, no
    name or time in the gzip header), written atomically."""
    archive = out.with_name(out.name + ".tar.gz")

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        return info
    with atomic_output(archive, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w") as tar:
        tar.add(out, arcname=out.name, filter=clean, recursive=False)
        for p in sorted(out.iterdir()):
            tar.add(p, arcname=f"{out.name}/{p.name}", filter=clean)
    return archive


def _parity_on_runtimes(staging: Path, variant: str, table: FeatureTable, reference, threshold: float,
                        tflite_py: Path | None, saturated: np.ndarray | None = None
                        ) -> tuple[list[ParityResult], dict[str, ScoreTable]]:
    """The gate's result for ``variant`` on each runtime, and the score table of each runtime it ran on."""
    results, tables = [], {}
    try:
        bundle = load_bundle(staging, variant=variant, runtime="ai-edge-litert")
        tables["ai-edge-litert"] = score_table(bundle, table)
        results.append(compare(variant, "ai-edge-litert", reference, tables["ai-edge-litert"], threshold, saturated))
    except Exception as exc:  # a variant that cannot run is a gate failure, not a crash
        results.append(failed(variant, "ai-edge-litert", len(reference), f"{type(exc).__name__}: {exc}"))
    if tflite_py is None:  # --runtimes ai-edge-litert: the variant is bundled for ai-edge-litert only
        return results, tables
    with tempfile.TemporaryDirectory() as tmp:
        out_csv, features_csv = Path(tmp) / "scores.csv", Path(tmp) / "features.csv"
        table.write(features_csv)  # the model's columns (the --data table may hold more: ingest --features)
        proc = tflite_env.score_in_tflite_env(tflite_py, staging, variant, features_csv, out_csv)
        if proc.returncode != 0:
            msg = (proc.stderr.strip().splitlines() or ["exit code %d" % proc.returncode])[-1]
            results.append(failed(variant, "tflite-runtime", len(reference), msg))
        else:
            tables["tflite-runtime"] = ScoreTable.read(out_csv)
            results.append(compare(variant, "tflite-runtime", reference, tables["tflite-runtime"], threshold,
                                   saturated))
    return results, tables


def choose_default(manifest: dict, passing: list[str]) -> str | None:
    """The smallest passing variant that really stores quantized weights, else the first passing one.

    Every variant runs far under the latency goal (the runtime's per-call overhead
    dominates this tiny model), so what quantization buys here is size; a variant
    named "quantized" that the converter left in float32 does not count.
    """
    quantized = [v for v in passing if manifest["variants"][v]["quantized"]]
    if quantized:
        return min(quantized, key=lambda v: (manifest["variants"][v]["size_bytes"], DEFAULT_PREFERENCE.index(v)))
    return next((v for v in DEFAULT_PREFERENCE if v in passing), None)


def convert_model_dir(model_dir: str | Path, out: str | Path, variants: Iterable[str] = VARIANTS,
                      data: str | Path | None = None, force: bool = False,
                      default: str | None = None, runtimes: Iterable[str] = RUNTIMES,
                      progress: Callable[[str], None] | None = None, sign: str | Path | None = None,
                      bundle_version: int | None = None,
                      physics: Callable[[FeatureSpec, np.datetime64], PhysicsBaseline] | None = None) -> ConvertResult:
    """Convert, gate and bundle; see the module docstring. Returns the parity table and paths.

    Every variant is checked on each of ``runtimes`` (default both; the tflite-runtime environment is created
    on first need, :func:`convert.tflite_env.ensure_python`, telling ``progress``). A check that cannot run is a
    gate failure: :class:`ConversionError` and no bundle, unless ``force``.

    ``physics(spec, train_until)`` (e.g. :func:`train.physics_baseline.build` with its recording) gives the
    commissioning envelope spectrum the device's physics diagnosis needs; it is read before the conversion.
    """
    import keras
    import tensorflow as tf

    variants, runtimes = list(dict.fromkeys(variants)), list(dict.fromkeys(runtimes))
    if "ai-edge-litert" not in runtimes or not set(runtimes) <= set(RUNTIMES):
        raise ConversionError(f"runtimes {runtimes}: check ai-edge-litert (the device's default runtime), "
                              "optionally with tflite-runtime")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file())):
        raise ConversionError(f"{out}: exists and is neither empty nor an earlier bundle; refusing to "
                              "replace it: choose another --out")
    md = read_model_dir(model_dir)
    data = Path(data) if data else Path(md.data_path or "")
    if not data.is_file():
        raise ConversionError(f"no feature table for the parity gate: pass --data features.csv "
                              f"({METADATA} names {md.data_path!r}, which is not a file here)")
    table = read_feature_table(data)
    if list(table.channel_names) != list(md.spec.feature_names) and read_table_spec(data) is not None:
        # a table of more features than the model's (bearing-train ingest --features): its columns
        table, _ = select_features(table, read_table_spec(data), md.spec.features)
    ordered = table.in_column_order(md.spec.feature_names)
    if ordered is None:
        raise ConversionError(f"{data}: channels {table.channel_names} differ from the model's "
                              f"{list(md.spec.feature_names)}")
    table = ordered
    if md.train_until is None:
        raise ConversionError(f"{md.path / METADATA}: no split.train_until; cannot tell the healthy "
                              "period used for int8 calibration")
    train_until = parse_timestamp(md.train_until)
    physics_baseline = physics(md.spec, train_until) if physics is not None else None  # a bad recording: refused now
    threshold, k = md.threshold_value, md.debounce
    immediate = md.threshold.get("immediate")
    reference = keras_scores(md.model, md.scaler, table, threshold, k,
                             immediate_limits=None if immediate is None else np.asarray(immediate["limits"]),
                             decision=Decision.from_threshold(md.threshold, md.spec), spec=md.spec)
    representative, cal, windows = _calibration(md, table, train_until)
    twin = unrolled_copy(md.model)
    picks = reference_windows.choose(reference, train_until, threshold)  # the windows the bundle proves itself on
    saturated = _outside_training_range(windows, cal, len(table))  # where the gate's verdict may excuse a difference

    with atomic_directory(out) as staging:  # a failure leaves no half-built bundle and out untouched
        md.scaler.save(staging / SCALER)
        sizes, dtypes = {}, {}
        for v in variants:
            buf = convert_variant(twin, v, representative if v == "int8" else None)
            write_bytes_atomic(staging / f"model_{v}.tflite", buf)
            sizes[v], dtypes[v] = len(buf), weight_dtypes(buf)

        manifest = {
            "schema_version": SCHEMA_VERSION,
            "bundle_id": "",
            "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "default_variant": variants[0],
            "feature_spec": md.spec.to_dict(),
            "threshold": {**md.threshold, "debounce": k, "comparison": "error > value"},
            "scaler": SCALER,
            "variants": {v: {"file": f"model_{v}.tflite", "description": VARIANT_DESCRIPTIONS[v],
                             "weight_dtypes": dtypes[v],
                             "quantized": any(d in dtypes[v] for d in QUANTIZED_DTYPES), "threshold": threshold,
                             "input_shape": [1, md.spec.timesteps, md.spec.n_features],
                             "output_shape": [1, md.spec.timesteps, md.spec.n_features],
                             "size_bytes": sizes[v], "runtimes": ["ai-edge-litert", "tflite-runtime"]}
                         for v in variants},
            "training_data": {"sha256": md.data_sha256, "path": md.data_path,
                              "parity_table": data.name, "parity_table_sha256": sha256_file(data),
                              "parity_snapshots": len(reference), "train_until": md.train_until,
                              "seed": md.metadata.get("seed"),
                              # did the autoencoder learn or collapse to a constant (train.reconstruction)
                              "reconstruction": md.metadata.get("reconstruction")},
            "versions": {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
                         "python": platform.python_version(), "ai-edge-litert": runtime_version("ai-edge-litert"),
                         "training": md.metadata.get("versions")},
        }
        _write_manifest(staging, manifest)

        tflite_py = tflite_env.ensure_python(progress) if "tflite-runtime" in runtimes else None
        parity: list[ParityResult] = []
        for v in variants:
            results, tables = _parity_on_runtimes(staging, v, table, reference, threshold, tflite_py, saturated)
            parity += results
            entry = manifest["variants"][v]
            entry["reference_errors"] = reference_windows.variant_errors(tables, picks)
            entry["parity"] = {"passed": all(r.passed for r in results),
                               "rule": "100% of over-threshold flags and debounced alarms equal to Keras",
                               "results": [r.as_dict() for r in results]}
            ran = [r.runtime for r in results if not r.error]
            entry["runtimes"] = [r.runtime for r in results if r.passed] or (ran if force else [])
            entry["forced"] = bool(force and not any(r.passed for r in results))
            if v == "int8":
                entry["calibration"] = _out_of_range(windows, cal, reference, threshold)
        if tflite_py is not None:
            manifest["versions"]["tflite-runtime"] = "2.14.0"
        unrun = [r for r in parity if r.error]
        if unrun and not force:
            raise ConversionError("the parity gate could not run " + "; ".join(
                f"{r.variant} on {r.runtime} ({r.error})" for r in unrun) + ": no bundle written. Fix the cause, or "
                f"--force to bundle anyway (recorded), or {tflite_env.SKIP_HINT}")

        bundled = [v for v in variants if manifest["variants"][v]["runtimes"]]
        passing = [v for v in bundled if not manifest["variants"][v]["forced"]]
        if default is not None:
            if default not in bundled:
                raise ConversionError(f"default variant {default!r} is not bundled (it failed the parity gate "
                                      f"or was not requested):\n{format_table(parity, sizes)}")
            chosen = default
        else:
            chosen = choose_default(manifest, passing) or (bundled[0] if bundled else None)
        if chosen is None:
            raise ConversionError("no variant passed the parity gate; nothing to bundle (use --force to bundle "
                                  f"anyway, recorded in the manifest):\n{format_table(parity, sizes)}")
        for v in variants:
            if v not in bundled:
                (staging / f"model_{v}.tflite").unlink()
                del manifest["variants"][v]
        manifest["default_variant"] = chosen
        manifest["force"] = bool(force)
        manifest["parity_summary"] = format_table(parity, sizes)
        if picks:  # added last: the gate's loads above compare nothing yet, the final load_bundle checks them
            manifest["reference"] = reference_windows.section(table, picks, reference, md.spec.timesteps)
        if physics_baseline is not None:  # the file is listed and checksummed by the _write_manifest below
            physics_baseline.write(staging)
            manifest[bundle_section.SECTION] = physics_baseline.section
        if sign is not None or bundle_version is not None:  # what a device compares to refuse a downgrade
            manifest["bundle_version"] = int(bundle_version if bundle_version is not None else time.time())
        _write_manifest(staging, manifest)
        if sign is not None:  # over the manifest's bytes, which hold every file's sha256
            write_bytes_atomic(staging / SIGNATURE, sign_manifest((staging / MANIFEST).read_bytes(), sign))

    archive = _pack(out)
    load_bundle(out)  # the bundle we hand out must load, or we fail here rather than on the Pi
    return ConvertResult(out, archive, chosen, bundled, parity, sizes, manifest)
