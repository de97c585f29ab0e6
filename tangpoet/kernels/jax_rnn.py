"""JAX: LSTM/GRU as one ``lax.scan`` whose input projection is computed for all time steps before the scan.

Keras' JAX backend (without cuDNN) scans the cell's ``call``, which multiplies each step's input by the input kernel
inside the loop: ``time`` small matmuls forward and backward instead of one large one. Here ``x @ kernel + bias`` is
one matmul over ``[batch, time]``, and the scan only does the recurrent matmul and the gates. Same weights, same
equations (tested equal to the Keras layer, values and gradients).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tangpoet.kernels import plain_recurrent_layer


def fast_path(layer, inputs):
    if not isinstance(inputs, jax.Array):  # a tracer inside jit is a jax.Array too; a KerasTensor is not
        return None
    kind = plain_recurrent_layer(layer)
    return {"lstm": lstm, "gru": gru}.get(kind) if kind else None


def _initial(inputs, units, initial_state, count):
    if initial_state is None:
        return tuple(jnp.zeros((inputs.shape[0], units), inputs.dtype) for _ in range(count))
    return tuple(jnp.asarray(s, inputs.dtype) for s in initial_state)


def lstm(layer, inputs, initial_state=None, training=False):
    cell = layer.cell
    kernel, recurrent, bias = cell.kernel.value, cell.recurrent_kernel.value, cell.bias.value
    projected = jnp.swapaxes(jnp.einsum("btf,fg->btg", inputs, kernel) + bias, 0, 1)  # [time, batch, 4u]

    def step(carry, z_x):
        h, c = carry
        z = z_x + h @ recurrent
        i, f, g, o = jnp.split(z, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    (h, c), outputs = jax.lax.scan(step, _initial(inputs, recurrent.shape[0], initial_state, 2), projected)
    return jnp.swapaxes(outputs, 0, 1), (h, c)


def gru(layer, inputs, initial_state=None, training=False):
    cell = layer.cell
    kernel, recurrent, bias = cell.kernel.value, cell.recurrent_kernel.value, cell.bias.value
    units = recurrent.shape[0]
    projected = jnp.swapaxes(jnp.einsum("btf,fg->btg", inputs, kernel) + bias[0], 0, 1)  # [time, batch, 3u]

    def step(h, x_z):
        h_z = h @ recurrent + bias[1]
        x_zr, x_h = x_z[:, : 2 * units], x_z[:, 2 * units :]
        zr = jax.nn.sigmoid(x_zr + h_z[:, : 2 * units])
        z, r = zr[:, :units], zr[:, units:]
        candidate = jnp.tanh(x_h + r * h_z[:, 2 * units :])
        h = z * h + (1.0 - z) * candidate
        return h, h

    (h0,) = _initial(inputs, units, initial_state, 1)
    h, outputs = jax.lax.scan(step, h0, projected)
    return jnp.swapaxes(outputs, 0, 1), (h,)
