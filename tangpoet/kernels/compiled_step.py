"""The step decoder's one step, compiled the backend's own way instead of through ``Model.predict_on_batch``.

``predict_on_batch`` is generic but pays Keras' data-adapter and callback bookkeeping on every call — per character,
that is a large share of a step of a small model. Here:

- jax: ``jax.jit`` of the step model's ``stateless_call`` (variables passed in, so later weight changes are seen);
- tensorflow: a ``tf.function`` of the step model's ``call`` with a relaxed input signature (one trace);
- torch: the step model's ``call`` under ``torch.inference_mode`` (torch is eager; no graph to build).

Each returns numpy ``(log_probs, packed_state)`` exactly like the generic path (tested equal).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

StepFunction = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def compiled_step(one_step) -> StepFunction | None:
    """A fast ``(tokens, packed) -> (log_probs, packed)`` for the built step model ``one_step``, or ``None``."""
    import keras

    from tangpoet.kernels import fast_paths_enabled

    if not fast_paths_enabled():
        return None
    backend = keras.backend.backend()
    if backend == "jax":
        return _jax(one_step)
    if backend == "tensorflow":
        return _tensorflow(one_step)
    if backend == "torch":
        return _torch(one_step)
    return None


def _jax(one_step) -> StepFunction:
    import jax

    @jax.jit
    def run(trainable, non_trainable, tokens, packed):
        outputs, _ = one_step.stateless_call(trainable, non_trainable, [tokens, packed])
        return outputs[0], outputs[1]

    # The variable objects, listed once: walking the layer tree for them on every step cost ~0.2 ms (a tenth of a
    # one-row step). Their current values are read at each call, so later weight changes are still seen.
    trainable_variables = list(one_step.trainable_variables)
    non_trainable_variables = list(one_step.non_trainable_variables)

    def step(tokens, packed):
        trainable = [v.value for v in trainable_variables]
        non_trainable = [v.value for v in non_trainable_variables]
        log_probs, new = run(trainable, non_trainable, tokens, packed)
        return np.asarray(log_probs), np.asarray(new)

    return step


def _tensorflow(one_step) -> StepFunction:
    import tensorflow as tf

    @tf.function(
        input_signature=[tf.TensorSpec((None,), tf.int32), tf.TensorSpec((None, None), tf.float32)],
        reduce_retracing=True,
    )
    def run(tokens, packed):
        outputs = one_step([tokens, packed], training=False)
        return outputs[0], outputs[1]

    def step(tokens, packed):
        log_probs, new = run(tokens, packed)
        return log_probs.numpy(), new.numpy()

    return step


def _torch(one_step) -> StepFunction:
    import torch

    from keras import ops

    def step(tokens, packed):
        with torch.inference_mode():
            log_probs, new = one_step.call([ops.convert_to_tensor(tokens), ops.convert_to_tensor(packed)])
            return ops.convert_to_numpy(log_probs), ops.convert_to_numpy(new)

    return step
