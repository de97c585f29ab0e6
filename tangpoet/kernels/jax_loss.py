"""JAX: the per-token cross-entropy of the masked training loss as ``logsumexp(logits) - logits[target]``.

Keras' ``sparse_categorical_crossentropy`` on JAX computes ``-Σ one_hot(target) · log_softmax(logits)``: XLA fuses the
one-hot product into a reduction, but the gradient still goes through the log-softmax and the one-hot product.
``logsumexp - take_along_axis`` (what the native JAX loop of ``benchmarks/train_throughput.py`` computes) needs one
log-sum-exp and one gathered value per row. Measured in one process on the benchmark's batches
(``benchmarks/train_ab.py --backend jax --generic``): tangpoet 1.004 × the native loop's speed with it, 0.932 with
Keras' loss. Same values (tested equal to the generic path under ``jit``: value, gradient, padding rows; and losses
and weights after training steps). Not used on TensorFlow, where the same formula measured slower than Keras' own.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def token_nll(targets, logits):
    """``-log softmax(logits)[target]`` per row of ``logits [tokens, vocab]``, or ``None`` (not a float32 JAX pair:
    the caller then takes the generic path)."""
    if not (isinstance(logits, jax.Array) and isinstance(targets, jax.Array)):
        return None
    if logits.ndim != 2 or targets.ndim != 1 or logits.dtype != jnp.float32:
        return None
    index = targets.astype(jnp.int32)[:, None]
    return jax.nn.logsumexp(logits, axis=-1) - jnp.take_along_axis(logits, index, axis=-1)[:, 0]
