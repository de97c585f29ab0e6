"""Rows of one batch written under different constraint chains (``write --theme --candidates``: a theme plan per
group of candidate rows, so best-of-N chooses among plans as well as among samples).

:class:`RowChains` stands where a decoder's ``chain`` goes; :class:`~tangpoet.decoding.base.Rollout` — the loop of every
decoder that only chooses tokens — applies each group's chain to that group's rows and gives each candidate its
group's plan. A decoder that runs its own loop (beam: its rows are one search, not independent samples) gets one
chain, as before: :func:`tangpoet.decoding.base.rows_can_differ`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class RowChains:
    """Row ``r`` of the batch is written under ``chains[groups[r]]``; its candidate carries ``plans[groups[r]]``."""

    def __init__(self, chains: Sequence, groups: Sequence[int], plans: Sequence[tuple[str, ...]]):
        self.chains = list(chains)
        self.groups = np.asarray(groups, dtype=np.int64)
        self.plans = [tuple(plan) for plan in plans]
        if len(self.plans) != len(self.chains) or (self.groups.size and not 0 <= self.groups.min() <= self.groups.max() < len(self.chains)):
            raise ValueError("every group of rows needs a chain and a plan")

    def apply(self, history: np.ndarray, log_probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The processed log-probs of ``rows`` (indices into the batch, in order), from the whole batch's ``history``
        and ``log_probs``: each row through its group's chain."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((rows.size, log_probs.shape[1]), dtype=np.float64)
        groups = self.groups[rows]
        for group, chain in enumerate(self.chains):
            mine = groups == group
            if mine.any():
                out[mine] = chain(history[rows[mine]], log_probs[rows[mine]])
        return out

    def __call__(self, history, log_probs):
        raise TypeError("RowChains needs each row's place in the batch: a decoder with its own loop gets one chain")
