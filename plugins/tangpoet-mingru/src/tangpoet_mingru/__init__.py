"""tangpoet-mingru: the minGRU cell (Feng et al. 2024, "Were RNNs All We Needed?") as a tangpoet cell plugin.

tangpoet finds :data:`CELL` through the ``tangpoet.cells`` entry point ``mingru``. Importing this package does not
import Keras (tangpoet picks the Keras backend before Keras is first imported): :meth:`MinGRU.layer` imports
:mod:`tangpoet_mingru.cell` only when a layer is asked for.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["CELL", "MinGRU", "MinGRUCell"]


class MinGRU:
    """The cell plugin object: ``name``, ``distribution`` and ``layer(units, **options) -> keras.layers.RNN``."""

    name = "mingru"
    distribution = "tangpoet-mingru"

    def layer(self, units: int, **options: Any):
        """A ``keras.layers.RNN`` over a :class:`~tangpoet_mingru.cell.MinGRUCell` of ``units`` units.

        ``kernel_initializer`` / ``bias_initializer`` go to the cell; every other option (``return_sequences``,
        ``return_state``, ``name``, …) goes to ``keras.layers.RNN``.
        """
        from tangpoet_mingru.cell import make_layer

        return make_layer(units, **options)

    def __repr__(self) -> str:
        return f"<tangpoet cell {self.name!r} from {self.distribution}>"


CELL = MinGRU()


def __getattr__(name: str):
    # ``tangpoet_mingru.MinGRUCell`` without importing Keras when the package is imported.
    if name == "MinGRUCell":
        from tangpoet_mingru.cell import MinGRUCell

        return MinGRUCell
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
