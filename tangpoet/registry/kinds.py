"""The one registry object per plugin kind — cells, decoders, constraints, scorers — read by everything: the
library, shell completion, ``tangpoet plugins`` and the server's ``/info``.

Importing this module is cheap (no Keras): shell completion reads names from here.
"""

from __future__ import annotations

from tangpoet.registry.base import Registry
from tangpoet.registry.groups import (
    BUILTIN_CELLS,
    BUILTIN_CONSTRAINTS,
    BUILTIN_DECODERS,
    BUILTIN_SCORERS,
    CELL_GROUP,
    CONSTRAINT_GROUP,
    DECODER_GROUP,
    SCORER_GROUP,
)

# One registry object per kind, read by everything: the library (``tangpoet.model.cells.CELLS``,
# ``tangpoet.decoding.DECODERS``, … are these), shell completion, ``tangpoet plugins`` and the server's ``/info`` — so
# a name registered at run time (``DECODERS.register(...)``) is offered everywhere.
CELLS: Registry = Registry("cell", CELL_GROUP, fallback=BUILTIN_CELLS)
DECODERS: Registry = Registry("decoder", DECODER_GROUP, fallback=BUILTIN_DECODERS, retires=True)
CONSTRAINTS: Registry = Registry("constraint", CONSTRAINT_GROUP, fallback=BUILTIN_CONSTRAINTS, aliases=True)
SCORERS: Registry = Registry("scorer", SCORER_GROUP, fallback=BUILTIN_SCORERS)
REGISTRIES: dict[str, Registry] = {"cell": CELLS, "decoder": DECODERS, "constraint": CONSTRAINTS, "scorer": SCORERS}


def registry(kind: str) -> Registry:
    """The registry of ``kind``: ``"cell"``, ``"decoder"``, ``"constraint"`` or ``"scorer"``."""
    try:
        return REGISTRIES[kind]
    except KeyError:
        raise ValueError(f"unknown plugin kind {kind!r}") from None


def available_names(kind: str) -> list[str]:
    """Names of the installed cells (``kind="cell"``), decoders, constraints or scorers, without importing Keras.

    Cells and decoders are not imported either; constraints (light modules) are, to offer their aliases too."""
    found = registry(kind)
    names = found.names()
    if found.with_aliases:
        names += [alias for name in list(names) for alias in found.aliases(name) if alias not in names]
    return names
