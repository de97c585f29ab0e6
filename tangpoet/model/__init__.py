"""The model: :class:`PoemModel` (embedding → recurrent layers → output, optionally tied), the cells
(:mod:`~tangpoet.model.cells`: the contract and the built-in rnn / lstm / gru), and the ``.keras`` file and what it
says about itself (:mod:`~tangpoet.model.info`, read without Keras).

``from tangpoet.model import load_model`` (the documented path) still works: the names of
:mod:`tangpoet.model.poem_model` are re-exported here, loaded on first use so that importing
:mod:`tangpoet.model.info` does not import Keras.
"""

from __future__ import annotations

import importlib

_EXPORTS = ("PoemModel", "TiedHead", "build_model", "load_model", "save_model", "atomic_path", "require_cell")


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module("tangpoet.model.poem_model"), name)
    raise AttributeError(f"module 'tangpoet.model' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))
