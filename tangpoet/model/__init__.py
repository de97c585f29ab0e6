"""The model: :class:`PoemModel` (embedding → recurrent layers → output, optionally tied), the cells
(:mod:`~tangpoet.model.cells`: the contract and the built-in rnn / lstm / gru), and the ``.keras`` file and what it
says about itself (:mod:`~tangpoet.model.info`, read without Keras).

``from tangpoet.model import load_model`` (the documented path) still works: the names of
:mod:`tangpoet.model.poem_model` are re-exported here, loaded on first use so that importing
:mod:`tangpoet.model.info` does not import Keras.
"""

from __future__ import annotations

from tangpoet.compat import lazy_exports

_EXPORTS = ("PoemModel", "TiedHead", "build_model", "load_model", "save_model", "atomic_path", "require_cell")


__getattr__, __dir__ = lazy_exports(__name__, "tangpoet.model.poem_model", _EXPORTS)
