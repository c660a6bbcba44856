"""The deployment bundle: verify everything before the device trusts it.

A bundle is a directory (or a ``.tar.gz`` of one) written by ``bearing-convert``::

    manifest.json        schema version, bundle id, sha256 of every file, feature spec,
                         threshold + debounce, variants (file, I/O shape, runtimes, parity)
    scaler.json          MinMax parameters (edge_agent.scoring.scaler.ScalerParams)
    model_<variant>.tflite

:func:`load_bundle` refuses anything it cannot vouch for (unknown schema,
missing file, checksum mismatch, NaN or zero-range scaler, a model whose input
or output shape disagrees with the feature spec, a runtime the variant is not
known to run on) with a :class:`BundleError` that names the file and the fix.
A wrong model on a bearing is worse than no model: it keeps the light green.
"""
from __future__ import annotations

import importlib
import json
import math
import shutil
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.diagnosis import bundle_section
from edge_agent.diagnosis.bundle_section import BundlePhysics
from edge_agent.features.spec import FeatureSpec
from edge_agent.scoring.archive import ArchiveError, unpacked_folder
from edge_agent.scoring.archive import unpack as unpack_archive
from edge_agent.scoring.disk_watch import DiskWatch, read_with_stat, sha256, sha256_bytes
from edge_agent.scoring.manifest import MANIFEST, SUPPORTED_SCHEMAS, ManifestError, check_scaler_float32, read_manifest
from edge_agent.scoring.probe import ModelCrashed, probe_model
from edge_agent.scoring.reference import ReferenceCheck, ReferenceMismatch, check_can_score, check_reference
from edge_agent.scoring.reference import windows as reference_windows
from edge_agent.scoring.runtime import RUNTIMES, ModelRunner, RuntimeUnavailable, resolve_runtime
from edge_agent.scoring.scaler import ScalerParams
from edge_agent.scoring.signing import SIGNATURE, SignatureError
from firmware_io.errors import BearingEdgeError

SCHEMA_VERSION = 2  # what bearing-convert writes; edge_agent.scoring.manifest.SUPPORTED_SCHEMAS are read
SCALER = "scaler.json"


class BundleError(BearingEdgeError, ValueError):
    """A bundle that must not be deployed; the message says exactly what is wrong and where."""


@dataclass
class Bundle:
    """A verified bundle, ready for :class:`edge_agent.scoring.scorer.SnapshotScorer`."""

    bundle_id: str
    path: Path
    manifest: dict
    spec: FeatureSpec
    scaler: ScalerParams
    threshold: float
    debounce: int
    variant: str
    model_path: Path  # where the model was read from (names it in messages); never read again
    runner: ModelRunner = field(repr=False)  # loaded and checked against the feature spec
    #: Per-feature error limits of the two-level rule (alarm at once above one), or None: off.
    immediate_limits: np.ndarray | None = None
    #: The model's bytes, read once and hashed: what every runner of this bundle is built from.
    model_content: bytes = field(default=b"", repr=False)
    #: The files it was loaded from, to notice a change on disk while it runs (it cannot change what runs).
    on_disk: DiskWatch | None = field(default=None, repr=False)
    #: What scoring the manifest's reference windows again showed; None: the bundle has none (schema 1).
    reference: ReferenceCheck | None = None
    #: The id of the trusted key whose signature was verified; None: no trusted keys were given.
    signed_by: str | None = None
    #: The bearing, shaft speed and commissioning envelope spectrum the physics diagnosis reads (the manifest's
    #: ``physics`` section, :mod:`edge_agent.diagnosis.bundle_section`); None: the bundle carries none.
    physics: BundlePhysics | None = field(default=None, repr=False)

    @property
    def runtime(self) -> str:
        """The runtime the model was verified with."""
        return self.runner.runtime

    def make_runner(self, runtime: str = "auto") -> ModelRunner:
        """The verified runner for ``auto`` or its own runtime; another gets a new one, checked for compatibility."""
        if runtime in ("auto", self.runtime):
            return self.runner
        return ModelRunner(self.model_content, check_runtime(self.manifest, self.variant, runtime, self.path),
                           name=str(self.model_path))


def sha256_file(path: str | Path) -> str:
    h = sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_runtime(manifest: dict, variant: str, runtime: str, where: Path) -> str:
    """Resolve ``runtime`` among those the variant is known to run on, or refuse."""
    allowed = list(manifest["variants"][variant].get("runtimes", RUNTIMES))
    if runtime != "auto" and runtime not in allowed:
        raise BundleError(
            f"{where}: variant {variant!r} is not known to run on {runtime!r} (manifest lists "
            f"{allowed}); choose another variant with --variant, or use runtime {allowed[0]!r}")
    try:
        return resolve_runtime(runtime, allowed)
    except RuntimeUnavailable as exc:
        raise BundleError(f"{where}: variant {variant!r} needs one of {allowed}: {exc}") from exc


