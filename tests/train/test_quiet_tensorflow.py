"""Issue 21 #30 and #35: `bearing-train fit` and `bearing-convert` run for real, in their own processes.

- #30: their stderr holds the kit's own lines only: none of TensorFlow's I0000/W0000/E0000 log lines,
  abseil's "before absl::InitializeLog()" warning, absl's Python warnings or the quantizer's
  "fully_quantize: ..." (they looked like errors to a new user);
- #35: ``fit --train-until`` takes a date alone, as ``export --since`` does (it was refused).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow", reason="desktop test: a Pi has no TensorFlow (.ci/arm-edge.sh)")

from firmware_io.recordings import ims as datasets
from train.quiet_tensorflow import filtered_stderr

ROOT = Path(__file__).resolve().parents[2]
#: Any line of TensorFlow's or abseil's logging, whatever its source file.
TF_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ |absl|^fully_quantize:|oneDNN", re.M)


def run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # the user's shell, not ours
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=env, timeout=900)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    out = tmp_path_factory.mktemp("quiet") / "model"
    # 50 epochs: from MIN_EPOCHS_TO_RETRY on, fit watches for a collapse, a path that imports Keras earlier
    done = run("train.cli", "fit", str(datasets.FEATURES_TEST2), "--train-until", "2004-02-15",
               "--epochs", "50", "--no-plots", "--out", str(out))
    return out, done


def test_fit_takes_a_date_alone_as_export_does(fitted):
    out, done = fitted
    assert done.returncode == 0, done.stderr
    split = json.loads((out / "metadata.json").read_text())["split"]
    assert split["train_until"] == "2004-02-15 00:00:00"
    assert split["n_healthy_snapshots"] == 369  # 2004-02-12 10:32:39 .. 02-14 23:52:39, one every 10 minutes


def test_fit_and_convert_print_no_tensorflow_log_lines(fitted, tmp_path):
    out, done = fitted
    assert done.returncode == 0, done.stderr
    assert "epoch 50/50" in done.stderr or "training again with seed" in done.stderr  # the kit's own lines are there
    assert not TF_LINE.search(done.stderr), done.stderr
    converted = run("convert.cli", str(out), "--out", str(tmp_path / "bundle"), "--variant", "float32",
                    "--variant", "float16", "--runtimes", "ai-edge-litert")
    assert converted.returncode == 0, converted.stderr
    assert "bundle:" in converted.stdout
    assert not TF_LINE.search(converted.stderr + converted.stdout), converted.stderr


def test_the_filter_passes_on_every_other_line_written_to_file_descriptor_2(capfd):
    with filtered_stderr():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        os.write(2, b"a real error from a library\n")
        os.write(2, b"fully_quantize: 0, inference_type: 6, input_inference_type: FLOAT32, output_inference_type: FLOAT32\n")
        os.write(2, b"the kit's own message\n")
    assert capfd.readouterr().err == "a real error from a library\nthe kit's own message\n"
