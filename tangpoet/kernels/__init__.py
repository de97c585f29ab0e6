"""The only backend-specific code in tangpoet.

Everything here is reached through a backend check, has a generic (``keras.ops`` / Keras) counterpart, is optional,
and is tested against that counterpart for equal results. Modules are named after the backend they serve:

- ``tensorflow_input`` — variable-length batches for ``Model.fit`` on TensorFlow (a correctness need, not speed);
- ``torch_rnn`` — Keras' LSTM/GRU weights run through torch's own fused recurrent kernels, also on CPU (Keras uses
  them only with cuDNN and otherwise loops over time steps in Python);
- ``torch_loss`` — the training loss's per-token cross-entropy: one log-softmax and a gather (no one-hot), a backward
  pass that writes the gradient over the saved log-probabilities (no zero fill, no second logits-sized tensor);
- ``jax_loss`` — the same loss as ``logsumexp - logits[target]`` (no materialised log-softmax);
- ``torch_dense`` — the output layer as one ``torch.addmm`` (Keras' ``Dense`` is a product plus an out-of-place
  bias add: one more pass over, and allocation of, the ``[tokens, vocab]`` logits per step);
- ``compiled_step`` — the step decoder's one step through ``jax.jit`` / ``tf.function`` / ``torch.inference_mode``.

(A JAX LSTM/GRU with the input projection hoisted out of ``lax.scan`` was tried twice and gained nothing measurable
over Keras' own scan on CPU — first 4,733 vs 5,178 characters/s; re-checked in one process, interleaved, a jitted
value-and-grad of the whole model took 5.51 vs 5.58 s under heavy load — so there is none. What made JAX training
slow was the output layer's 3-D matmul, fixed backend-agnostically in ``tangpoet.model.poem_model._per_position``.)

Under ``fit --precision bf16`` (Keras' ``mixed_bfloat16`` policy on the model's layers) ``torch_rnn`` and ``torch_dense``
compute in bfloat16 from the float32 variables (tested against Keras' own bfloat16 path within bfloat16 rounding;
1.78× Keras' bfloat16 LSTM step on torch, measured in one process); the losses always get float32 logits (a Keras
``Loss`` converts its inputs to float32), so they have no bfloat16 path.

The recurrent fast paths are on by default; ``TANGPOET_FAST_PATHS=0`` or :func:`use_fast_paths` turns them off.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

_override: bool | None = None


def fast_paths_enabled() -> bool:
    """Whether tangpoet may use its backend-specific fast paths (default: yes; ``TANGPOET_FAST_PATHS=0``: no)."""
    if _override is not None:
        return _override
    return os.environ.get("TANGPOET_FAST_PATHS", "1").strip().lower() not in {"0", "false", "no", "off"}


@contextlib.contextmanager
def use_fast_paths(enabled: bool) -> Iterator[None]:
    """Turn the fast paths on or off inside a ``with`` block (tests compare both ways)."""
    global _override
    previous, _override = _override, bool(enabled)
    try:
        yield
    finally:
        _override = previous


def recurrent_fast_path(layer, inputs) -> Callable | None:
    """A function ``(layer, inputs, initial_state, training) -> (outputs, states)`` equal to ``layer(...)``, or
    ``None`` where no fast path applies (another backend, another cell or configuration, symbolic inputs)."""
    if not fast_paths_enabled():
        return None
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        from tangpoet.kernels import torch_rnn

        return torch_rnn.fast_path(layer, inputs)
    return None


def output_fast_path(layer, inputs) -> Callable | None:
    """A function ``(layer, inputs) -> logits`` equal to ``layer(inputs)`` for the output layer (Keras ``Dense`` or
    ``TiedHead``) on 2-D ``inputs``, or ``None`` where none applies."""
    if not fast_paths_enabled():
        return None
    import keras

    if keras.backend.backend() == "torch":
        from tangpoet.kernels import torch_dense

        return torch_dense.fast_path(layer, inputs)
    return None


def token_nll(targets, logits):
    """Per-token cross-entropy ``[tokens]`` of ``logits [tokens, vocab]`` through a backend kernel, or ``None`` where
    none applies (the caller then uses ``keras.ops.sparse_categorical_crossentropy``)."""
    if not fast_paths_enabled():
        return None
    import keras

    if keras.backend.backend() == "torch":
        from tangpoet.kernels import torch_loss

        return torch_loss.token_nll(targets, logits)
    if keras.backend.backend() == "jax":
        from tangpoet.kernels import jax_loss

        return jax_loss.token_nll(targets, logits)
    return None
