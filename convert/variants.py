"""The TFLite variants by name, and which one is deployed by default: names only, no TensorFlow.

``bearing-convert`` parses its command line against these before it imports TensorFlow (seconds,
and log lines on stderr), so ``--help`` and a bad command line answer at once and cleanly.
"""
from __future__ import annotations

#: What each variant is, for the manifest and the docs; in the order they are reported.
VARIANT_DESCRIPTIONS = {
    "float32": "float32 weights and activations (reference)",
    "float16": "float16 weights, dequantized to float32 at load; float32 compute",
    "dynamic": "dynamic-range: int8 weights (tensors >= 1024 elements only), activations quantized on the fly",
    "int8": "full-integer: int8 weights and activations, float32 input/output interface, "
            "calibrated on the healthy period (see docs/convert.md)",
}
VARIANTS = tuple(VARIANT_DESCRIPTIONS)

#: Tie-break order for the deployed variant. The rule itself (``convert.pipeline.choose_default``): the
#: smallest file among the variants that really store quantized weights and pass the gate.
DEFAULT_PREFERENCE = ("float16", "int8", "dynamic", "float32")
