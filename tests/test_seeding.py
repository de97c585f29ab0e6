"""Seeding a training run: the same seed gives the same model, and JAX / torch runs do not import TensorFlow."""

from __future__ import annotations

import os
import subprocess
import sys

import keras
import numpy as np

from tangpoet.kernels.seeding import set_random_seed
from tangpoet.model.poem_model import build_model
from tangpoet.data.vocab import Vocabulary

VOCAB = Vocabulary.build(["春眠不觉晓，处处闻啼鸟。"])


def weights_after_seed(seed):
    set_random_seed(seed)
    return [np.asarray(w) for w in build_model(VOCAB, cell="lstm", num_layers=1, units=8, embedding_dim=4,
                                               dropout=0.1).get_weights()]


def test_the_same_seed_builds_the_same_model_and_another_seed_another():
    a, b, c = weights_after_seed(3), weights_after_seed(3), weights_after_seed(4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert any(not np.array_equal(x, z) for x, z in zip(a, c))


def test_seeding_imports_tensorflow_only_on_tensorflow(backend):
    code = (
        "import sys, keras; from tangpoet.kernels.seeding import set_random_seed; set_random_seed(1); "
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "KERAS_BACKEND": backend},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    if backend == "tensorflow":
        assert out.stdout.strip() == "True"
    else:
        assert out.stdout.strip() == "False"