def _extract(archive: Path) -> Path:
    """Unpack a ``.tar.gz`` bundle (:func:`edge_agent.scoring.archive.unpack`) and return the bundle dir in it."""
    try:
        target = unpack_archive(archive)
    except ArchiveError as exc:
        raise BundleError(str(exc)) from exc
    manifests = sorted(target.rglob(MANIFEST))
    if not manifests:
        shutil.rmtree(target, ignore_errors=True)
        raise BundleError(f"{archive}: the archive holds no {MANIFEST}; is this a bundle made by bearing-convert?")
    return manifests[0].parent


def _read_manifest(root: Path) -> tuple[dict, bytes, tuple]:
    """The manifest, parsed and checked, with its bytes and their stat (read once: what is verified is what is used)."""
    path = root / MANIFEST
    try:
        data, seen = read_with_stat(path)
    except FileNotFoundError:
        data, seen = b"", None  # read_manifest says what is missing
    except OSError as exc:
        raise BundleError(f"{path}: cannot read the manifest ({exc}); copy the bundle again") from exc
    try:
        return read_manifest(root, data if seen is not None else None), data, seen
    except ManifestError as exc:
        raise BundleError(str(exc)) from exc


def _read_verified(root: Path, manifest: dict) -> dict[str, tuple[bytes, tuple]]:
    """Every file the manifest lists, read once into memory and checked against its sha256: ``{name: (bytes, stat)}``.

    Everything after this uses these bytes, never the files again: a file replaced or rewritten on disk
    after its check (a copy over the live bundle, a swap during the load) cannot change what runs.
    """
    files = manifest["files"]
    if SCALER not in files:
        raise BundleError(f"{root / MANIFEST}: 'files' does not list {SCALER}")
    verified = {}
    for name, expected in sorted(files.items()):
        path = root / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise BundleError(f"{root / MANIFEST}: file entry {name!r} points outside the bundle")
        if not path.is_file():
            raise BundleError(f"{root}: missing file {name} (listed in {MANIFEST}); copy the whole bundle again")
        try:
            data, seen = read_with_stat(path)
        except OSError as exc:
            raise BundleError(f"{path}: cannot read it ({exc}); copy the bundle again") from exc
        actual = sha256_bytes(data)
        if actual != expected:
            raise BundleError(
                f"{path}: checksum mismatch: sha256 is {actual}, manifest says {expected}; the file was "
                "changed or damaged in transit, copy the bundle again")
        verified[name] = (data, seen)
    return verified


def _load_scaler(root: Path, spec: FeatureSpec, data: bytes) -> ScalerParams:
    path = root / SCALER
    try:
        scaler = ScalerParams.from_dict(json.loads(data.decode("utf-8")))
        check_scaler_float32(scaler.scale, scaler.min, scaler.feature_names, str(path))
    except ManifestError as exc:
        raise BundleError(str(exc)) from exc
    except (ValueError, KeyError, TypeError, OverflowError) as exc:  # UnicodeDecodeError is a ValueError
        raise BundleError(f"{path}: unusable scaler: {exc}") from exc
    if list(scaler.feature_names) != list(spec.feature_names):
        raise BundleError(f"{path}: scaler features {list(scaler.feature_names)} differ from the feature "
                          f"spec's {list(spec.feature_names)} (same names, same order)")
    return scaler


def _check_shapes(path: Path, runner: ModelRunner, spec: FeatureSpec) -> None:
    expected = (1, spec.timesteps, spec.n_features)
    for what, shape in (("input", runner.input_shape), ("output", runner.output_shape)):
        if tuple(shape) != expected:
            raise BundleError(
                f"{path}: model {what} shape {list(shape)} disagrees with the feature spec "
                f"(1 window x {spec.timesteps} timesteps x {spec.n_features} features = {list(expected)})")
    if runner.input_dtype.name != "float32" or runner.output_dtype.name != "float32":
        raise BundleError(f"{path}: model input/output must be float32, got "
                          f"{runner.input_dtype}/{runner.output_dtype}")


