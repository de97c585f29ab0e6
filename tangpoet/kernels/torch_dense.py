"""PyTorch: the output layer (Keras ``Dense`` or tangpoet's ``TiedHead``) as one fused ``torch.addmm``.

Keras' ``Dense.call`` is ``ops.add(ops.matmul(x, kernel), bias)``: on torch a matrix product and then an out-of-place
add. For the output layer of a character model that second op is a whole extra pass over the logits — ``[tokens,
vocab]``, ~100 MB per step for a batch of 64 × 56 characters and a 7,144-character vocabulary — and one more fresh
allocation of that size (page faults), in the forward pass of every training step. ``torch.addmm(bias, x, kernel)``
(what ``nn.Linear`` does for 2-D input) writes the bias into the product's output. Profiled (torch.profiler) in one
process against the plain PyTorch loop of ``benchmarks/train_throughput.py`` on the same batches: Keras'
out-of-place ``aten::add`` was ~46 ms of a ~1 s step, the only sizeable op the plain loop does not run; the output
layer alone (forward, backward and cross-entropy, one thread) took 1,440 ms of CPU time as Keras computes it vs
1,258 ms as one ``addmm`` (``nn.Linear``: 1,274 ms). Same values (tested equal, logits, gradients, losses and
weights after training steps).

Only the plain configuration is taken: 2-D torch input in the layer's compute dtype (float32, or bfloat16 under
``fit --precision bf16``: the float32 weights are then cast to bfloat16 on the way in and the product is one bfloat16
``addmm``, as Keras' ``Dense`` computes it under ``mixed_bfloat16``), float32 weights, linear activation, no LoRA, not
quantized (Keras routes quantized layers around ``call`` anyway).
"""

from __future__ import annotations

import torch

COMPUTE_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def _plain_dense(layer) -> bool:
    import keras

    return (
        type(layer) is keras.layers.Dense
        and layer.activation is keras.activations.linear
        and layer.use_bias
        and not getattr(layer, "lora_enabled", False)
        and layer.quantization_mode is None
        and layer.compute_dtype in COMPUTE_DTYPES
        and layer.kernel.dtype == "float32"
    )


def _plain_tied(layer) -> bool:
    # the model's TiedHead says so itself (``tied_output`` on its own class, not inherited): a kernel does not import
    # the model it serves
    return (
        vars(type(layer)).get("tied_output") is True
        and layer.compute_dtype in COMPUTE_DTYPES
        and layer.quantization_mode is None
        and layer.embedding_matrix() is not None
        and (layer.projection is None or _plain_projection(layer.projection, layer))
    )


def _plain_projection(layer, head) -> bool:
    import keras

    return (
        type(layer) is keras.layers.Dense
        and layer.activation is keras.activations.linear
        and not layer.use_bias
        and layer.compute_dtype == head.compute_dtype
        and not getattr(layer, "lora_enabled", False)
        and layer.quantization_mode is None
    )


def fast_path(layer, inputs):
    """``dense`` / ``tied`` for a plain output layer and a 2-D torch tensor in its compute dtype, else ``None``."""
    if not (isinstance(inputs, torch.Tensor) and inputs.dim() == 2):
        return None
    if inputs.dtype != COMPUTE_DTYPES.get(layer.compute_dtype):
        return None
    if _plain_dense(layer):
        return dense
    if _plain_tied(layer):
        return tied
    return None


class _OutputProduct(torch.autograd.Function):
    """``x @ weightᵀ + bias`` for a ``[vocab, units]`` weight, one ``addmm`` forward; backward computes the weight's
    gradient as ``gradᵀ @ x`` — ``[vocab, units]`` — where autograd's own ``addmm`` backward computes ``xᵀ @ grad``
    (``[units, vocab]``) and transposes it: the same sums, but torch's CPU GEMM (MKL) takes ~20 % longer for that
    layout here (``[5000, 256]ᵀ @ [5000, 7144]``: 142–148 ms against 115–118 ms for ``gradᵀ @ x``, a benchmark
    training step's largest product). Dense's ``[units, vocab]`` kernel gets the transposed view of it (the
    optimizer's element-wise ops take a strided gradient at the same speed)."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return torch.addmm(bias, x, weight.t())

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad_x = grad.mm(weight) if ctx.needs_input_grad[0] else None
        grad_weight = grad.t().mm(x) if ctx.needs_input_grad[1] else None
        grad_bias = grad.sum(0) if ctx.needs_input_grad[2] else None
        return grad_x, grad_weight, grad_bias


def dense(layer, inputs):
    """``inputs @ kernel + bias`` in one ``addmm`` (in ``inputs``' dtype)."""
    dtype = inputs.dtype
    return _OutputProduct.apply(inputs, layer.kernel.value.t().to(dtype), layer.bias.value.to(dtype))


def tied(layer, inputs):
    """``(inputs @ P) @ Eᵀ + bias`` with the last product and the bias in one ``addmm`` (``Eᵀ`` is a view)."""
    dtype = inputs.dtype
    x = inputs if layer.projection is None else torch.matmul(inputs, layer.projection.kernel.value.to(dtype))
    matrix = layer.embedding_matrix()
    matrix = matrix.value if hasattr(matrix, "value") else matrix
    return _OutputProduct.apply(x, matrix.to(dtype), layer.bias.value.to(dtype))
