"""Parallel couplets (对仗): what pairs with what, learned from real 律诗, and how parallel a poem's couplets are.

* :mod:`~tangpoet.decoding.couplets.table` — :class:`PairTable` (character and class pairing statistics, stored
  compactly; the bundled one is package data built by ``tools/build_pair_table.py``);
* :mod:`~tangpoet.decoding.couplets.build` — learning a table from a corpus (pairs, classes, held-out evaluation);
* :mod:`~tangpoet.decoding.couplets.measure` — which couplets of a form must be parallel, per position the pair
  and whether it is paired, a poem's parallelism; and 重字 (a character written twice, not as 叠字).

The ``parallel`` constraint (:mod:`tangpoet.decoding.constraints.parallel`), the ``parallelism`` scorer
(:mod:`tangpoet.decoding.scoring.parallelism`) and ``tangpoet check`` share one table.
"""

from __future__ import annotations

from tangpoet.decoding.couplets.measure import (
    CoupletReport,
    Pair,
    chongzi,
    couplet_reports,
    parallel_couplets,
    parallelism,
)
from tangpoet.decoding.couplets.table import PairTable, PairTableError, bundled_table, load_table

__all__ = [
    "CoupletReport",
    "Pair",
    "PairTable",
    "PairTableError",
    "bundled_table",
    "chongzi",
    "couplet_reports",
    "load_table",
    "parallel_couplets",
    "parallelism",
]
