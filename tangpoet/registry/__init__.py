"""Plugins of every kind, found through Python entry points.

- :mod:`~tangpoet.registry.base`: the ONE :class:`Registry` class (entry points, run-time registration, aliases,
  "did you mean", broken-plugin reports).
- :mod:`~tangpoet.registry.groups`: the entry-point group names and the built-ins' targets.
- :mod:`~tangpoet.registry.kinds`: one registry object per kind — :data:`CELLS`, :data:`DECODERS`,
  :data:`CONSTRAINTS`, :data:`SCORERS` — read by everything.
- :mod:`~tangpoet.registry.table`: the table ``tangpoet plugins`` prints.

Everything is re-exported here; ``tangpoet.catalog`` and the old module ``tangpoet.registry`` are this package.
No Keras is imported.
"""

from __future__ import annotations

from tangpoet.registry.base import (  # noqa: F401
    IN_PROCESS,
    OWN_DISTRIBUTION,
    Entry,
    PluginError,
    Registry,
    did_you_mean,
    plugins_disabled,
)
from tangpoet.registry.groups import (  # noqa: F401
    BUILTIN_CELLS,
    BUILTIN_CONSTRAINTS,
    BUILTIN_DECODERS,
    BUILTIN_SCORERS,
    CELL_GROUP,
    CONSTRAINT_GROUP,
    DECODER_GROUP,
    SCORER_GROUP,
)
from tangpoet.registry.kinds import CELLS, CONSTRAINTS, DECODERS, REGISTRIES, SCORERS, available_names, registry  # noqa: F401
from tangpoet.registry.table import PluginRow, format_table, plugin_table  # noqa: F401
