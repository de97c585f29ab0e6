"""Length-bucketed batches of shifted inputs/targets, padded on the fly.

Each poem ``c1…cn`` becomes inputs ``[<bos>, c1…cn]`` and targets ``[c1…cn, <eos>]``; a title-aware sequence
(``started=True``: ``<eos> title <bos> c1…cn``, :mod:`tangpoet.data.titles`) is its own inputs, shifted by one for
the targets. Batches are right-padded with
``<pad>`` (id 0) and the loss, not the recurrent layers, ignores the padding (a Keras RNN mask would turn off the
fused kernels on torch and JAX). Only the unpadded id arrays are kept in memory; a padded batch exists only while it
is used.

**Buckets.** Every distinct batch shape costs a compilation of the train step (XLA on JAX, a trace on TensorFlow), and
every pad token costs a step's worth of compute. Each epoch the poems are sorted by length (ties broken at random,
seeded by ``(seed, epoch)``) and cut into batches of ``batch_size`` rows; the remainder is the first batch (the
shortest poems), filled up with fully masked rows, so every batch has the same number of rows. A batch is padded to
the smallest *bucket* length that holds its longest poem. The sorted lengths are the same every epoch, so are the
batches' longest poems: :func:`choose_buckets` picks at most ``max_buckets`` lengths from them that compute the fewest
pad tokens (an exact dynamic programme over the distinct lengths). An epoch then has at most ``max_buckets`` shapes,
the partial batch included. The batch order is shuffled.

Poem lengths cluster at the forms' lengths (24, 32, 48, 64 characters with punctuation), but 16 % of the shared Tang
corpus is longer than 64 characters, spread up to 200: padding on its training split (44,526 poems, batch 64) is
4.4 % with 8 buckets, 2.7 % with 10, 2.4 % with 12, against 13.5 % for rounding each batch's longest poem up to a
multiple of 8 (34 shapes). :data:`MAX_BUCKETS` is 10: the padding bound (3 %) with two shapes more than 8.

With ``row_multiple`` > 1 (data parallel: the number of replicas) rows are rounded up to a multiple of it with fully
masked rows, so a batch splits evenly over the devices; masked rows add nothing to a masked loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tangpoet.data.vocab import BOS_ID, EOS_ID, PAD_ID

MAX_BUCKETS = 10  # distinct padded lengths per epoch (each one is a compilation on JAX, a trace on TensorFlow)


def shift(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, targets)`` for one poem's character ids."""
    ids = np.asarray(ids, dtype=np.int32)
    return np.concatenate([[BOS_ID], ids]).astype(np.int32), np.concatenate([ids, [EOS_ID]]).astype(np.int32)


