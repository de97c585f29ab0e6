"""Whole-poem likelihood of one-character replacements: every candidate of every position in one pass over the poem.

For a position ``i`` of a poem ``x`` and a candidate character ``c``, the score is the log-probability of the whole
poem with ``c`` at ``i``. The part before ``i`` is the same for every candidate, so only
``log p(c | x_<i) + Σ_{t>i} log p(x_t | x_<i, c, x_i+1..t-1)`` (up to ``<eos>``) ranks them: the left context's
recurrent state is computed once and shared, and the candidates are stepped through the right context together as
rows of one batch.

The right context is what costs (one row-step per candidate per character), so candidates are dropped as it is
read, like successive halving: the :class:`Schedule` keeps the ``first`` best by the left context alone, then after
``after`` characters of right context only the ``keep`` best, and so on; the survivors read the whole rest of the
poem (or ``window`` characters). The original character is row 0 and is never dropped: its score over the same
tokens gives each candidate's gain (``delta``).

All positions of one poem share the pass: the original poem is stepped once, and at each position to mend its
candidates branch off row 0's state. Row counts are rounded up to a few bucket sizes so a compiling backend traces
a handful of shapes, not one per count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tangpoet.data.vocab import BOS_ID, EOS_ID

#: Row counts a step is padded to (then doubling): a compiling backend sees a few shapes.
_BUCKETS = (1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256)


@dataclass(frozen=True)
class Schedule:
    """How many candidates of a position survive as its right context is read.

    ``first``: kept by the left context alone (``log p(c | the characters before)``); ``stages``: ``(after, keep)``
    pairs — after reading ``after`` characters of right context only the ``keep`` best (by the score so far) go on;
    ``window``: right-context tokens read at most (``None``: to the poem's end, ``<eos>`` included). Chosen by the
    restore benchmark (``benchmarks/restore.py --sweep``).
    """

    first: int = 128
    stages: tuple[tuple[int, int], ...] = ((1, 24), (4, 8))
    window: int | None = None

    def keep_after(self, read: int) -> int | None:
        for after, keep in self.stages:
            if after == read:
                return keep
        return None


FULL = Schedule(first=10**9, stages=(), window=None)  # every candidate reads the whole right context (slow: tests)


@dataclass
class Ranked:
    """One position's candidates, best first: ids, their scores and gains over the original character, and how many
    candidates were considered (those dropped early are not listed)."""

    index: int
    ids: np.ndarray
    scores: np.ndarray
    original: float
    considered: int
    dropped: dict[int, int] = field(default_factory=dict)  # id -> the stage (0: left context) that dropped it

    @property
    def deltas(self) -> np.ndarray:
        return self.scores - self.original


def _bucket(n: int) -> int:
    for size in _BUCKETS:
        if size >= n:
            return size
    size = _BUCKETS[-1]
    while size < n:
        size *= 2
    return size


class _Rows:
    """The batch: per row its group (-1: the original poem), candidate id, score so far, and recurrent state."""

    def __init__(self, state):
        self.group = np.array([-1], dtype=np.int64)
        self.token = np.array([-1], dtype=np.int64)
        self.score = np.zeros(1, dtype=np.float64)
        self.state = state

    def add(self, group: int, tokens: np.ndarray, scores: np.ndarray) -> None:
        n = len(tokens)
        self.group = np.concatenate([self.group, np.full(n, group, dtype=np.int64)])
        self.token = np.concatenate([self.token, tokens.astype(np.int64)])
        self.score = np.concatenate([self.score, scores.astype(np.float64)])
        rows = np.zeros(n, dtype=np.int64)
        self.state = [tuple(np.concatenate([s, s[rows]], axis=0) for s in layer) for layer in self.state]

    def keep(self, mask: np.ndarray) -> None:
        self.group, self.token, self.score = self.group[mask], self.token[mask], self.score[mask]
        self.state = [tuple(s[mask] for s in layer) for layer in self.state]


def rescore(
    stepper,
    ids: Sequence[int],
    positions: dict[int, np.ndarray],
    schedule: Schedule = Schedule(),
    *,
    minimum: int = 5,
) -> dict[int, Ranked]:
    """Rank, for each token index ``i`` of ``positions`` (``ids``: the poem's ids without ``<bos>``), the candidate
    ids ``positions[i]`` by the model's log-probability of the whole poem with the candidate at ``i``.

    ``minimum``: no stage keeps fewer than this many candidates (the number of suggestions wanted). Returns
    ``{i: Ranked}``; a position without candidates gets an empty :class:`Ranked`.
    """
    tokens = np.asarray(ids, dtype=np.int64).reshape(-1)
    length = len(tokens)
    order = sorted(i for i in positions if 0 <= i < length)
    out: dict[int, Ranked] = {}
    if not order:
        return out
    window = schedule.window if schedule.window is not None else length + 1
    groups = {g: i for g, i in enumerate(order)}
    original = dict.fromkeys(groups, 0.0)
    considered = dict.fromkeys(groups, 0)
    dropped: dict[int, dict[int, int]] = {g: {} for g in groups}
    start = order[0]
    prefix = np.concatenate([[BOS_ID], tokens[:start]]).astype(np.int32)
    log_probs, state = stepper.prime(prefix, 1)
    rows = _Rows(state)
    finished: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def read(t: int, lp: np.ndarray, token: int) -> None:
        """Add ``log p(token)`` at step ``t`` to every active row whose position lies before ``t``, in its window."""
        for g, i in groups.items():
            if g in finished or i >= t or t - i > window:
                continue
            original[g] += float(lp[0, token])
            mine = rows.group == g
            rows.score[mine] += lp[np.flatnonzero(mine), token]

    def prune(t: int) -> None:
        """After reading token ``t``: close the groups whose window is read (or the poem, ``<eos>`` included), and
        drop the weaker candidates of a group at a stage of the schedule."""
        for g, i in groups.items():
            if g in finished or i >= t:
                continue
            read_so_far = t - i
            mine = np.flatnonzero(rows.group == g)
            ranked = mine[np.argsort(-rows.score[mine], kind="stable")]
            if read_so_far >= window or t == length:
                finished[g] = (rows.token[ranked].copy(), rows.score[ranked].copy())
                rows.keep(rows.group != g)
                continue
            keep = schedule.keep_after(read_so_far)
            if keep is not None and len(mine) > max(keep, minimum):
                cut = ranked[max(keep, minimum):]
                for r in cut:
                    dropped[g][int(rows.token[r])] = read_so_far
                mask = np.ones(len(rows.group), dtype=bool)
                mask[cut] = False
                rows.keep(mask)

    for t in range(start, length + 1):
        token = int(tokens[t]) if t < length else EOS_ID
        read(t, log_probs, token)
        prune(t)
        if t == length or len(finished) == len(groups):
            break
        # branch: the candidates of position t, from row 0's state (its log-probs give the left context's score)
        entering = [g for g, i in groups.items() if i == t]
        for g in entering:
            candidates = np.unique(np.asarray(positions[t], dtype=np.int64).reshape(-1))
            candidates = candidates[candidates != token]
            considered[g] = len(candidates)
            original[g] = float(log_probs[0, token])
            if not len(candidates):
                finished[g] = (np.zeros(0, dtype=np.int64), np.zeros(0))
                continue
            left = log_probs[0, candidates].astype(np.float64)
            top = np.argsort(-left, kind="stable")
            limit = max(schedule.first, minimum)
            for r in top[limit:]:
                dropped[g][int(candidates[r])] = 0
            top = top[:limit]
            rows.add(g, candidates[top], left[top])
        feed = np.where(np.isin(rows.group, entering), rows.token, token).astype(np.int32)
        n = len(feed)
        size = _bucket(n)
        state = rows.state
        if size > n:  # padded with copies of row 0, dropped again after the step
            pad = np.zeros(size - n, dtype=np.int64)
            feed = np.concatenate([feed, feed[pad]])
            state = [tuple(np.concatenate([s, s[pad]], axis=0) for s in layer) for layer in state]
        log_probs, state = stepper.step(feed, state)
        rows.state = [tuple(s[:n] for s in layer) for layer in state]
        log_probs = log_probs[:n]
    for g, i in groups.items():
        ranked_ids, scores = finished.get(g, (np.zeros(0, dtype=np.int64), np.zeros(0)))
        out[i] = Ranked(i, ranked_ids, scores, original[g], considered[g], dropped[g])
    return out
