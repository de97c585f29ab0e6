"""Teacher-forced log-probabilities of whole sequences, through a step decoder: rows of one batch, one step per token.

A step decoder is used rather than the whole-sequence model so that every model call goes where the request's calls
go (a server's :class:`~tangpoet.serve.engine.ProxyStepper` batches them with everyone else's rows).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tangpoet.limits import POEM_BATCH
from tangpoet.data.vocab import BOS_ID, PAD_ID


def token_log_probs(stepper, sequences: Sequence[Sequence[int]], batch: int = POEM_BATCH) -> list[np.ndarray]:
    """For each sequence (ids, no ``<bos>``): ``log p(token_t | <bos>, token_<t)`` for every ``t`` (float64 array).

    Sequences are stepped ``batch`` rows at a time, shortest first (similar lengths share a batch)."""
    out: list[np.ndarray | None] = [None] * len(sequences)
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    for start in range(0, len(order), batch):
        chunk = order[start : start + batch]
        rows = [np.asarray(sequences[i], dtype=np.int64).reshape(-1) for i in chunk]
        longest = max((len(r) for r in rows), default=0)
        if longest == 0:
            for i in chunk:
                out[i] = np.zeros(0)
            continue
        tokens = np.full((len(rows), longest), PAD_ID, dtype=np.int64)
        for r, row in enumerate(rows):
            tokens[r, : len(row)] = row
        got = np.zeros((len(rows), longest))
        log_probs, state = stepper.prime(np.asarray([BOS_ID]), len(rows))
        every = np.arange(len(rows))
        for t in range(longest):
            got[:, t] = np.asarray(log_probs, dtype=np.float64)[every, tokens[:, t]]
            if t + 1 < longest:
                log_probs, state = stepper.step(tokens[:, t].astype(np.int32), state)
        for r, i in enumerate(chunk):
            out[i] = got[r, : len(rows[r])]
    return out  # type: ignore[return-value]
