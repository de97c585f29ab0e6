"""PyTorch: Keras LSTM/GRU weights through torch's fused recurrent kernels (``torch.lstm`` / ``torch.gru``), on CPU too.

Keras' torch backend uses these kernels only with cuDNN; on CPU it runs a Python loop of small ops per time step.
The weights stay Keras' own variables (torch parameters): they are only transposed/reordered on the way in, so
autograd trains them as usual and the model file is unchanged. Gate order: Keras LSTM ``[i, f, c, o]`` equals torch's;
Keras GRU ``[z, r, h]`` becomes torch's ``[r, z, n]``, and Keras' ``reset_after=True`` GRU is torch's formula.
"""

from __future__ import annotations

import torch

# Keras compute dtype -> torch dtype. bfloat16: the layer's float32 variables are cast on the way in (autograd takes
# the gradient back to float32), the inputs, states and outputs are bfloat16 — what Keras' own LSTM/GRU computes
# under the ``mixed_bfloat16`` policy, through torch's fused kernels (oneDNN's bfloat16 RNN on CPUs that have the
# instructions) instead of Keras' Python loop over time steps.
COMPUTE_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def plain_recurrent_layer(layer) -> str | None:
    """``"lstm"`` / ``"gru"`` if ``layer`` is exactly Keras' LSTM / GRU in the standard configuration the fused
    kernels compute (tanh/sigmoid, bias, no dropout inside the layer, forward, not unrolled, GRU reset_after,
    float32), else ``None``."""
    import keras

    kind = {keras.layers.LSTM: "lstm", keras.layers.GRU: "gru"}.get(type(layer))
    if kind is None:
        return None
    cell = layer.cell
    standard = (
        cell.activation is keras.activations.tanh
        and cell.recurrent_activation is keras.activations.sigmoid
        and cell.use_bias
        and not cell.dropout
        and not cell.recurrent_dropout
        and not layer.go_backwards
        and not layer.unroll
        and layer.return_sequences
        and layer.return_state
        and layer.compute_dtype in COMPUTE_DTYPES
        and cell.compute_dtype == layer.compute_dtype
        and (kind == "lstm" or cell.reset_after)
    )
    return kind if standard else None


def fast_path(layer, inputs):
    if not isinstance(inputs, torch.Tensor):
        return None
    kind = plain_recurrent_layer(layer)
    return {"lstm": lstm, "gru": gru}.get(kind) if kind else None


def _zeros(inputs, units):
    return inputs.new_zeros((inputs.shape[0], units))


def _weights(layer, inputs):
    """``inputs`` in the layer's compute dtype, and the cell's kernel, recurrent kernel and bias in it too."""
    dtype = COMPUTE_DTYPES[layer.compute_dtype]
    cell = layer.cell
    weights = (cell.kernel.value, cell.recurrent_kernel.value, cell.bias.value)
    return inputs.to(dtype), tuple(w.to(dtype) for w in weights)


def lstm(layer, inputs, initial_state=None, training=False):
    inputs, (kernel, recurrent, bias) = _weights(layer, inputs)
    units = recurrent.shape[0]
    if initial_state is None:
        h0, c0 = _zeros(inputs, units), _zeros(inputs, units)
    else:
        h0, c0 = (torch.as_tensor(s, dtype=inputs.dtype, device=inputs.device) for s in initial_state)
    params = [kernel.t(), recurrent.t(), bias, bias.new_zeros(bias.shape)]
    outputs, h, c = torch.lstm(
        inputs, (h0.unsqueeze(0), c0.unsqueeze(0)), params, True, 1, 0.0, bool(training), False, True
    )
    return outputs, (h.squeeze(0), c.squeeze(0))


def _zr_to_rz(matrix: torch.Tensor) -> torch.Tensor:
    """Columns ``[z, r, h]`` (Keras) → ``[r, z, h]`` (torch)."""
    z, r, h = torch.chunk(matrix, 3, dim=-1)
    return torch.cat([r, z, h], dim=-1)


def gru(layer, inputs, initial_state=None, training=False):
    inputs, (kernel, recurrent, bias) = _weights(layer, inputs)
    units = recurrent.shape[0]
    if initial_state is None:
        h0 = _zeros(inputs, units)
    else:
        h0 = torch.as_tensor(initial_state[0], dtype=inputs.dtype, device=inputs.device)
    params = [
        _zr_to_rz(kernel).t(),
        _zr_to_rz(recurrent).t(),
        _zr_to_rz(bias[0]),
        _zr_to_rz(bias[1]),
    ]
    outputs, h = torch.gru(inputs, h0.unsqueeze(0), params, True, 1, 0.0, bool(training), False, True)
    return outputs, (h.squeeze(0),)