def load_bundle(path: str | Path, variant: str | None = None, runtime: str = "auto", *,
                probe: bool = False, trusted_keys: list[str | Path] | None = None, version_floor: int | None = None,
                allow_downgrade: bool = False) -> Bundle:
    """Verify and load a bundle directory or ``.tar.gz``; raise :class:`BundleError` if anything is off.

    ``variant`` defaults to the manifest's ``default_variant``; ``runtime`` is
    ``auto`` (ai-edge-litert, then tflite-runtime) or one of those names. With ``probe``
    the model is first loaded and invoked in a child process
    (:func:`edge_agent.scoring.probe.probe_model`): a model that crashes the runtime is
    refused instead of ending this process. The agent and ``check-bundle`` probe.

    Every file is read once and hashed; the probe and the interpreter are built from the model's
    bytes in memory, so what runs is what was verified whatever happens to the files afterwards
    (``Bundle.on_disk`` notices that).

    With ``trusted_keys`` (public key files) the manifest must be signed by one of them (``manifest.sig``,
    checked in a child process: :mod:`edge_agent.scoring.signing`), and its ``bundle_version`` must not be
    below ``version_floor`` unless ``allow_downgrade``.
    """
    trust = (trusted_keys, version_floor, allow_downgrade) if trusted_keys else None
    path = Path(path)
    if not path.exists():
        raise BundleError(f"{path}: no such bundle directory or archive")
    if path.is_file():
        try:  # watched for a change on disk: the archive, not its private unpacked copy
            data, seen = read_with_stat(path)
        except OSError as exc:
            raise BundleError(f"{path}: cannot read the bundle archive ({exc}); copy it again") from exc
        root = _extract(path)
        try:
            bundle = _load_dir(root, variant, runtime, probe, watch=[(path.resolve(), sha256_bytes(data), seen)],
                               trust=trust)
        except BundleError as exc:
            shutil.rmtree(unpacked_folder(root), ignore_errors=True)
            raise BundleError(f"{path} (unpacked): {exc}") from exc
        except BaseException:
            shutil.rmtree(unpacked_folder(root), ignore_errors=True)
            raise
        # The unpacked copy lives as long as the Bundle (for a look at what was loaded; nothing reads it again).
        weakref.finalize(bundle, shutil.rmtree, str(unpacked_folder(root)), True)
        return bundle
    return _load_dir(path, variant, runtime, probe, trust=trust)


def _check_signature(root: Path, manifest: dict, manifest_bytes: bytes, trust: tuple) -> str:
    """The key id that signed the manifest's bytes (as read: what is verified is what is used), or BundleError."""
    from edge_agent.scoring import signing

    keys, floor, allow_downgrade = trust
    try:
        signature, _ = read_with_stat(root / SIGNATURE, limit=signing.MAX_KEY_BYTES)
    except FileNotFoundError:
        signature = None
    except OSError as exc:
        raise BundleError(f"{root / SIGNATURE}: cannot read the signature ({exc}); copy the bundle again") from exc
    try:
        signer = signing.verify_in_child(manifest_bytes, signature, [str(k) for k in keys], str(root))
        signing.check_version(manifest, floor, allow_downgrade, str(root / MANIFEST))
    except SignatureError as exc:
        raise BundleError(str(exc)) from exc
    return signer


