"""bearing-convert: builtin-ops variants, the parity gate, the bundle, the default variant."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="desktop test: a Pi has no TensorFlow (.ci/arm-edge.sh)")

from convert.cli import main as convert_main
from convert.pipeline import ConversionError, convert_model_dir
from edge_agent.scoring.bundle import load_bundle
from edge_agent.features.table import read_feature_table
from edge_agent.scoring.scores import ScoreTable
from edge_agent.cli.score import main as score_main

pytestmark = pytest.mark.slow  # trains a model (once per session) and converts four variants


@pytest.fixture(scope="module")
def result(converted):
    return converted()


def _op_names(model_path) -> set[str]:
    from ai_edge_litert.interpreter import Interpreter

    return {op["op_name"] for op in Interpreter(model_path=str(model_path))._get_ops_details()}


def test_every_variant_uses_builtin_ops_only(result):
    for v in result.bundled:
        ops = _op_names(result.bundle_dir / f"model_{v}.tflite")
        assert not any(op.startswith("Flex") or op in ("CUSTOM", "WHILE", "READ_VARIABLE") for op in ops), (v, ops)
    int8_ops = _op_names(result.bundle_dir / "model_int8.tflite")
    assert {"QUANTIZE", "DEQUANTIZE"} <= int8_ops  # float interface, int8 inside


def test_default_is_a_quantized_variant_that_passes_the_gate_on_both_runtimes(result, tflite_python,
                                                                             feature_table_path):
    m = result.manifest
    default = m["variants"][m["default_variant"]]
    assert default["quantized"] and default["parity"]["passed"] and not default["forced"]
    expected = {"ai-edge-litert"} if isinstance(tflite_python, str) else {"ai-edge-litert", "tflite-runtime"}
    assert set(default["runtimes"]) == expected, default["parity"]
    n = len(read_feature_table(feature_table_path))
    for r in default["parity"]["results"]:
        assert r["n_snapshots"] == n and r["over_agreement"] == 1.0 and r["alarm_agreement"] == 1.0


def test_manifest_records_spec_checksums_fingerprint_and_versions(result):
    m = json.loads((result.bundle_dir / "manifest.json").read_text())
    assert m["schema_version"] == 2
    assert set(m["files"]) == {"scaler.json", *(f"model_{v}.tflite" for v in result.bundled)}
    spec = m["feature_spec"]
    assert (spec["sample_rate_hz"], spec["samples_per_snapshot"], spec["feature"]) == (20_000, 20_480, "mean_abs")
    assert m["threshold"]["debounce"] >= 1 and m["threshold"]["value"] > 0
    assert len(m["training_data"]["parity_table_sha256"]) == 64
    assert {"tensorflow", "keras", "ai-edge-litert"} <= set(m["versions"])
    cal = m["variants"]["int8"]["calibration"]
    # The test period drives inputs far outside the healthy calibration range...
    assert cal["scaled_input_max_in_table"] > 10 * max(cal["input_max"])
    assert cal["snapshots_outside_calibration_range"] > 0
    assert cal["max_overshoot_below_threshold"] <= cal["scaled_input_max_in_table"]


def test_default_bundle_scores_like_the_keras_scores_csv(result, tmp_path, model_dir, feature_table_path):
    """`bearing-agent score` on the edge path decides like the training step, row by row."""
    out = tmp_path / "scores.csv"
    assert score_main(["score", "--bundle", str(result.archive), str(feature_table_path), "-o", str(out)]) == 0
    edge, keras = ScoreTable.read(out), ScoreTable.read(model_dir() / "scores.csv")
    assert np.array_equal(edge.timestamps, keras.timestamps)
    assert np.array_equal(edge.over_threshold, keras.over_threshold)
    assert np.array_equal(edge.alarm, keras.alarm)
    assert edge.alarm.any() and not edge.alarm[:100].any()  # it does alarm, and not at the start
    assert np.nanmax(np.abs(edge.error - keras.error)) < 1e-2


def test_failing_variant_is_left_out_unless_forced(tmp_path, model_dir, converted, feature_table_path):
    """Put the threshold between the Keras and int8 errors of one snapshot: int8 must fail the gate."""
    md = tmp_path / "model"
    shutil.copytree(model_dir(), md)
    res = converted()
    int8 = next(r for r in res.parity if r.variant == "int8" and r.runtime == "ai-edge-litert")
    keras = ScoreTable.read(model_dir() / "scores.csv")
    edge = load_bundle(res.bundle_dir, variant="int8")
    from edge_agent.scoring.scorer import score_table
    scored = score_table(edge, read_feature_table(feature_table_path))
    i = int(np.nanargmax(np.abs(scored.error - keras.error)))
    assert abs(scored.error[i] - keras.error[i]) == pytest.approx(int8.max_abs_error_diff, rel=1e-3, abs=1e-9)
    threshold = json.loads((md / "threshold.json").read_text())
    threshold["value"] = float((scored.error[i] + keras.error[i]) / 2)
    (md / "threshold.json").write_text(json.dumps(threshold))

    gated = convert_model_dir(md, tmp_path / "gated", variants=["float32", "int8"], data=feature_table_path)
    assert gated.bundled == ["float32"] and gated.default_variant == "float32"
    assert not (tmp_path / "gated" / "model_int8.tflite").exists()
    failed = [r for r in gated.parity if r.variant == "int8" and not r.error]
    assert failed and all(not r.passed and r.over_agreement < 1.0 for r in failed)

    forced = convert_model_dir(md, tmp_path / "forced", variants=["float32", "int8"],
                               data=feature_table_path, force=True)
    m = forced.manifest
    assert m["force"] is True and m["variants"]["int8"]["forced"] is True
    assert m["variants"]["int8"]["parity"]["passed"] is False
    assert m["default_variant"] == "float32"  # a forced variant is never the default by itself


def test_cli_refuses_to_replace_a_folder_that_is_not_a_bundle(tmp_path, capsys, model_dir, feature_table_path):
    (tmp_path / "notes.txt").write_text("keep me")
    assert convert_main([str(model_dir()), "--out", str(tmp_path), "--data", str(feature_table_path)]) == 2
    assert "exists and is neither empty nor an earlier bundle" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_cli_reports_a_bad_model_dir(tmp_path, capsys):
    (tmp_path / "model.keras").write_text("")
    assert convert_main([str(tmp_path), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "not a complete model directory, missing ['scaler.json', 'threshold.json', 'metadata.json']" in err


def test_cli_writes_bundle_and_prints_parity_table(tmp_path, capsys, model_dir, feature_table_path):
    out = tmp_path / "b"
    assert convert_main([str(model_dir()), "--out", str(out), "--variant", "float16",
                         "--data", str(feature_table_path)]) == 0
    printed = capsys.readouterr().out
    assert "float16  ai-edge-litert" in printed and "default float16" in printed
    assert (tmp_path / "b.tar.gz").is_file() and load_bundle(out).variant == "float16"
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "model_float16.tflite", "scaler.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "b.tar.gz"]  # no staging folder left


def test_failed_conversion_leaves_the_previous_bundle_and_no_staging_folder(tmp_path, model_dir, feature_table_path):
    out = tmp_path / "b"
    first = convert_model_dir(model_dir(), out, variants=["float32"], data=feature_table_path)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(ConversionError, match=r"default variant 'int8' is not bundled"):
        convert_model_dir(model_dir(), out, variants=["float32"], data=feature_table_path, default="int8")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "b.tar.gz"]
    assert load_bundle(first.archive).bundle_id == load_bundle(out).bundle_id
