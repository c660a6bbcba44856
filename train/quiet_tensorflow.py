"""TensorFlow without its start-up chatter, in one place: call :func:`quiet_tensorflow` before anything imports it.

TensorFlow 2.21 writes lines that look like errors to a user but are not: at import, abseil's
"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR" and an
``I0000 ... port.cc] oneDNN custom operations are on`` note (twice: two libraries load); during
training an ``E0000 ... node_def_util.cc] NodeDef mentions attribute use_unbounded_threadpool``
from tf.data; during conversion the MLIR quantizer's ``fully_quantize: 0, inference_type: 6, ...``;
and absl's Python warnings. None of them is about the user's data or model.

- ``TF_CPP_MIN_LOG_LEVEL=3`` silences TensorFlow's C++ log once its logging is initialised (it must be
  set before the import). It is a default: set it to 0 to see everything when debugging TensorFlow.
- The two import lines are written before abseil's logging is initialised, where no level applies
  (abseil's known behaviour), so :func:`filtered_stderr` holds file descriptor 2 during the import and
  passes on every line but those: anything else TensorFlow writes (a real error) still shows.
- absl's Python logger is set to errors only.

Desktop only (``train``, ``convert``, ``demo``): the edge agent never imports TensorFlow.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import Iterator, Sequence

#: Lines TensorFlow writes that are noise, whatever the model and data.
NOISE = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"),
    re.compile(r"^I\d{4} [\d:.]+\s+\d+ port\.cc:\d+\] oneDNN custom operations are on"),
    re.compile(r"^fully_quantize: \d+, inference_type: \d+, input_inference_type: \w+, output_inference_type: \w+$"),
)


@contextlib.contextmanager
def filtered_stderr(noise: Sequence[re.Pattern] = NOISE) -> Iterator[None]:
    """Hold what is written to file descriptor 2 (C++ included) and pass on every line that is not ``noise``.

    The lines come out when the block ends (a temporary file, not a pipe: nothing can block a writer).
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            for line in held.read().decode("utf-8", "replace").splitlines(keepends=True):
                if not any(p.search(line.rstrip("\n")) for p in noise):
                    sys.stderr.write(line)
            sys.stderr.flush()


def quiet_tensorflow() -> None:
    """Set TensorFlow's and absl's log levels and import TensorFlow with its start-up lines filtered.

    Idempotent; a no-op for the filtering when TensorFlow was already imported (its lines are out by then).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules:
        with filtered_stderr():
            import tensorflow  # noqa: F401
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)
