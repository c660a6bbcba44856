"""The TFLite interpreter, from whichever runtime this machine has.

``ai-edge-litert`` is the maintained runtime and the default. ``tflite-runtime``
2.14 is its last release, still what many Raspberry Pi OS images (Python 3.11,
32-bit) can install; it needs ``numpy < 2`` (under numpy 2 it imports but fails
when it creates an interpreter). Neither imports TensorFlow.
"""
from __future__ import annotations

import importlib
import platform
from pathlib import Path
from typing import Any

import numpy as np

from firmware_io.errors import BearingEdgeError

#: runtime name -> module holding ``Interpreter``
RUNTIME_MODULES = {
    "ai-edge-litert": "ai_edge_litert.interpreter",
    "tflite-runtime": "tflite_runtime.interpreter",
}
RUNTIMES = tuple(RUNTIME_MODULES)
#: Machines ai-edge-litert publishes wheels for (pyproject.toml's marker); 32-bit ARM (armv7l) has none.
LITERT_MACHINES = ("x86_64", "aarch64", "arm64")
#: The versions the kit is tested with: pyproject.toml's [edge] pin of ai-edge-litert, and the last
#: tflite-runtime release (what bearing-convert's check environment installs). Named in the install hint.
PINNED_VERSIONS = {"ai-edge-litert": "2.3.0", "tflite-runtime": "2.14.0"}


class RuntimeUnavailable(BearingEdgeError, RuntimeError):
    """No usable TFLite runtime (or not the one asked for) on this machine."""


def _import_interpreter(runtime: str) -> Any:
    module_name = RUNTIME_MODULES[runtime]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RuntimeUnavailable(f"runtime {runtime!r} is not installed ({exc}); {_install_hint(runtime)}") from exc
    if runtime == "tflite-runtime" and int(np.__version__.split(".")[0]) >= 2:
        raise RuntimeUnavailable(
            f"tflite-runtime 2.14 cannot create interpreters under numpy {np.__version__}; "
            "install 'numpy<2' in this environment or use ai-edge-litert")
    return module.Interpreter


def install_command(runtime: str) -> str:
    """The shell command that installs ``runtime`` at the tested version, quoted to paste as it is."""
    if runtime == "tflite-runtime":  # 2.14 fails to create interpreters under numpy 2
        return f"pip install 'tflite-runtime=={PINNED_VERSIONS[runtime]}' 'numpy<2'"
    return f"pip install '{runtime}=={PINNED_VERSIONS[runtime]}'"


def _install_hint(runtime: str) -> str:
    if runtime == "tflite-runtime" or platform.machine() in LITERT_MACHINES:
        return f"install it with: {install_command(runtime)}"
    return (f"ai-edge-litert has no wheel for {platform.machine()}: use tflite-runtime on this machine, "
            "with a bundle verified on it")


def _usable(runtime: str) -> bool:
    try:
        _import_interpreter(runtime)
    except RuntimeUnavailable:
        return False
    return True


def resolve_runtime(runtime: str = "auto", allowed: list[str] | tuple[str, ...] | None = None) -> str:
    """Pick a concrete runtime name: ``auto`` = the first usable of ``allowed`` (default: all)."""
    candidates = list(allowed) if allowed is not None else list(RUNTIMES)
    if runtime != "auto":
        if runtime not in RUNTIME_MODULES:
            raise RuntimeUnavailable(f"unknown runtime {runtime!r}; choose from {['auto', *RUNTIMES]}")
        _import_interpreter(runtime)
        return runtime
    errors = []
    for name in candidates:
        try:
            _import_interpreter(name)
            return name
        except RuntimeUnavailable as exc:
            errors.append(str(exc))
    if candidates and "tflite-runtime" not in candidates and _usable("tflite-runtime"):
        # A 32-bit Pi has only tflite-runtime, and ai-edge-litert cannot be installed there: the fix is a bundle
        # whose variants the converter also verified on tflite-runtime, not a pip command.
        raise RuntimeUnavailable(
            f"runtime {' / '.join(map(repr, candidates))} is not installed and this machine has only tflite-runtime, "
            f"but the model is verified on {candidates} only: reconvert it on the desktop with the tflite-runtime "
            "check environment present ('python -m convert.tflite_env', then 'bearing-convert MODEL_DIR --out "
            "BUNDLE_DIR'), so that the parity gate verifies each variant on tflite-runtime too, or choose a variant "
            "that lists tflite-runtime ('bearing-agent check-bundle --json' shows each variant's runtimes)")
    raise RuntimeUnavailable("no usable TFLite runtime among " + ", ".join(candidates) + ": " + "; ".join(errors))


