"""Keras' progress output for ``train``, labelled with the run's real epoch count.

``train`` calls ``Model.fit`` once per epoch (``initial_epoch=e, epochs=e + 1``, for an exact resume), so Keras'
own progress logger sees a run of ``e + 1`` epochs: it prints no line for the first epoch (a one-epoch ``fit`` has
none) and "Epoch 2/2", "Epoch 3/3" … after it. :class:`EpochProgress` is that logger told the run's ``--epochs``,
so it prints "Epoch 1/N" … "Epoch N/N". Keras uses a ``ProgbarLogger`` found among the callbacks in place of adding
its own, and it honours ``verbose`` as before.
"""

from __future__ import annotations

from tangpoet.backend import ensure_backend

ensure_backend()
import keras  # noqa: E402


class EpochProgress(keras.callbacks.ProgbarLogger):
    """A ``ProgbarLogger`` whose epoch line counts to ``total_epochs`` (the run's ``--epochs``)."""

    def __init__(self, total_epochs: int):
        super().__init__()
        self.total_epochs = int(total_epochs)

    def set_params(self, params):
        super().set_params(params)
        self.epochs = self.total_epochs  # what its "Epoch e/N" line counts to

    def on_epoch_begin(self, epoch, logs=None):
        """Keras prints no epoch line for a one-epoch run; ``fit --epochs 1`` gets its "Epoch 1/1" like any other."""
        super().on_epoch_begin(epoch, logs)
        if self.verbose and self.epochs == 1:
            print(f"Epoch {epoch + 1}/{self.epochs}", flush=True)
