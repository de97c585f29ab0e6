"""Recurrent cells: the cell contract and the built-ins ``rnn``, ``lstm``, ``gru``.

A cell is an object with ``name`` and ``layer(units, **options) -> keras.layers.RNN``: a sequence layer that accepts
``initial_state=`` and ``return_state=True``. The step decoder steps its ``.cell`` one character at a time, so the
same weights serve whole-sequence training/prefill and single steps. The built-ins use Keras' own
``SimpleRNN`` / ``LSTM`` / ``GRU`` layers, which run the fused (cuDNN) kernels on GPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tangpoet.backend import ensure_backend
from tangpoet.registry import CELLS  # noqa: F401 - the one cell registry, re-exported

ensure_backend()
import keras  # noqa: E402


@dataclass(frozen=True)
class KerasCell:
    """A built-in cell backed by one of Keras' recurrent layers."""

    name: str
    layer_class: type
    distribution: str = "tangpoet"

    def layer(self, units: int, **options: Any) -> keras.layers.RNN:
        return self.layer_class(units, **options)


# The built-ins, registered through tangpoet's own entry points (pyproject.toml), the path plugins take too.
RNN = KerasCell("rnn", keras.layers.SimpleRNN)
LSTM = KerasCell("lstm", keras.layers.LSTM)
GRU = KerasCell("gru", keras.layers.GRU)


def get_cell(name: str):
    """The cell called ``name``; :class:`~tangpoet.errors.UnknownNameError` with a suggestion if none is."""
    return CELLS.get(name)
