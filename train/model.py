"""The LSTM autoencoder: the seed's architecture, exactly.

Input(T, f) -> LSTM(16, relu, seq) -> LSTM(4, relu) -> RepeatVector(T)
-> LSTM(4, relu, seq) -> LSTM(16, relu, seq) -> TimeDistributed(Dense(f)).

``unroll`` is only for conversion: an unrolled LSTM lowers to builtin TFLite
ops (no TensorList / WHILE loop), so the converter needs it, not training.
"""
from __future__ import annotations

from train.quiet_tensorflow import quiet_tensorflow

quiet_tensorflow()  # before the first import of TensorFlow (train/quiet_tensorflow.py)

import keras  # noqa: E402
from keras import layers  # noqa: E402


def build_autoencoder(timesteps: int, n_features: int, *, unroll: bool = False) -> keras.Model:
    inputs = keras.Input(shape=(timesteps, n_features), name="features")
    x = layers.LSTM(16, activation="relu", return_sequences=True, unroll=unroll, name="enc_lstm_16")(inputs)
    x = layers.LSTM(4, activation="relu", return_sequences=False, unroll=unroll, name="enc_lstm_4")(x)
    x = layers.RepeatVector(timesteps, name="repeat")(x)
    x = layers.LSTM(4, activation="relu", return_sequences=True, unroll=unroll, name="dec_lstm_4")(x)
    x = layers.LSTM(16, activation="relu", return_sequences=True, unroll=unroll, name="dec_lstm_16")(x)
    outputs = layers.TimeDistributed(layers.Dense(n_features), name="reconstruction")(x)
    return keras.Model(inputs, outputs, name="lstm_autoencoder")
