"""Every conversion checks both runtimes, from any working directory, and a check that cannot run fails it
(issue 11 #15, #16)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow", reason="desktop test: a Pi has no TensorFlow (.ci/arm-edge.sh)")

from convert import tflite_env  # noqa: E402
from convert.pipeline import ConversionError, convert_model_dir  # noqa: E402

pytestmark = pytest.mark.slow  # converts the session's model (float16 only)


def test_bearing_convert_from_another_directory_with_relative_paths_checks_both_runtimes(
        tmp_path, model_dir, feature_table_path, tflite_python):
    if isinstance(tflite_python, str):
        pytest.skip(tflite_python)
    work = tmp_path / "elsewhere"
    (work / "data").mkdir(parents=True)
    shutil.copytree(model_dir(), work / "model")
    shutil.copyfile(feature_table_path, work / "data" / "features.csv")
    proc = subprocess.run([sys.executable, "-m", "convert.cli", "model", "--out", "bundles/b", "--data",
                           "data/features.csv", "--variant", "float16"], cwd=work, capture_output=True, text=True,
                          timeout=900, env={**os.environ, "BEARING_EDGE_TFLITE_PYTHON": str(tflite_python)})
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((work / "bundles" / "b" / "manifest.json").read_text())
    float16 = manifest["variants"]["float16"]
    # Before: the tflite-runtime check ran in the repo root with these relative paths, failed, and the
    # bundle was still written (exit 0) for ai-edge-litert only.
    assert float16["runtimes"] == ["ai-edge-litert", "tflite-runtime"], float16["parity"]
    assert [r["runtime"] for r in float16["parity"]["results"] if r["passed"]] == ["ai-edge-litert", "tflite-runtime"]


def _failing_tflite_check(monkeypatch):
    monkeypatch.setattr(tflite_env, "ensure_python", lambda progress=None: Path("/nonexistent/python"))
    monkeypatch.setattr(tflite_env, "score_in_tflite_env", lambda *a, **k: subprocess.CompletedProcess(
        a, 1, "", "Traceback ...\nBundleError: .bundle.x.tmp: no such bundle directory"))


def test_a_runtime_check_that_cannot_run_fails_the_conversion_and_writes_no_bundle(tmp_path, monkeypatch, model_dir,
                                                                                   feature_table_path):
    _failing_tflite_check(monkeypatch)
    out = tmp_path / "b"
    with pytest.raises(ConversionError, match=r"the parity gate could not run float16 on tflite-runtime \(BundleError: "
                                              r"\.bundle\.x\.tmp: no such bundle directory\): no bundle written.*"
                                              r"--force.*--runtimes ai-edge-litert"):
        convert_model_dir(model_dir(), out, variants=["float16"], data=feature_table_path)
    assert not out.exists() and not out.with_name("b.tar.gz").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no staging folder either

    forced = convert_model_dir(model_dir(), out, variants=["float16"], data=feature_table_path, force=True)
    assert forced.manifest["force"] is True and forced.manifest["variants"]["float16"]["runtimes"] == ["ai-edge-litert"]


def test_runtimes_ai_edge_litert_skips_the_tflite_runtime_check_knowingly(tmp_path, monkeypatch, model_dir,
                                                                          feature_table_path):
    def no_env(progress=None):
        raise AssertionError("the tflite-runtime environment must not be looked for")

    monkeypatch.setattr(tflite_env, "ensure_python", no_env)
    result = convert_model_dir(model_dir(), tmp_path / "b", variants=["float16"], data=feature_table_path,
                               runtimes=["ai-edge-litert"])
    assert [r.runtime for r in result.parity] == ["ai-edge-litert"] and result.parity[0].passed
    assert result.manifest["variants"]["float16"]["runtimes"] == ["ai-edge-litert"]
    assert "not checked" not in result.manifest["parity_summary"]


def test_the_environment_is_created_once_in_the_users_cache_with_a_progress_message(tmp_path, monkeypatch):
    monkeypatch.delenv("BEARING_EDGE_TFLITE_PYTHON", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(tflite_env, "LEGACY_VENV", tmp_path / "no-legacy-venv")
    assert tflite_env.cache_venv() == tmp_path / "xdg" / "bearing-edge" / "tflite-runtime-venv"
    created, messages = [], []

    def create(python, venv):
        created.append(venv)
        return venv / "bin" / "python"

    monkeypatch.setattr(tflite_env, "create_venv", create)
    assert tflite_env.ensure_python(messages.append) == tflite_env.cache_venv() / "bin" / "python"
    assert created == [tflite_env.cache_venv()]
    assert messages == [f"creating the tflite-runtime check environment in {tflite_env.cache_venv()} (once; pip "
                        "downloads about 5 MB)"]
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert tflite_env.cache_venv() == tmp_path / "home" / ".cache" / "bearing-edge" / "tflite-runtime-venv"


def test_an_environment_that_cannot_be_built_says_how_to_skip_the_check(tmp_path, monkeypatch):
    monkeypatch.delenv("BEARING_EDGE_TFLITE_PYTHON", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(tflite_env, "LEGACY_VENV", tmp_path / "no-legacy-venv")

    def pip_fails(python, venv):
        raise subprocess.CalledProcessError(1, ["pip", "install"])

    monkeypatch.setattr(tflite_env, "create_venv", pip_fails)
    with pytest.raises(tflite_env.TfliteEnvError, match=r"cannot create the tflite-runtime check environment in .*"
                                                        r"pass --runtimes ai-edge-litert to convert without"):
        tflite_env.ensure_python()