def load_interpreter(model: str | Path | bytes, runtime: str = "auto") -> Any:
    """A ready-to-invoke interpreter (tensors allocated) for a model file, or a model's bytes.

    Given bytes, the interpreter is built from them (``model_content``) and keeps them: nothing on
    disk can change what it runs afterwards. A path is mapped by the runtime for the interpreter's
    life (MAP_SHARED): a file overwritten in place changes the weights under it, and a truncated one
    kills the process with SIGBUS; so the device loads bundles from bytes it hashed (:mod:`.bundle`).

    ``auto`` tries ai-edge-litert, then tflite-runtime. Single-threaded: the
    model is tiny, and threads only add wake-up latency on a Pi. Builtin kernels
    without the default XNNPACK delegate: for a ~13 KB model invoked once per
    snapshot the delegate saves a few microseconds per invoke and costs 0.7 MiB
    of resident memory (``python -m benchmarks.memory_floor BUNDLE``: the runtime
    with the bundle verified +14.4 -> +13.7 MiB), and its kernels crashed on a
    damaged model that the builtin kernels' checks refuse
    (tests/edge_agent/scoring/fixtures/README.md). The parity gate and ``score``
    load models through here too, so what is verified is what the device runs.
    """
    name = resolve_runtime(runtime)
    module = importlib.import_module(RUNTIME_MODULES[name])
    source = {"model_content": bytes(model)} if isinstance(model, (bytes, bytearray, memoryview)) else \
        {"model_path": str(model)}
    interpreter = _import_interpreter(name)(
        **source, num_threads=1,
        experimental_op_resolver_type=module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    return interpreter


def runtime_version(runtime: str) -> str:
    """The installed version of a runtime (each runtime's name is its pip distribution's name)."""
    from importlib import metadata

    try:
        return metadata.version(runtime)
    except metadata.PackageNotFoundError:
        return "not installed"


class ModelRunner:
    """One TFLite model, invoked one window at a time: ``(1, T, f) -> (1, T, f)``.

    Keeps the input/output indices so a call is set_tensor + invoke + get_tensor,
    which is all that runs per snapshot on the device.
    """

    def __init__(self, model: str | Path | bytes, runtime: str = "auto", *, name: str | None = None) -> None:
        """``model``: a path, or the model's bytes (what the device runs: :func:`load_interpreter`);
        ``name`` names it in messages (default: the path)."""
        self.runtime = resolve_runtime(runtime)
        self.interpreter = load_interpreter(model, self.runtime)
        model_path = name or (model if isinstance(model, (str, Path)) else "the model")
        inp = self.interpreter.get_input_details()
        out = self.interpreter.get_output_details()
        if len(inp) != 1 or len(out) != 1:
            raise ValueError(f"{model_path}: expected one input and one output tensor, "
                             f"got {len(inp)} inputs and {len(out)} outputs")
        self.input_shape = tuple(int(v) for v in inp[0]["shape"])
        self.output_shape = tuple(int(v) for v in out[0]["shape"])
        self.input_dtype = np.dtype(inp[0]["dtype"])
        self.output_dtype = np.dtype(out[0]["dtype"])
        self._in = inp[0]["index"]
        self._out = out[0]["index"]
        # Bound once: per snapshot the call is three C++ calls and nothing else (measured
        # ~3-6 us on x86, against ~12 us with dtype conversions around them).
        self._set, self._invoke, self._get = (self.interpreter.set_tensor, self.interpreter.invoke,
                                              self.interpreter.get_tensor)

    def __call__(self, window: np.ndarray) -> np.ndarray:
        """Reconstruct one float32 window of shape ``input_shape`` (the runtime checks both)."""
        self._set(self._in, window)
        self._invoke()
        return self._get(self._out)
