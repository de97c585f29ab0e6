"""Sampling decoders: ``sample`` (temperature), ``top-k`` and ``top-p`` (nucleus).

Each draws the next token of every row from the processed log-probs, divided by the temperature and (top-k/top-p)
cut to the most likely tokens. Draws come from the seeded numpy generator, so a seed gives the same poem again.
"""

from __future__ import annotations

import numpy as np

from tangpoet.decoding.base import Decoder, check_positive

NEG_INF = -np.inf


def draw(log_probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One token per row drawn in proportion to ``exp(log_probs)`` (``-inf`` never drawn); one uniform per row.

    Only the allowed (finite) ids are summed — after top-k / top-p or a constraint that is a few dozen of the
    vocabulary's thousands; the cumulative sums equal those over the whole row (the skipped weights are zeros).
    """
    rows = np.asarray(log_probs, dtype=np.float64)
    out = np.empty(rows.shape[0], dtype=np.int64)
    for r, row in enumerate(rows):
        allowed = np.flatnonzero(np.isfinite(row))
        values = row[allowed]
        cumulative = np.cumsum(np.exp(values - values.max()))
        u = rng.random() * cumulative[-1]
        # past the end (floating-point edge): the last allowed id
        out[r] = allowed[min(int(np.searchsorted(cumulative, u, side="right")), allowed.size - 1)]
    return out


def top_k_mask(scaled: np.ndarray, k: int) -> np.ndarray:
    """Per row, True for the ``k`` largest entries, ties in id order — the first ``k`` of the row's stable ranking (largest
    first, ties in id order), without sorting the
    row (one ``np.partition`` for all rows)."""
    rows, n = scaled.shape
    if k >= n:
        return np.ones(scaled.shape, dtype=bool)
    kth = np.partition(scaled, n - k, axis=1)[:, n - k : n - k + 1]  # the k-th largest value of each row
    above = scaled > kth
    tied = scaled == kth
    room = k - above.sum(axis=1, keepdims=True)  # how many of the tied entries fit, lowest ids first
    return above | (tied & (np.cumsum(tied, axis=1) <= room))


def nucleus_mask(scaled: np.ndarray, top_p: float) -> np.ndarray:
    """Per row, True for the fewest most likely tokens whose probability reaches ``top_p`` (at least one).

    Exactly the tokens of ranking each row (largest first, ties in id order) and counting the probability mass above each one — but
    the count needs only the sorted *values* (``np.sort``, ~8× faster than the stable ``argsort`` of ids that was most
    of a sampling step's time); the ids are then those above the last kept value, plus the lowest ids tied with it.
    All rows in one go (a server chooses for many requests' rows at once).
    """
    ranked = np.sort(scaled, axis=1)[:, ::-1]
    finite = np.isfinite(ranked)
    probs = np.zeros(ranked.shape)
    np.exp(ranked - ranked[:, :1], out=probs, where=finite)  # exp of the finite ones only (exp(-inf) is slow)
    probs /= probs.sum(axis=1, keepdims=True)
    before = np.cumsum(probs, axis=1) - probs  # probability mass of the tokens ranked above each one
    count = np.maximum(((before < top_p) & finite).sum(axis=1), 1)  # a prefix of each row's ranking
    last = np.take_along_axis(ranked, (count - 1)[:, None], axis=1)
    keep = scaled > last
    tied = scaled == last
    room = count[:, None] - keep.sum(axis=1, keepdims=True)  # ties in id order, like the stable ranking
    if (tied.sum(axis=1, keepdims=True) <= room).all():  # the usual case: every tied token fits
        return keep | tied
    return keep | (tied & (np.cumsum(tied, axis=1) <= room))


class SampleDecoder(Decoder):
    """Sample from the model's distribution sharpened (temperature < 1) or flattened (> 1)."""

    name = "sample"
    options = ("temperature",)

    def __init__(self, temperature: float = 1.0, **options):
        super().__init__(**options)
        self.temperature = check_positive("temperature", 1.0 if temperature is None else temperature)

    def filter(self, scaled: np.ndarray) -> np.ndarray:
        """Hook for top-k / top-p: mask tokens out of ``scaled`` log-probs (rows already divided by temperature)."""
        return scaled

    def choose(self, log_probs, rng):
        scaled = np.asarray(log_probs, dtype=np.float64) / self.temperature
        return draw(self.filter(scaled), rng)

    def batch_key(self):
        # The built-in filters treat every row on its own, so many requests' rows can be filtered together; a
        # subclass with its own choose or filter chooses alone.
        if type(self).choose is SampleDecoder.choose and type(self).filter in _ROW_WISE_FILTERS:
            return (type(self), *(getattr(self, name) for name in self.options))
        return None

    def choose_many(self, processed, rngs):
        if self.batch_key() is None:
            return super().choose_many(processed, rngs)
        filtered = self.filter(np.concatenate([np.asarray(p, dtype=np.float64) for p in processed]) / self.temperature)
        chosen, offset = [], 0
        for rows, rng in zip(processed, rngs):  # each request's draws from its own generator, rows in order
            chosen.append(draw(filtered[offset : offset + len(rows)], rng))
            offset += len(rows)
        return chosen


class TopKDecoder(SampleDecoder):
    """Sample among the ``top_k`` most likely allowed tokens (``top_k=1`` is greedy)."""

    name = "top-k"
    options = ("top_k", "temperature")

    def __init__(self, top_k: int = 40, temperature: float = 1.0, **options):
        super().__init__(temperature=temperature, **options)
        self.top_k = check_positive("top-k", 40 if top_k is None else top_k, integer=True)

    def filter(self, scaled):
        return np.where(top_k_mask(scaled, self.top_k), scaled, NEG_INF)


class TopPDecoder(SampleDecoder):
    """Nucleus sampling: the fewest most likely tokens whose probability reaches ``top_p`` (tiny ``top_p``: greedy)."""

    name = "top-p"
    options = ("top_p", "temperature")

    def __init__(self, top_p: float = 0.9, temperature: float = 1.0, **options):
        super().__init__(temperature=temperature, **options)
        self.top_p = check_positive("top-p", 0.9 if top_p is None else top_p, upper=1.0)

    def filter(self, scaled):
        return np.where(nucleus_mask(scaled, self.top_p), scaled, NEG_INF)


_ROW_WISE_FILTERS = (SampleDecoder.filter, TopKDecoder.filter, TopPDecoder.filter)
