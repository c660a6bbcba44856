"""Issue 22 #3: a bundle proves it can decide. Its reference windows are scored again at load, by
check-bundle and in the probe; a model that copies its input, outputs log(0), or is not the model the
gate measured is refused; ``score`` exits non-zero when it could score nothing.

Before: the identity model passed check-bundle and never alarmed, the log(0) model passed and ``score``
said "scored 0 of 984" with exit 0.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.scoring.bundle import BundleError, load_bundle

FIXTURES = Path(__file__).parent / "fixtures"


def test_a_converted_bundle_reproduces_its_reference_windows_on_every_variant(bundle_dir):
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    kinds = [w["kind"] for w in manifest["reference"]["windows"]]
    assert kinds == ["healthy"] * 3 + ["over"] * 3 and manifest["reference"]["healthy_only"] is False
    threshold = manifest["threshold"]["value"]
    for w in manifest["reference"]["windows"]:  # chosen clear of the threshold
        assert (w["keras_error"] < 0.8 * threshold) if w["kind"] == "healthy" else (w["keras_error"] > 1.2 * threshold)
    for variant in manifest["variants"]:
        bundle = load_bundle(bundle_dir, variant=variant)
        assert bundle.reference.healthy == 3 and bundle.reference.over == 3
        assert bundle.reference.max_difference <= bundle.reference.tolerance


@pytest.mark.parametrize("fixture, message", [
    ("identity_T1_f4.tflite", r"the model returns its input unchanged \(error 0 on an all-0 and an all-1 window\): "
                              r"its error can never pass the threshold .* so this bundle would never alarm"),
    ("log0_T1_f4.tflite", r"the model's error is inf on an all-0 window and inf on an all-1 window: it outputs no "
                          r"usable numbers \(inf or NaN, e.g\. log\(0\)\), so this bundle could score nothing"),
])
def test_a_model_that_cannot_decide_is_refused_by_check_bundle(copy, resign, fixture, message):
    """The issue's two models, put in a genuine bundle with the checksums and the id made to match."""
    shutil.copyfile(FIXTURES / fixture, copy / "model_float32.tflite")
    resign(copy)
    proc = subprocess.run([sys.executable, "-m", "edge_agent.cli.main", "check-bundle", str(copy),
                           "--variant", "float32"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "model_float32.tflite: " in proc.stderr
    import re
    assert re.search(message, proc.stderr), proc.stderr


def test_a_schema_1_bundle_without_reference_windows_is_still_refused_when_it_cannot_score(copy, resign):
    """Old bundles carry no reference windows; the edge check (error finite, not zero everywhere) still runs."""
    shutil.copyfile(FIXTURES / "log0_T1_f4.tflite", copy / "model_float32.tflite")

    def schema_1(manifest):
        manifest["schema_version"] = 1
        del manifest["reference"]
    resign(copy, schema_1)
    with pytest.raises(BundleError, match=r"model_float32\.tflite: the model's error is inf"):
        load_bundle(copy, variant="float32")


def test_another_valid_model_under_a_consistent_manifest_is_refused_by_its_reference_errors(copy, resign, tmp_path):
    """A model that runs and scores, but is not the one the gate measured: its checksum and id fixed up."""
    from tests.edge_agent.scoring.test_bundle_ondisk import other_model

    (copy / "model_float32.tflite").write_bytes(other_model(copy / "model_float32.tflite", tmp_path / "try.tflite"))
    resign(copy)
    with pytest.raises(BundleError, match=r"model_float32\.tflite: (reference window \d \((healthy|over), 2004-.*\): the "
                                          r"model's error is [\d.e+-]+ here, [\d.e+-]+ when bearing-convert gated "
                                          r"float32 on [a-z-]+ \(tolerance [\d.e+-]+\): the model is not the one that "
                                          r"was verified|none of the 3 reference windows past the threshold)"):
        load_bundle(copy, variant="float32")


def test_a_bundle_that_cannot_put_any_window_over_its_threshold_is_refused(copy, resign):
    """A threshold raised above every reference window (the id made to match): it would never alarm."""
    def raise_threshold(manifest):
        top = max(w["keras_error"] for w in manifest["reference"]["windows"])
        manifest["threshold"]["value"] = top * 2
        for info in manifest["variants"].values():
            info["threshold"] = top * 2
    resign(copy, raise_threshold)
    with pytest.raises(BundleError, match=r"none of the 3 reference windows past the threshold when the bundle was "
                                          r"converted is over it here \(largest error [\d.]+, threshold [\d.]+\): "
                                          r"this model cannot alarm"):
        load_bundle(copy, variant="float32")


def test_a_bundle_that_puts_a_healthy_window_over_its_threshold_is_refused(copy, resign):
    """A threshold lowered under the healthy errors (the id made to match): it would alarm on a healthy machine."""
    def lower_threshold(manifest):
        low = min(w["keras_error"] for w in manifest["reference"]["windows"]) / 2
        manifest["threshold"]["value"] = low
        for info in manifest["variants"].values():
            info["threshold"] = low
    resign(copy, lower_threshold)
    with pytest.raises(BundleError, match=r"reference window \d \(healthy, 2004-.*\): a healthy window of the "
                                          r"training period has an error of [\d.]+ here, over the threshold [\d.]+: "
                                          r"this bundle would alarm on the healthy machine it was trained on"):
        load_bundle(copy, variant="float32")


def test_a_healthy_only_bundle_says_so_and_is_checked_against_its_healthy_errors(copy, resign):
    def healthy_only(manifest):
        keep = [k for k, w in enumerate(manifest["reference"]["windows"]) if w["kind"] == "healthy"]
        manifest["reference"]["windows"] = [manifest["reference"]["windows"][k] for k in keep]
        manifest["reference"]["healthy_only"] = True
        for info in manifest["variants"].values():
            info["reference_errors"] = {rt: [e[k] for k in keep] for rt, e in info["reference_errors"].items()}
    resign(copy, healthy_only)
    bundle = load_bundle(copy, variant="float32")
    assert bundle.reference.healthy_only and bundle.reference.text().startswith(
        "trained on healthy data only: no window past the threshold to show; its 3 healthy reference errors "
        "reproduced")
    proc = subprocess.run([sys.executable, "-m", "edge_agent.cli.main", "check-bundle", str(copy)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "  reference: trained on healthy data only" in proc.stdout, proc.stderr
    shutil.copyfile(FIXTURES / "identity_T1_f4.tflite", copy / "model_float16.tflite")  # still refused
    resign(copy)
    with pytest.raises(BundleError, match=r"returns its input unchanged"):
        load_bundle(copy, variant="float16")


def test_malformed_reference_windows_are_refused_with_the_field_named(copy, resign):
    resign(copy, lambda m: m["reference"]["windows"][0].__setitem__("features", [[1.0, 2.0]]))
    with pytest.raises(BundleError, match=r"manifest\.json: reference\.windows\[0\]\.features must be 1 rows of 4 "
                                          r"finite numbers, got shape \[1, 2\]"):
        load_bundle(copy)


def test_the_probe_scores_the_reference_windows_in_its_child(bundle_dir):
    """The child gets the model's bytes and the scaled reference windows on its stdin and invokes both."""
    import numpy as np

    from edge_agent.scoring.probe import ModelCrashed, probe_model

    bundle = load_bundle(bundle_dir)
    model = bundle.model_content
    windows = np.zeros((2, 1, 4), dtype=np.float32)
    probe_model(model, bundle.runtime, windows=windows)
    # half a model fails to load (ai-edge-litert, x86) or kills the child (tflite-runtime on armhf): refused either way
    with pytest.raises(ModelCrashed, match=r"half\.tflite: (a test load and invoke on .* failed|the model crashed "
                                           r"the [a-z-]+ runtime \(SIGSEGV\))"):
        probe_model(model[:len(model) // 2], bundle.runtime, name="half.tflite", windows=windows)


def test_score_exits_non_zero_when_nothing_could_be_scored(bundle_dir, tmp_path):
    """Values the model cannot take (finite in the table, inf once scaled into float32): no finite error."""
    table = tmp_path / "huge.csv"
    table.write_text("timestamp,Bearing 1,Bearing 2,Bearing 3,Bearing 4\n"
                     "2004-02-12 10:32:39,1e300,1e300,1e300,1e300\n2004-02-12 10:42:39,1e300,1e300,1e300,1e300\n")
    proc = subprocess.run([sys.executable, "-m", "edge_agent.cli.main", "score", "--bundle", str(bundle_dir),
                           str(table), "-o", str(tmp_path / "s.csv")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)  # was 0 with "scored 0 of 2"
    assert "scored 0 of 2 snapshots" in proc.stdout
    assert "bearing-agent score: nothing could be scored: no snapshot of" in proc.stderr


def test_rounding_far_past_the_threshold_is_not_a_different_model(copy, resign):
    """On an emulated armhf Pi (tflite-runtime flushes denormals, NEON rounds otherwise) float16 gave 30.2231 for a
    saturated window gated at 30.2234 with a threshold of 0.25: 1e-5 of the error, more than the 1e-3 of the threshold
    the check allowed, so the genuine bundle was refused. The tolerance is relative to the error there too; a change
    of 1 % of a window's error is still a different model."""
    manifest = json.loads((copy / "manifest.json").read_text())
    threshold = manifest["threshold"]["value"]
    windows = manifest["reference"]["windows"]
    k = max(range(len(windows)), key=lambda i: windows[i]["keras_error"])
    assert windows[k]["keras_error"] > 2 * threshold  # a window far past it, as the saturated ones are

    def shift(fraction):
        def mutate(m):
            for errors in m["variants"]["float32"]["reference_errors"].values():
                errors[k] *= 1 + fraction
        return mutate

    # 5e-4 of this error is more than 1e-3 of the threshold (the old tolerance): refused before, rounding now
    resign(copy, shift(5e-4))
    assert load_bundle(copy, variant="float32").reference.over == 3
    resign(copy, shift(1e-2 / (1 + 5e-4)))  # now 1 % off in all
    with pytest.raises(BundleError, match=rf"reference window {k} \(over, .*\): the model's error is .* here"):
        load_bundle(copy, variant="float32")
