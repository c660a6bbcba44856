"""Inference: every TFLite variant against the Keras model, latency, size and memory, one run.

Per variant: file size and single-snapshot latency (set input, invoke, read
output) on ai-edge-litert here and on tflite-runtime 2.14 (numpy < 2, the
second environment ``.venv-tflite``, in a subprocess). Beside them, on the same
window, the Keras model's ``predict``, direct call ``model(x)`` and
``predict_on_batch``. The goal is the deployed variant at least 100x faster
than the fastest Keras call. Then the whole edge path per snapshot
(``SnapshotScorer.score``: scaling, window, invoke, error, debounce), the floor
(the runtime's invoke on a trivial model with the same input size) and the
model's multiply-accumulate count. Memory: peak RSS of a fresh process that
loads only the runtime and the bundle and scores one snapshot, against one that
loads the Keras model and predicts once; goal at most 50 MiB for the edge.

Run: ``python -m benchmarks.bench_inference`` (``--quick``: fewer epochs and repeats).
Set ``BEARING_EDGE_BENCH_MODEL_DIR`` to benchmark an existing model directory.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from benchmarks.harness import BenchResult, format_seconds, measure  # noqa: E402
from convert import tflite_env  # noqa: E402
from edge_agent.features.table import read_feature_table  # noqa: E402
from firmware_io.recordings import ims as datasets  # noqa: E402
from train import model_dir  # noqa: E402

GOAL_SPEEDUP = 100.0
GOAL_EDGE_MIB = 50.0
REPO = datasets.REPO_ROOT

# Runs in a fresh interpreter (either environment): time one model's invoke with the shared harness.
_LATENCY_SCRIPT = """
import json, sys, numpy as np
from benchmarks.harness import measure
from edge_agent.scoring.runtime import ModelRunner
runner = ModelRunner(sys.argv[1], sys.argv[2])
x = np.load(sys.argv[3]).astype(np.float32)
t = measure(lambda: runner(x), repeats=int(sys.argv[4]))
print(json.dumps(t.as_dict()))
"""

# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child of this (TensorFlow-sized)
# process would report the parent's peak. VmHWM belongs to the new address space only.
_PEAK = """
def peak_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
"""

# Peak memory of a process that loads only the runtime + bundle and scores one snapshot.
_EDGE_MEMORY_SCRIPT = _PEAK + """
import json, sys, numpy as np
from edge_agent.scoring.bundle import load_bundle
from edge_agent.scoring.scorer import SnapshotScorer
bundle = load_bundle(sys.argv[1], runtime=sys.argv[2])
scorer = SnapshotScorer(bundle)
for row in np.load(sys.argv[3]):
    s = scorer.score(row)
heavy = [m for m in ("tensorflow", "keras") if m in sys.modules]
print(json.dumps({"maxrss_kib": peak_kib(), "error": s.error, "heavy_modules": heavy}))
"""

_KERAS_MEMORY_SCRIPT = _PEAK + """
import json, os, sys, numpy as np
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import keras
model = keras.models.load_model(sys.argv[1], compile=False)
model.predict_on_batch(np.load(sys.argv[2]).astype(np.float32))
print(json.dumps({"maxrss_kib": peak_kib()}))
"""


def _model_dir(tmp: Path, quick: bool) -> Path:
    given = os.environ.get("BEARING_EDGE_BENCH_MODEL_DIR")
    if given:
        return Path(given)
    from train.fit import fit_model_dir

    out = tmp / "model"
    fit_model_dir(datasets.FEATURES_TEST2, out, datasets.TEST2_TRAIN_UNTIL, epochs=30 if quick else 100,
                  make_plots=False)
    return out


def mac_count(model) -> int:
    """Multiply-accumulates per window actually executed by the converted graph.

    Per LSTM layer (kernel ``in x 4u``, recurrent ``u x 4u``): ``T * in * 4u``
    for the input and ``(T - 1) * u * 4u`` for the recurrence (the first step's
    state is zero, and the converter folds that product away); per
    ``TimeDistributed(Dense)``: ``T * in * out``. Gate nonlinearities and
    elementwise products are not MACs and are left out.
    """
    T = int(model.input_shape[1])
    total = 0
    for layer in model.layers:
        weights = layer.get_weights()
        if layer.__class__.__name__ == "LSTM":
            kernel, recurrent = weights[0], weights[1]
            total += T * kernel.size + (T - 1) * recurrent.size
        elif layer.__class__.__name__ == "TimeDistributed":
            total += T * weights[0].size
    return total


def _trivial_model(timesteps: int, n: int) -> bytes:
    """A one-op model with the same input and output shape: the runtime's per-invoke floor."""
    import tensorflow as tf

    fn = tf.function(lambda x: x * 2.0, input_signature=[tf.TensorSpec([1, timesteps, n], tf.float32)])
    return tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()]).convert()


