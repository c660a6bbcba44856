"""Load and test-invoke a model in a child process, so that a model that crashes the runtime crashes only the child.

A ``.tflite`` file is a flatbuffer that the runtime trusts: a checksummed file that was
already damaged when it was signed (or was built by a buggy converter) can make the
interpreter read out of bounds and kill the whole process with SIGSEGV. Python cannot
catch that. In the agent it would end the running service, breaking the promise that a
refused bundle leaves the old one scoring, and under systemd the service would restart
straight into the same crash. So before a process builds an interpreter for a candidate
model in its own memory, :func:`probe_model` does exactly that in a throwaway child
(``python -m edge_agent.scoring.probe MODEL RUNTIME``): build it, allocate its tensors,
invoke it twice. Only a child that comes back cleanly clears the model.
"""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from firmware_io.errors import BearingEdgeError

#: How long the child may take: importing numpy and the runtime takes a few seconds on a Pi 3 under load;
#: a model that hangs the interpreter is refused like one that crashes it.
PROBE_TIMEOUT_S = 120.0


class ModelCrashed(BearingEdgeError, RuntimeError):
    """The model crashed, hung or failed the runtime in the child process; the calling process is unharmed."""


def probe_model(model_path: str | Path, runtime: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Build, allocate and invoke ``model_path`` on ``runtime`` in a child process; raise :class:`ModelCrashed`
    naming the model, the signal or error and the fix if the child does not finish cleanly."""
    cmd = [sys.executable, "-m", "edge_agent.scoring.probe", str(model_path), runtime]
    advice = ("the file is damaged or was not made by bearing-convert: copy the bundle again, or reconvert it; "
              "nothing was loaded into this process")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise ModelCrashed(f"{model_path}: a test load and invoke on {runtime} did not finish within "
                           f"{timeout_s:g} s; {advice}") from exc
    if proc.returncode < 0:
        name = _signal_name(-proc.returncode)
        raise ModelCrashed(f"{model_path}: the model crashed the {runtime} runtime ({name}) when a test process "
                           f"loaded and invoked it; {advice}")
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise ModelCrashed(f"{model_path}: a test load and invoke on {runtime} failed ({last}); {advice}")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _invoke(model_path: str, runtime: str) -> None:
    """The child's work: what the parent would otherwise do first in its own memory."""
    import numpy as np

    from edge_agent.scoring.runtime import ModelRunner

    runner = ModelRunner(model_path, runtime)
    if runner.input_dtype != np.float32 or int(np.prod(runner.input_shape)) > 2**20:
        return  # not a bearing-edge window: the parent's shape check refuses it with its own message
    for fill in (0.0, 1.0):  # the edges of the scaled training range
        runner(np.full(runner.input_shape, fill, dtype=runner.input_dtype))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m edge_agent.scoring.probe MODEL.tflite RUNTIME")
    _invoke(sys.argv[1], sys.argv[2])
