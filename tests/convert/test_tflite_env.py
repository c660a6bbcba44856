"""The bundle on tflite-runtime 2.14 + numpy < 2, in a second, minimal environment.

The session builds ``.venv-tflite`` (python3.11 -m venv; pip install
tflite-runtime==2.14.0 "numpy<2"; this package with --no-deps) or reuses it.
That environment has no TensorFlow and no ai-edge-litert, so a bundle scored
there proves the edge code path needs neither.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from convert.tflite_env import REPO_ROOT
from edge_agent.scoring.bundle import BundleError, load_bundle
from edge_agent.scoring.scores import ScoreTable

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def py(tflite_python):
    found = tflite_python
    if isinstance(found, str):
        pytest.skip(found)
    return found


def _run(py, *args):
    return subprocess.run([str(py), *args], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)


def test_second_env_is_minimal(py):
    proc = _run(py, "-c", "import numpy, importlib.util as u; print(numpy.__version__, "
                          "u.find_spec('tensorflow') is None, u.find_spec('ai_edge_litert') is None)")
    version, no_tf, no_litert = proc.stdout.split()
    assert int(version.split(".")[0]) < 2 and no_tf == "True" and no_litert == "True"


def test_default_bundle_on_tflite_runtime_decides_like_keras(py, tmp_path, converted, model_dir, feature_table_path):
    result = converted()
    out = tmp_path / "scores.csv"
    proc = _run(py, "-m", "edge_agent.cli.score", "score", "--bundle", str(result.archive),
                str(feature_table_path), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert f"with {result.default_variant} on tflite-runtime" in proc.stdout  # auto picked it
    edge, keras = ScoreTable.read(out), ScoreTable.read(model_dir() / "scores.csv")
    assert np.array_equal(edge.timestamps, keras.timestamps)
    assert np.array_equal(edge.over_threshold, keras.over_threshold)
    assert np.array_equal(edge.alarm, keras.alarm)


def test_every_bundled_variant_loads_on_tflite_runtime(py, converted):
    result = converted()
    for variant in result.bundled:
        assert "tflite-runtime" in result.manifest["variants"][variant]["runtimes"], variant
        proc = _run(py, "-m", "edge_agent.cli.score", "check-bundle", str(result.bundle_dir), "--variant", variant)
        assert proc.returncode == 0, proc.stderr
        assert f"variant {variant} on tflite-runtime" in proc.stdout


def test_second_env_refuses_a_variant_marked_litert_only(py, tmp_path, converted, copy_bundle, resign):
    b = copy_bundle(converted().bundle_dir, tmp_path / "b")
    resign(b, lambda m: m["variants"]["int8"].__setitem__("runtimes", ["ai-edge-litert"]))
    proc = _run(py, "-m", "edge_agent.cli.score", "check-bundle", str(b), "--variant", "int8")
    assert proc.returncode == 2
    assert "variant 'int8' needs one of ['ai-edge-litert']" in proc.stderr
    assert "runtime 'ai-edge-litert' is not installed" in proc.stderr
    # ai-edge-litert has no wheel for a 32-bit Pi: the refusal says how to get a bundle that runs here instead
    assert "reconvert it" in proc.stderr and "pip install ai-edge-litert" not in proc.stderr


def test_main_env_explains_why_tflite_runtime_is_unusable(converted):
    """Here numpy is 2.x and tflite-runtime is absent: asking for it gets a clear refusal."""
    with pytest.raises(BundleError, match=r"needs one of .*tflite-runtime.*(not installed|numpy<2)"):
        load_bundle(converted().bundle_dir, runtime="tflite-runtime")


def test_edge_modules_do_not_import_tensorflow():
    code = ("import sys, edge_agent.scoring.bundle, edge_agent.scoring.runtime, edge_agent.scoring.scorer, edge_agent.cli.score;"
            "bad = [m for m in ('tensorflow', 'keras', 'sklearn', 'pandas') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