def _subprocess_json(cmd: list[str]) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if proc.returncode != 0:
        return {"failed": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> BenchResult:
    from convert.pipeline import convert_model_dir
    from edge_agent.scoring.bundle import load_bundle
    from edge_agent.scoring.runtime import ModelRunner
    from edge_agent.scoring.scorer import SnapshotScorer

    repeats = 3 if quick else 7
    tmp = Path(tempfile.mkdtemp(prefix="bench-inference-"))
    md_path = _model_dir(tmp, quick)
    result = convert_model_dir(md_path, tmp / "bundle", data=datasets.FEATURES_TEST2)
    bundle = load_bundle(result.bundle_dir)
    model = model_dir.read_model_dir(md_path).model
    T, n = bundle.spec.timesteps, bundle.spec.n_features
    table = read_feature_table(datasets.FEATURES_TEST2)
    window = bundle.scaler.transform(table.values[-T:]).astype(np.float32)[None]  # a failing-bearing window
    np.save(tmp / "window.npy", window)
    np.save(tmp / "rows.npy", table.values[-T:])
    tflite_py = tflite_env.tflite_python()

    variants = {}
    for v in result.bundled:
        path = result.bundle_dir / f"model_{v}.tflite"
        runner = ModelRunner(path, "ai-edge-litert")
        row = {"size_bytes": path.stat().st_size,
               "litert": measure(lambda r=runner: r(window), repeats=repeats).as_dict()}
        if tflite_py is not None:
            row["tflite_runtime"] = _subprocess_json([str(tflite_py), "-c", _LATENCY_SCRIPT, str(path),
                                                      "tflite-runtime", str(tmp / "window.npy"), str(repeats)])
        variants[v] = row

    keras_t = {
        "predict": measure(lambda: model.predict(window, verbose=0), repeats=repeats).as_dict(),
        "direct call": measure(lambda: model(window, training=False), repeats=repeats).as_dict(),
        "predict_on_batch": measure(lambda: model.predict_on_batch(window), repeats=repeats).as_dict(),
    }
    fastest_keras = min(k["median_s"] for k in keras_t.values())
    deployed = result.default_variant
    deployed_s = variants[deployed]["litert"]["median_s"]

    scorer = SnapshotScorer(bundle)
    rows = list(table.values)
    it = iter(rows * 1000)
    scorer_t = measure(lambda: scorer.score(next(it)), repeats=repeats).as_dict()

    trivial = tmp / "trivial.tflite"
    trivial.write_bytes(_trivial_model(T, n))
    trivial_runner = ModelRunner(trivial, "ai-edge-litert")
    floor = {"litert": measure(lambda: trivial_runner(window), repeats=repeats).as_dict()}
    if tflite_py is not None:
        floor["tflite_runtime"] = _subprocess_json([str(tflite_py), "-c", _LATENCY_SCRIPT, str(trivial),
                                                    "tflite-runtime", str(tmp / "window.npy"), str(repeats)])

    memory = {"edge (ai-edge-litert)": _subprocess_json([sys.executable, "-c", _EDGE_MEMORY_SCRIPT,
                                                         str(result.archive), "ai-edge-litert",
                                                         str(tmp / "rows.npy")]),
              "keras": _subprocess_json([sys.executable, "-c", _KERAS_MEMORY_SCRIPT,
                                         str(md_path / model_dir.MODEL), str(tmp / "window.npy")])}
    if tflite_py is not None:
        memory["edge (tflite-runtime)"] = _subprocess_json([str(tflite_py), "-c", _EDGE_MEMORY_SCRIPT,
                                                            str(result.archive), "tflite-runtime",
                                                            str(tmp / "rows.npy")])
    edge_mib = memory["edge (ai-edge-litert)"].get("maxrss_kib", float("nan")) / 1024

    figures = {
        "timesteps": T, "channels": n, "macs_per_window": mac_count(model), "default_variant": deployed,
        "variants": variants, "keras": keras_t, "scorer_per_snapshot": scorer_t, "floor": floor,
        "memory": memory, "speedup_vs_fastest_keras": fastest_keras / deployed_s,
        "goal_speedup": GOAL_SPEEDUP, "meets_speed_goal": fastest_keras / deployed_s >= GOAL_SPEEDUP,
        "edge_peak_mib": edge_mib, "goal_edge_mib": GOAL_EDGE_MIB, "meets_memory_goal": edge_mib <= GOAL_EDGE_MIB,
        "parity": [r.as_dict() for r in result.parity],
    }
    goals = {f"deployed variant >= {GOAL_SPEEDUP:g}x faster than Keras": figures["meets_speed_goal"],
             f"edge process <= {GOAL_EDGE_MIB:g} MiB": figures["meets_memory_goal"]}
    return BenchResult("inference", "Inference: TFLite variants vs Keras", figures, _markdown(figures, result), goals)


def _t(d: dict | None) -> str:
    if not d:
        return "-"
    if "failed" in d:
        return f"fails: {d['failed'][:60]}"
    return f"{format_seconds(d['median_s'])} ({format_seconds(d['p10_s'])}-{format_seconds(d['p90_s'])})"


def _markdown(f: dict, result) -> str:
    lines = [f"IMS test 2, T={f['timesteps']}, {f['channels']} channels, one window per call (batch 1), "
             f"single thread. {f['macs_per_window']} multiply-accumulates per window. Deployed variant: "
             f"**{f['default_variant']}**.", "",
             "| model | size | ai-edge-litert | tflite-runtime 2.14 |", "|---|---:|---:|---:|"]
    for v, row in f["variants"].items():
        mark = " (deployed)" if v == f["default_variant"] else ""
        lines.append(f"| {v}{mark} | {row['size_bytes'] / 1024:.1f} KiB | {_t(row['litert'])} | "
                     f"{_t(row.get('tflite_runtime'))} |")
    lines.append(f"| floor: trivial model, same input | - | {_t(f['floor']['litert'])} | "
                 f"{_t(f['floor'].get('tflite_runtime'))} |")
    for name, t in f["keras"].items():
        lines.append(f"| Keras `{name}` | - | {_t(t)} (TensorFlow) | - |")
    lines += ["", f"Whole edge path per snapshot (`SnapshotScorer.score`: scale, window, invoke, error, debounce), "
                  f"deployed variant on ai-edge-litert: {_t(f['scorer_per_snapshot'])}.", "",
              f"Speed-up of the deployed variant over the fastest Keras call: **{f['speedup_vs_fastest_keras']:.0f}x** "
              f"(goal >= {f['goal_speedup']:.0f}x: {'met' if f['meets_speed_goal'] else 'NOT met'}).", "",
              "Peak memory (VmHWM, the peak resident set) of a fresh process:", "", "| process | peak RSS |", "|---|---:|"]
    for name, m in f["memory"].items():
        value = f"{m['maxrss_kib'] / 1024:.1f} MiB" if "maxrss_kib" in m else f"fails: {m.get('failed')}"
        lines.append(f"| {name}: {'load bundle, score one snapshot' if 'edge' in name else 'load model.keras, predict once'}"
                     f" | {value} |")
    lines += ["", f"Edge goal <= {f['goal_edge_mib']:.0f} MiB: {'met' if f['meets_memory_goal'] else 'NOT met'}.",
              "", "Parity gate (every snapshot of IMS test 2 against Keras):", "", result.parity_table()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv).markdown)
