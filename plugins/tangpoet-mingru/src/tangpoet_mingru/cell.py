"""The minGRU cell, written with ``keras.ops`` only, so it runs unchanged on TensorFlow, PyTorch and JAX.

minGRU (Feng et al. 2024, "Were RNNs All We Needed?"), sequential mode::

    z_t  = sigmoid(x_t W_z + b_z)
    h~_t = x_t W_h + b_h
    h_t  = (1 - z_t) * h_{t-1} + z_t * h~_t          output y_t = h_t

The gate and the candidate depend on ``x_t`` only, never on ``h_{t-1}``: there is no recurrent weight matrix.
``W_z`` and ``W_h`` are stored side by side in one ``kernel`` ``[input_dim, 2 * units]`` (gate first), with one
``bias`` ``[2 * units]``.
"""

from __future__ import annotations

from typing import Any

from tangpoet.backend import ensure_backend

ensure_backend()
import keras  # noqa: E402
from keras import ops  # noqa: E402

#: Options of :func:`make_layer` that configure the cell; the rest configure ``keras.layers.RNN``.
CELL_OPTIONS = ("kernel_initializer", "bias_initializer")


@keras.saving.register_keras_serializable(package="tangpoet_mingru")
class MinGRUCell(keras.layers.Layer):
    """One minGRU step: ``call(x_t [batch, input_dim], [h_{t-1} [batch, units]]) -> (h_t, [h_t])``."""

    def __init__(
        self,
        units: int,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        units = int(units)
        if units < 1:
            raise ValueError(f"units must be positive, got {units}")
        self.units = units
        self.state_size = units
        self.output_size = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(input_dim, 2 * self.units), initializer=self.kernel_initializer, name="kernel"
        )
        self.bias = self.add_weight(shape=(2 * self.units,), initializer=self.bias_initializer, name="bias")
        self.built = True

    def call(self, inputs, states, training=False):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        projected = ops.matmul(inputs, self.kernel) + self.bias
        gate_logits, candidate = ops.split(projected, 2, axis=-1)
        z = ops.sigmoid(gate_logits)
        h = (1.0 - z) * h_prev + z * candidate
        return h, [h]

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype)]

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config


def make_layer(units: int, **options: Any) -> keras.layers.RNN:
    """``keras.layers.RNN(MinGRUCell(units, **cell options), **the other options)``."""
    cell_options = {key: options.pop(key) for key in CELL_OPTIONS if key in options}
    return keras.layers.RNN(MinGRUCell(units, **cell_options), **options)
