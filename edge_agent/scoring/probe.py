"""Load and test-invoke a model in a child process, so that a model that crashes the runtime crashes only the child.

A ``.tflite`` file is a flatbuffer that the runtime trusts: a checksummed file that was
already damaged when it was signed (or was built by a buggy converter) can make the
interpreter read out of bounds and kill the whole process with SIGSEGV. Python cannot
catch that. In the agent it would end the running service, breaking the promise that a
refused bundle leaves the old one scoring, and under systemd the service would restart
straight into the same crash. So before a process builds an interpreter for a candidate
model in its own memory, :func:`probe_model` does exactly that in a throwaway child
(``python -m edge_agent.scoring.probe - RUNTIME``): build it, allocate its tensors,
invoke it at the edges of the scaled range and on the bundle's reference windows. Only a
child that comes back cleanly clears the model.

The child gets the model's bytes on its stdin, the very bytes the parent hashed and will
run (:func:`edge_agent.scoring.bundle.load_bundle`), never the file's path: a file swapped
on disk between the probe and the load would otherwise clear one model and run another.
"""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from firmware_io.errors import BearingEdgeError

#: How long the child may take: importing numpy and the runtime takes a few seconds on a Pi 3 under load;
#: a model that hangs the interpreter is refused like one that crashes it.
PROBE_TIMEOUT_S = 120.0


class ModelCrashed(BearingEdgeError, RuntimeError):
    """The model crashed, hung or failed the runtime in the child process; the calling process is unharmed."""


def probe_model(model: str | Path | bytes, runtime: str, timeout_s: float = PROBE_TIMEOUT_S, *,
                name: str | Path | None = None, windows: np.ndarray | None = None) -> None:
    """Build, allocate and invoke a model (a path, or the bytes that will run) on ``runtime`` in a child process,
    also on ``windows`` (float32, ``(n, T, f)``: the bundle's reference windows, scaled) if given; raise
    :class:`ModelCrashed` naming the model (``name``, default the path), the signal or error and the fix if the
    child does not finish cleanly."""
    content = model if isinstance(model, bytes) else Path(model).read_bytes()
    model_path = name or (model if not isinstance(model, bytes) else "the model")
    extra = b"" if windows is None else np.ascontiguousarray(windows, dtype=np.float32).tobytes()
    cmd = [sys.executable, "-m", "edge_agent.scoring.probe", "-", runtime, str(len(content)),
           str(0 if windows is None else len(windows))]
    advice = ("the file is damaged or was not made by bearing-convert: copy the bundle again, or reconvert it; "
              "nothing was loaded into this process")
    try:
        proc = subprocess.run(cmd, input=content + extra, capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise ModelCrashed(f"{model_path}: a test load and invoke on {runtime} did not finish within "
                           f"{timeout_s:g} s; {advice}") from exc
    if proc.returncode < 0:
        raise ModelCrashed(f"{model_path}: the model crashed the {runtime} runtime ({_signal_name(-proc.returncode)}) when a test process "
                           f"loaded and invoked it; {advice}")
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace")
        last = (stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise ModelCrashed(f"{model_path}: a test load and invoke on {runtime} failed ({last}); {advice}")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _invoke(model: bytes, runtime: str, windows: bytes = b"", n_windows: int = 0) -> None:
    """The child's work: what the parent would otherwise do first in its own memory."""
    from edge_agent.scoring.runtime import ModelRunner

    runner = ModelRunner(model, runtime)
    if runner.input_dtype != np.float32 or int(np.prod(runner.input_shape)) > 2**20:
        return  # not a bearing-edge window: the parent's shape check refuses it with its own message
    for fill in (0.0, 1.0):  # the edges of the scaled training range
        runner(np.full(runner.input_shape, fill, dtype=runner.input_dtype))
    if n_windows and len(windows) == n_windows * int(np.prod(runner.input_shape)) * 4:
        for window in np.frombuffer(windows, dtype=np.float32).reshape((n_windows, *runner.input_shape)):
            runner(np.ascontiguousarray(window))  # else the parent's reference check refuses the shapes


def _main(argv: list[str]) -> None:
    """``FILE RUNTIME``, or ``- RUNTIME MODEL_BYTES N_WINDOWS`` with the model then the windows on stdin."""
    if len(argv) == 2 and argv[0] != "-":
        _invoke(Path(argv[0]).read_bytes(), argv[1])
    elif len(argv) == 4 and argv[0] == "-" and argv[2].isdigit() and argv[3].isdigit():
        data = sys.stdin.buffer.read()
        size = int(argv[2])
        _invoke(data[:size], argv[1], data[size:], int(argv[3]))
    else:
        sys.exit("usage: python -m edge_agent.scoring.probe MODEL.tflite RUNTIME\n"
                 "       python -m edge_agent.scoring.probe - RUNTIME MODEL_BYTES N_WINDOWS  (model, windows on stdin)")


if __name__ == "__main__":
    _main(sys.argv[1:])