def shift_started(sequence: np.ndarray, content_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, targets)`` for a sequence that holds its own start token (the title-aware format,
    :func:`tangpoet.data.titles.encode_sequence`); ``content_only``: the targets before the content's first
    character (a title and its closing ``<bos>``) are ``<pad>``, so only the content and ``<eos>`` count."""
    sequence = np.asarray(sequence, dtype=np.int32)
    targets = np.concatenate([sequence[1:], [EOS_ID]]).astype(np.int32)
    if content_only:
        targets[: int(np.flatnonzero(sequence == BOS_ID)[0])] = PAD_ID
    return sequence, targets


def pad_batch(sequences: Sequence[np.ndarray], length: int, rows: int | None = None) -> np.ndarray:
    """``sequences`` right-padded to ``length`` columns, with fully padded rows appended up to ``rows``."""
    batch = np.full((max(len(sequences), rows or 0), length), PAD_ID, dtype=np.int32)
    for row, seq in enumerate(sequences):
        batch[row, : len(seq)] = seq
    return batch


def padded_length(length: int, multiple: int = 8) -> int:
    """``length`` rounded up to a multiple of ``multiple``, and above ``16 * multiple`` to a multiple of ``length``'s
    power of two / 8 (at most 8 lengths per doubling): the rounding batches used before buckets were chosen from the
    corpus (kept for benchmarks and for lengths beyond every bucket)."""
    length, multiple = max(1, int(length)), max(1, int(multiple))
    step = max(multiple, 1 << max(0, (length - 1).bit_length() - 4))
    if multiple == 1 or length <= 16 * multiple:
        step = multiple
    return -(-length // step) * step


def choose_buckets(lengths, max_buckets: int = MAX_BUCKETS, multiple: int = 1) -> list[int]:
    """At most ``max_buckets`` lengths (ascending, the largest = the longest of ``lengths``) that minimise the pad
    tokens of padding each length to the smallest bucket that holds it. ``multiple`` > 1 rounds each candidate up to
    a multiple of it first."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.size == 0:
        return []
    if multiple > 1:
        lengths = -(-lengths // multiple) * multiple
    values, counts = np.unique(lengths, return_counts=True)
    k = max(1, min(int(max_buckets), len(values)))
    n = len(values)
    # cost[i][j]: pad tokens when values[i..j] all pad to values[j]
    cum_count = np.concatenate([[0], np.cumsum(counts)])
    cum_total = np.concatenate([[0], np.cumsum(counts * values)])

    def cost(i: int, j: int) -> int:  # inclusive range i..j
        return int(values[j] * (cum_count[j + 1] - cum_count[i]) - (cum_total[j + 1] - cum_total[i]))

    inf = float("inf")
    # best[b][j]: least cost covering values[0..j] with b buckets, the last at values[j]
    best = [[inf] * n for _ in range(k + 1)]
    back = [[-1] * n for _ in range(k + 1)]
    for j in range(n):
        best[1][j] = cost(0, j)
    for b in range(2, k + 1):
        for j in range(b - 1, n):
            options = [(best[b - 1][i] + cost(i + 1, j), i) for i in range(b - 2, j)]
            best[b][j], back[b][j] = min(options)
    b = min(range(1, k + 1), key=lambda m: (best[m][n - 1], m))
    chosen, j = [], n - 1
    while b >= 1 and j >= 0:
        chosen.append(int(values[j]))
        j, b = back[b][j], b - 1
    return sorted(chosen)


def _cut(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """``order`` (poems sorted by length) cut into batches of ``batch_size``; the remainder is the first batch (the
    shortest poems), so its filler rows cost the least."""
    first = len(order) % batch_size
    batches = [order[:first]] if first else []
    return batches + [order[i : i + batch_size] for i in range(first, len(order), batch_size)]


class Batches:
    """An epoch's worth of ``(inputs, targets)`` batches over encoded poems, in at most ``max_buckets`` shapes.

    ``buckets`` fixes the bucket lengths (e.g. the training batches' for the validation batches); a poem longer than
    every bucket gets a bucket of its own (rounded by :func:`padded_length`). ``shuffle=False`` keeps a fixed order:
    by bucket, then by length.
    """

    def __init__(
        self,
        sequences: Sequence[np.ndarray],
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        pad_multiple: int = 1,
        row_multiple: int = 1,
        max_buckets: int = MAX_BUCKETS,
        buckets: Sequence[int] | None = None,
        started: bool = False,
        content_only: bool = False,
    ):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not sequences:
            raise ValueError("no sequences to batch")
        if max_buckets < 1:
            raise ValueError("max_buckets must be at least 1")
        self.sequences = [np.asarray(s, dtype=np.int32) for s in sequences]
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.pad_multiple = max(1, int(pad_multiple))
        self.row_multiple = max(1, int(row_multiple))
        # started: each sequence holds its own start token (titles); else +1 for <bos>/<eos>
        self.started, self.content_only = bool(started), bool(content_only)
        self.lengths = np.array([len(s) + (0 if self.started else 1) for s in self.sequences])
        rows = min(self.batch_size, len(self.sequences))
        self.rows = -(-rows // self.row_multiple) * self.row_multiple  # every batch has this many rows
        if buckets is None:
            # the sorted lengths are the same every epoch (only ties are shuffled), so are the batches' longest poems
            maxima = [int(self.lengths[m].max()) for m in _cut(np.argsort(self.lengths, kind="stable"), self.batch_size)]
            buckets = choose_buckets(maxima, max_buckets, self.pad_multiple)
        self.buckets = sorted({int(b) for b in buckets})
        self._bucket_array = np.asarray(self.buckets, dtype=np.int64)
        self.epoch = 0
        self._plan()

    def _plan(self) -> None:
        if self.shuffle:
            rng = np.random.default_rng((self.seed, self.epoch))
            tie_break = rng.permutation(len(self.sequences))
            order = tie_break[np.argsort(self.lengths[tie_break], kind="stable")]
        else:
            rng = None
            order = np.argsort(self.lengths, kind="stable")
        batches = _cut(order, self.batch_size)
        lengths = [self._bucket(int(self.lengths[members[-1]])) for members in batches]
        if rng is not None:
            permutation = rng.permutation(len(batches))
            batches = [batches[i] for i in permutation]
            lengths = [lengths[i] for i in permutation]
        self.batches = batches
        self.batch_lengths = lengths

    def _bucket(self, length: int) -> int:
        i = int(np.searchsorted(self._bucket_array, length, side="left"))
        return self.buckets[i] if i < len(self.buckets) else padded_length(length, 8)

    def set_epoch(self, epoch: int) -> None:
        """Re-plan the batches for ``epoch`` (deterministic given the seed)."""
        self.epoch = int(epoch)
        self._plan()

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        members = self.batches[index]
        length = self.batch_lengths[index]
        if self.started:
            pairs = [shift_started(self.sequences[i], self.content_only) for i in members]
        else:
            pairs = [shift(self.sequences[i]) for i in members]
        return pad_batch([p[0] for p in pairs], length, self.rows), pad_batch([p[1] for p in pairs], length, self.rows)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    @property
    def real_tokens(self) -> int:
        """Target tokens that are not padding (characters + one ``<eos>`` per poem; titles included)."""
        return int(self.lengths.sum())

    def padded_tokens(self) -> int:
        """Tokens computed in this epoch's plan, padding and filler rows included."""
        return int(sum(self.rows * length for length in self.batch_lengths))

    def shapes(self) -> list[tuple[int, int]]:
        """The distinct ``(rows, length)`` shapes of this epoch's batches."""
        return sorted({(self.rows, length) for length in self.batch_lengths})

    def padding(self) -> float:
        """The share of computed tokens that are padding (pad columns and filler rows)."""
        return 1 - self.real_tokens / self.padded_tokens()
