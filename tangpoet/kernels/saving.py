"""Saving a model without importing TensorFlow.

Keras' serializer asks ``tf.available`` — a lazy module that *imports TensorFlow* the first time — to test
``isinstance(obj, tf.TensorShape)`` (and ``tf.DType``, ``tf.TypeSpec``) for every object of a config it writes. On the
torch and JAX backends, where TensorFlow is installed beside them, that import costs ~5 s of every first save: 11 % of
a 50-second first ``fit`` (py-spy: ``python benchmarks/fit_phases.py --backend torch``). Without TensorFlow imported no
object of a TensorFlow class can exist, so the answer is known: :func:`no_tensorflow_probe` answers it for the
duration of a save. The file is the same (``tests/test_kernels.py``). Switched off with ``TANGPOET_FAST_PATHS=0``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def no_tensorflow_probe() -> Iterator[None]:
    """While saving: Keras' lazy ``tensorflow`` module reports "not available" if TensorFlow is not imported yet."""
    from tangpoet.kernels import fast_paths_enabled

    try:
        from keras.src.utils import module_utils
    except ImportError:  # a Keras without that module: nothing to answer
        yield
        return
    lazy = getattr(module_utils, "tensorflow", None)
    if (
        not fast_paths_enabled()
        or "tensorflow" in sys.modules
        or lazy is None
        or getattr(lazy, "_available", True) is not None  # already answered (either way)
        or getattr(lazy, "module", None) is not None
    ):
        yield
        return
    lazy._available = False
    try:
        yield
    finally:
        if lazy._available is False and lazy.module is None:
            lazy._available = None  # ask again later: TensorFlow may be imported by then
