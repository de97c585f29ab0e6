"""Training: :func:`train` / ``tangpoet fit`` (masked loss, clipping, held-out NLL, checkpoints and ``--resume``) in
:mod:`~tangpoet.training.trainer`; fine-tuning from a model file (:mod:`~tangpoet.training.finetune`); data-parallel
placement (:mod:`~tangpoet.training.distribute`); the epoch progress line, the resume checks, the output guard and
lock, Ctrl-C handling and the JAX compile cache.

``from tangpoet.training import train, TrainConfig`` (the documented path) still works: the names of
:mod:`tangpoet.training.trainer` are re-exported here, loaded on first use so that the light modules of this folder
(e.g. :mod:`~tangpoet.training.compile_cache`, read before Keras is imported) do not import Keras.
"""

from __future__ import annotations

from tangpoet.compat import lazy_exports

_EXPORTS = (
    "TrainConfig",
    "TrainResult",
    "train",
    "checkpoint_path",
    "read_checkpoint",
    "write_checkpoint",
    "masked_character_nll",
    "masked_loss",
    "compile_for_training",
    "split_poems",
    "OPTIMIZERS",
    "ARCHITECTURE",
)


__getattr__, __dir__ = lazy_exports(__name__, "tangpoet.training.trainer", _EXPORTS)
