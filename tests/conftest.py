import importlib
import os
import shutil

import pytest

from hypothesis import HealthCheck, settings

from firmware_io.recordings import ims as datasets
from tests.support import prebuilt_bundles

# Hypothesis times every example (200 ms deadline) and health-checks slow generation: on a loaded
# 2-core machine those are timing failures, not findings (issue 11 #21), and speed figures come from
# the benchmarks. So no deadline anywhere; the examples and the assertions stay the same. An emulated
# Raspberry Pi (.ci/arm-edge.sh passes --hypothesis-profile=emulated) is the same, 10-30x slower.
_UNTIMED = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("loaded-machine", **_UNTIMED)
settings.register_profile("emulated", **_UNTIMED)
settings.load_profile("loaded-machine")  # the default; --hypothesis-profile still chooses another

#: Under CI a real component that is missing is a failure, not a skip (CI installs them).
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_executable(name: str, package: str) -> str:
    """The path of ``name``; skip naming the Debian ``package`` when it is missing, fail under CI=true.

    ``make test`` installs these packages when it runs as root with apt (``.ci/system-packages.sh``).
    """
    path = shutil.which(name) or (name if os.path.isabs(name) and os.access(name, os.X_OK) else None)
    if path:
        return path
    reason = f"{name} not found: install the Debian package '{package}' (make test does it as root with apt)"
    if IN_CI:
        pytest.fail(f"CI=true: a real-component test cannot skip: {reason}")
    pytest.skip(reason)


#: What the desktop's packages (train, convert, benchmarks) import beyond the edge extra: an edge-only
#: install such as the emulated Pi of .ci/arm-edge.sh has none of them.
DESKTOP_ONLY = {"tensorflow", "keras", "sklearn", "pandas", "matplotlib", "rich"}


def import_or_skip_desktop(module: str):
    """Import ``module``; skip when it needs a desktop-only package that is not installed, fail under CI=true.

    Any other import error is raised: only the edge-only install's missing extras are a reason to skip.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] not in DESKTOP_ONLY:
            raise
        reason = f"{module} needs {e.name}, a desktop extra this edge-only install does not have"
        if IN_CI:
            pytest.fail(f"CI=true: the desktop extras are installed in CI: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def full_npz():
    """The packed full test 2, or a skip that says where it was looked for."""
    path = datasets.full_test2_npz()
    if path is None:
        pytest.skip(datasets.FULL_NPZ_MISSING)
    return path


# --- Trained model directories and converted bundles (tests/convert, tests/edge_agent/scoring) ---
# Training and conversion take seconds, so each is built once per session, on first use, under
# one session temp folder; the fixtures hand out cached builders, since tests ask for a T or variants.

#: Few epochs keep the session short; T=3 only exercises windows and restart state.
MODEL_EPOCHS = {1: 30, 3: 10}
ALL_VARIANTS = ("float32", "float16", "dynamic", "int8")


@pytest.fixture(scope="session")
def feature_table_path():
    """IMS test 2 features (984 snapshots); the reference CSV has identical values."""
    return datasets.FEATURES_TEST2 if datasets.FEATURES_TEST2.is_file() else \
        datasets.REFERENCE_DIR / "DatasetBearingTest_2.csv"


@pytest.fixture(scope="session")
def built_models(tmp_path_factory):
    """The session's folder for model directories and bundles."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before the first build imports TensorFlow
    return tmp_path_factory.mktemp("convert-builds")


@pytest.fixture(scope="session")
def model_fit(built_models, feature_table_path):
    """``model_fit(timesteps=1)``: the :class:`train.fit.FitResult` of the session's model for ``timesteps``.

    ``bearing-train fit``'s Python API on IMS test 2 up to ``TEST2_TRAIN_UNTIL``, seed 0,
    :data:`MODEL_EPOCHS` epochs, no plots. Every test that needs "a model trained like the
    desktop does" shares it (tests/convert, tests/edge_agent/scoring, tests/train, the
    commissioning e2e test): a fit costs ~10-30 s, mostly TensorFlow tracing the training
    step, whatever the epochs. The folder and the result are read-only: copy to edit.
    """
    made = {}

    def build(timesteps: int = 1):
        if timesteps not in made:
            pytest.importorskip("tensorflow", reason="training a test model needs TensorFlow (a Pi has none)")
            from train.fit import fit_model_dir

            epochs = MODEL_EPOCHS.get(timesteps, 10)
            out = built_models / f"model_T{timesteps}_e{epochs}"
            made[timesteps] = fit_model_dir(feature_table_path, out, datasets.TEST2_TRAIN_UNTIL,
                                            timesteps=timesteps, seed=0, epochs=epochs, make_plots=False)
        return made[timesteps]
    return build


@pytest.fixture(scope="session")
def model_dir(model_fit):
    """``model_dir(timesteps=1)``: the folder of :func:`model_fit`'s model (a real ``bearing-train fit`` output)."""
    return lambda timesteps=1: model_fit(timesteps).out


@pytest.fixture(scope="session")
def tflite_python():
    """The tflite-runtime env's python, built on first use; a str is the reason it is unavailable."""
    import subprocess

    from convert import tflite_env

    if prebuilt_bundles.in_use():
        return f"${prebuilt_bundles.ENV}: the bundles were built elsewhere; no tflite-runtime env is built here"
    py = tflite_env.tflite_python()
    if py is not None:
        return py
    try:
        return tflite_env.create_venv()
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        return (f"cannot build the tflite-runtime env ({exc}); pip could not reach the registry or "
                "python3.11 is missing")


@pytest.fixture(scope="session")
def converted(model_dir, tflite_python, built_models, feature_table_path):
    """``converted(timesteps=1, variants=ALL_VARIANTS)``: the bundle of the session's model.

    Depends on ``tflite_python`` so that the env exists first and both runtimes are gated.
    """
    made = {}

    def build(timesteps: int = 1, variants: tuple[str, ...] = ALL_VARIANTS):
        key = (timesteps, tuple(variants))
        name = f"bundle_T{timesteps}_{'-'.join(variants)}"
        if key not in made and (prebuilt := prebuilt_bundles.prebuilt_bundle(name)) is not None:
            made[key] = prebuilt_bundles.PrebuiltConversion(prebuilt)
        if key not in made:
            from convert.pipeline import convert_model_dir

            made[key] = convert_model_dir(model_dir(timesteps),
                                          built_models / name,
                                          variants=variants, data=feature_table_path)
        return made[key]
    return build


@pytest.fixture(scope="session")
def copy_bundle():
    """``copy_bundle(src, dst)``: a copy of a bundle directory to edit, returned."""
    def copy(src, dst):
        shutil.copytree(src, dst)
        return dst
    return copy


@pytest.fixture(scope="session")
def resign():
    """``resign(bundle, mutate_manifest=None)``: recompute the manifest checksums and bundle id after a
    deliberate edit (to reach the checks after them)."""
    import json

    from edge_agent.scoring.bundle import sha256_file
    from edge_agent.scoring.manifest import content_id

    def sign(bundle, mutate_manifest=None):
        manifest = json.loads((bundle / "manifest.json").read_text())
        if mutate_manifest:
            mutate_manifest(manifest)
        manifest["files"] = {name: sha256_file(bundle / name) for name in manifest["files"]
                             if (bundle / name).exists()}
        manifest["bundle_id"] = content_id(manifest)
        (bundle / "manifest.json").write_text(json.dumps(manifest, allow_nan=True))
    return sign
