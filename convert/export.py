"""Keras model -> TFLite flatbuffers with builtin ops only, one per variant.

Why the model is rebuilt first: Keras LSTMs lower to a TensorList/WHILE loop.
``TFLiteConverter.from_keras_model`` fails on them ("TensorListReserve requires
element_shape to be static"), SELECT_TF_OPS produces Flex ops no Python
runtime can run, and a fixed batch-1 WHILE model segfaults full-integer
calibration. The same architecture built with ``unroll=True`` has no loop at
all (T is fixed by the feature spec anyway), so we build it, copy the trained
weights across, and convert that. Batch is fixed to 1: the device scores one
snapshot at a time, and a fixed shape lets the runtime plan memory once.
"""
from __future__ import annotations

import warnings
from typing import Callable, Iterable

import numpy as np

from train.quiet_tensorflow import filtered_stderr, quiet_tensorflow

quiet_tensorflow()  # before the first import of TensorFlow: its start-up lines are noise (train/quiet_tensorflow.py)

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2  # noqa: E402

from convert.variants import VARIANT_DESCRIPTIONS, VARIANTS  # noqa: E402,F401 (VARIANTS: re-exported)
from firmware_io.errors import BearingEdgeError  # noqa: E402
from train.model import build_autoencoder  # noqa: E402


#: How many times the int8 quantizer is run for its fully-integer form before giving up
#: (see :func:`convert_variant`; about half of the runs give it, so 20 fail once in a million).
INT8_ATTEMPTS = 20


class QuantizationError(BearingEdgeError, RuntimeError):
    """The int8 quantizer did not produce its fully-integer form in :data:`INT8_ATTEMPTS` runs."""


def weight_dtypes(flatbuffer: bytes) -> dict[str, int]:
    """How many constant tensors of each dtype the model stores (what quantization really did).

    The converter leaves tensors under 1,024 elements in float32 in the dynamic-range
    variant, so at T=1 it is float32 in all but name; this makes that visible.
    """
    from ai_edge_litert.interpreter import Interpreter

    counts: dict[str, int] = {}
    interpreter = Interpreter(model_content=flatbuffer)
    for t in interpreter.get_tensor_details():
        if t["name"] and np.dtype(t["dtype"]) != np.int32 and _is_constant(interpreter, t):
            counts[np.dtype(t["dtype"]).name] = counts.get(np.dtype(t["dtype"]).name, 0) + 1
    return counts


def _is_constant(interpreter, detail: dict) -> bool:
    try:  # constant (read-only) tensors are readable before allocation; activations are not
        interpreter.get_tensor(detail["index"])
        return True
    except ValueError:
        return False


def unrolled_copy(model: keras.Model) -> keras.Model:
    """The same autoencoder with unrolled LSTMs and the trained weights copied in."""
    _, timesteps, n_features = model.input_shape
    twin = build_autoencoder(int(timesteps), int(n_features), unroll=True)
    twin.set_weights(model.get_weights())
    return twin


def _converter(model: keras.Model) -> "tf.lite.TFLiteConverter":
    _, timesteps, n_features = model.input_shape
    fn = tf.function(lambda x: model(x, training=False),
                     input_signature=[tf.TensorSpec([1, timesteps, n_features], tf.float32, name="features")])
    # Freeze: Keras 3 variables would otherwise stay resource variables (READ_VARIABLE ops),
    # which break calibration and waste memory on the device.
    frozen = convert_variables_to_constants_v2(fn.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter


def convert_variant(model: keras.Model, variant: str,
                    representative: Callable[[], Iterable[list[np.ndarray]]] | None = None) -> bytes:
    """Convert an (unrolled) model to one variant's flatbuffer.

    ``representative`` yields ``[window]`` arrays of shape ``(1, T, f)`` and is
    required for ``int8`` (it sets every activation's quantization range).
    """
    converter = _converter(model)
    if variant == "float32":
        pass
    elif variant == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        # Per-channel dense quantization emits FULLY_CONNECTED version 12, which
        # tflite-runtime 2.14 (the last release, still on many Pis) cannot load.
        # Per-tensor scales keep the op at a version both runtimes know.
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    elif variant == "int8":
        if representative is None:
            raise ValueError("the int8 variant needs representative data for calibration (--data)")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # float32 in/out: the QUANTIZE/DEQUANTIZE at the edges keep the scorer identical for
        # every variant; everything between them runs in int8.
        converter.inference_input_type = tf.float32
        converter.inference_output_type = tf.float32
    else:
        raise ValueError(f"unknown variant {variant!r}; choose from {list(VARIANTS)}")
    if variant != "int8":
        return _convert(converter)
    # TensorFlow's MLIR quantizer is not deterministic on this model (the calibration is: its
    # calibrated model is byte-identical from run to run). Every LSTM step's SPLIT has one unused
    # output, the forget gate: the first step's cell state is a constant zero, folded away, and
    # at T=1 every step is a first step. On such a SPLIT the quantizer sometimes leaves the op in
    # float between a DEQUANTIZE and QUANTIZEs, in whichever LSTM step it meets first, so three
    # runs gave 20304 (fully integer), 21256 and 22216 bytes. The run that quantizes every op is one and the same
    # file each time (and in every process), and it is what TFLITE_BUILTINS_INT8 asks for: we
    # rerun the quantizer until it gives that form, so the same model and data give the same bytes.
    for _ in range(INT8_ATTEMPTS):
        flatbuffer = _convert(converter)
        if is_fully_integer(flatbuffer):
            return flatbuffer
    raise QuantizationError(f"the int8 quantizer left float ops inside the model in {INT8_ATTEMPTS} runs "
                            "(it does so at random, about half of the time): convert again, or leave int8 out "
                            "(--variant float16 --variant dynamic --variant float32)")


def _convert(converter: "tf.lite.TFLiteConverter") -> bytes:
    with warnings.catch_warnings():
        # "Statistics for quantized inputs were expected": the float32 input is quantized by
        # the model's own QUANTIZE op with calibrated statistics, so there is nothing to supply.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        with filtered_stderr():  # the quantizer prints 'fully_quantize: 0, ...' per conversion
            return converter.convert()


def is_fully_integer(flatbuffer: bytes) -> bool:
    """True if the model converts float to int8 only at its edges: one QUANTIZE per input, one
    DEQUANTIZE per output, and nothing in float between them."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(flatbuffer))
    graph = model.subgraphs[0]
    ops = [flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) for op in graph.operators]
    return ops.count("QUANTIZE") == len(graph.inputs) and ops.count("DEQUANTIZE") == len(graph.outputs)