def _load_dir(root: Path, variant: str | None, runtime: str, probe: bool = False,
              watch: list[tuple[Path, str, tuple]] | None = None, trust: tuple | None = None) -> Bundle:
    manifest, manifest_bytes, manifest_seen = _read_manifest(root)
    signed_by = _check_signature(root, manifest, manifest_bytes, trust) if trust else None
    verified = _read_verified(root, manifest)
    try:
        spec = FeatureSpec.from_dict(manifest["feature_spec"])
    except (ValueError, TypeError) as exc:
        raise BundleError(f"{root / MANIFEST}: bad feature_spec: {exc}") from exc
    scaler = _load_scaler(root, spec, verified[SCALER][0])
    try:
        physics = bundle_section.read(manifest, {n: data for n, (data, _) in verified.items()}, spec)
    except bundle_section.PhysicsSectionError as exc:
        raise BundleError(f"{root / MANIFEST}: {exc}; reconvert the bundle") from exc

    variant = variant or manifest["default_variant"]
    if variant not in manifest["variants"]:
        raise BundleError(f"{root}: no variant {variant!r} in this bundle; it has {sorted(manifest['variants'])}")
    info = manifest["variants"][variant]
    threshold = float(info.get("threshold", manifest["threshold"]["value"]))
    debounce = int(manifest["threshold"].get("debounce", 1))
    if not math.isfinite(threshold) or threshold <= 0:
        raise BundleError(f"{root / MANIFEST}: threshold for {variant!r} must be a positive number, got {threshold}")
    if debounce < 1:
        raise BundleError(f"{root / MANIFEST}: debounce must be >= 1, got {debounce}")
    if info.get("file") not in manifest["files"]:
        raise BundleError(f"{root / MANIFEST}: variant {variant!r} model file {info.get('file')!r} "
                          "is not among the checksummed files")

    model_path = root / info["file"]
    model = verified[info["file"]][0]  # the bytes just hashed: the probe and the interpreter get these
    name = check_runtime(manifest, variant, runtime, root)
    try:
        reference, malformed = reference_windows(manifest, scaler, spec.timesteps), None
    except ReferenceMismatch as exc:  # said after the shape check: a spec that disagrees with the model comes first
        reference, malformed = None, BundleError(f"{root / MANIFEST}: {exc}")
    if probe:  # the reference windows too: a model that crashes only on real data crashes the child
        try:
            probe_model(model, name, name=model_path, windows=None if reference is None else reference[0])
        except ModelCrashed as exc:
            raise BundleError(str(exc)) from exc
    try:
        runner = ModelRunner(model, name, name=str(model_path))
    except (ValueError, RuntimeError) as exc:
        raise BundleError(f"{model_path}: {name} cannot load the model: {exc}") from exc
    _check_shapes(model_path, runner, spec)
    if malformed is not None:
        raise malformed
    try:  # the bundle proves it can decide (issue 22 #3)
        check_can_score(runner, runner.input_shape, threshold)
        proof = check_reference(runner, manifest, variant, name, scaler, spec.timesteps, threshold)
    except ReferenceMismatch as exc:
        raise BundleError(f"{model_path}: {exc}") from exc
    bundle_id = str(manifest["bundle_id"])
    if watch is None:  # a directory: its manifest and every file it lists, as read and verified
        # by their real paths: the update procedure flips a 'bundle' link to a new folder, which changes
        # nothing in the folder this bundle was read from (no event); a copy over that folder does
        real = root.resolve()
        watch = [(real / MANIFEST, sha256_bytes(manifest_bytes), manifest_seen)] + \
            [(real / n, manifest["files"][n], seen) for n, (_, seen) in verified.items()]
    return Bundle(bundle_id=bundle_id, path=root, manifest=manifest, spec=spec,
                  scaler=scaler, threshold=threshold, debounce=debounce, variant=variant,
                  model_path=model_path, runner=runner,
                  immediate_limits=_immediate_limits(root, manifest["threshold"], spec),
                  model_content=model, on_disk=DiskWatch(bundle_id, watch), reference=proof, signed_by=signed_by,
                  physics=physics)


def _immediate_limits(root: Path, threshold: dict, spec: FeatureSpec) -> np.ndarray | None:
    """The two-level rule's limits from the manifest's threshold (``bearing-train fit --immediate``)."""
    immediate = threshold.get("immediate")
    if immediate is None:
        return None
    limits = np.asarray(immediate.get("limits", []), dtype=np.float64)
    if limits.shape != (spec.n_features,) or not (np.isfinite(limits).all() and (limits > 0).all()):
        raise BundleError(f"{root / MANIFEST}: threshold.immediate.limits must be {spec.n_features} positive "
                          f"numbers (one per feature), got {immediate.get('limits')!r}")
    return limits


def describe(bundle: Bundle) -> dict[str, Any]:
    """A short summary for ``bearing-agent check-bundle``."""
    m = bundle.manifest
    return {
        "bundle_id": bundle.bundle_id,
        "path": str(bundle.path),
        "schema_version": m["schema_version"],
        "variant": bundle.variant,
        "runtime": bundle.runtime,
        "threshold": bundle.threshold,
        "debounce": bundle.debounce,
        "channels": list(bundle.spec.channel_names),
        "timesteps": bundle.spec.timesteps,
        "variants": {k: {"file": v["file"], "runtimes": v.get("runtimes"), "parity_passed": v.get("parity", {}).get("passed"),
                         "forced": v.get("forced", False)} for k, v in m["variants"].items()},
        "reference": bundle.reference.text() if bundle.reference else
        "no reference windows (a schema-1 bundle, converted before they were stored): reconvert it to have the "
        "model's decisions checked where it is loaded",
        "signed_by": bundle.signed_by,
        "physics_diagnosis": bundle_section.missing_reason(bundle.spec) if bundle.physics is None else
        f"{bundle.physics.bearing.n_elements} rolling elements at {bundle.physics.shaft_hz * 60:g} rpm, commissioning "
        f"envelope spectrum of {bundle.physics.baseline.n_snapshots} snapshots"
        + (f" ({bundle.physics.first} to {bundle.physics.last})" if bundle.physics.first else ""),
        "bundle_version": m.get("bundle_version"),
        "training_data": m.get("training_data"),
        "versions": m.get("versions"),
    }
