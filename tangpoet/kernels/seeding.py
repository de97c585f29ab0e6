"""Seeding a training run as ``keras.utils.set_random_seed`` does, without importing TensorFlow on JAX and torch.

``keras.utils.set_random_seed`` calls ``tf.random.set_seed`` whenever TensorFlow is *installed*, which imports it —
about 4 s of CPU on every ``fit`` on JAX or torch in an environment that has all three backends (py-spy). The same
seeding without that: Python's generator (Keras draws the default seeds of its initialisers and dropout layers from
it), NumPy's, and torch's own on torch. On TensorFlow Keras' function itself is used.
"""

from __future__ import annotations

import random

import numpy as np


def set_random_seed(seed: int) -> None:
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        keras.utils.set_random_seed(seed)
        return
    random.seed(seed)
    np.random.seed(seed)
    if backend == "torch":
        import torch

        torch.manual_seed(seed)
