"""Sampling decoders: ``sample`` (temperature), ``top-k`` and ``top-p`` (nucleus).

Each draws the next token of every row from the processed log-probs, divided by the temperature and (top-k/top-p)
cut to the most likely tokens. Draws come from the seeded numpy generator, so a seed gives the same poem again.
"""

from __future__ import annotations

import numpy as np

from tangpoet.decoding.base import Decoder
from tangpoet.decoding.draws import draw, draw_with  # noqa: F401 - draw: the one-generator form, for callers
from tangpoet.decoding.nucleus import nucleus_draw, nucleus_mask
from tangpoet.limits import DECODER_OPTIONS

NEG_INF = -np.inf


def top_k_mask(scaled: np.ndarray, k: int) -> np.ndarray:
    """Per row, True for the ``k`` largest entries, ties in id order — the first ``k`` of the row's stable ranking —
    without sorting the row (one ``np.partition`` for all rows)."""
    rows, n = scaled.shape
    if k >= n:
        return np.ones(scaled.shape, dtype=bool)
    kth = np.partition(scaled, n - k, axis=1)[:, n - k : n - k + 1]  # the k-th largest value of each row
    above = scaled > kth
    tied = scaled == kth
    room = k - above.sum(axis=1, keepdims=True)  # how many of the tied entries fit, lowest ids first
    return above | (tied & (np.cumsum(tied, axis=1) <= room))


class SampleDecoder(Decoder):
    """Sample from the model's distribution sharpened (temperature < 1) or flattened (> 1)."""

    name = "sample"
    options = ("temperature",)
    independent_rows = True

    def __init__(self, temperature: float | None = None, **options):
        super().__init__(**options)
        self.temperature = DECODER_OPTIONS["temperature"].value(temperature)

    def filter(self, scaled: np.ndarray) -> np.ndarray:
        """Hook for top-k / top-p: mask tokens out of ``scaled`` log-probs (rows already divided by temperature)."""
        return scaled

    def choose(self, log_probs, rng):
        rows = np.asarray(log_probs)
        return self._choose_rows(rows, rng.random(rows.shape[0]))

    def _choose_rows(self, rows: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """Filter and draw for ``rows`` (log-probs) with one uniform per row."""
        return draw_with(self.filter(np.asarray(rows, dtype=np.float64) / self.temperature), uniforms)

    def batch_key(self):
        # The built-in filters treat every row on its own, so many requests' rows can be filtered together; a
        # subclass with its own choose or filter chooses alone.
        if type(self).choose is SampleDecoder.choose and type(self).filter in _ROW_WISE_FILTERS:
            return (type(self), *(getattr(self, name) for name in self.options))
        return None

    def choose_many(self, processed, rngs):
        if self.batch_key() is None:
            return super().choose_many(processed, rngs)
        # each request's uniforms from its own generator, its rows in order; then one filter and draw for all rows
        uniforms = np.concatenate([rng.random(len(rows)) for rows, rng in zip(processed, rngs)])
        chosen = self._choose_rows(np.concatenate([np.asarray(p) for p in processed]), uniforms)
        return np.split(chosen, np.cumsum([len(rows) for rows in processed])[:-1])


class TopKDecoder(SampleDecoder):
    """Sample among the ``top_k`` most likely allowed tokens (``top_k=1`` is greedy)."""

    name = "top-k"
    options = ("top_k", "temperature")

    def __init__(self, top_k: int | None = None, temperature: float | None = None, **options):
        super().__init__(temperature=temperature, **options)
        self.top_k = DECODER_OPTIONS["top_k"].value(top_k)

    def filter(self, scaled):
        return np.where(top_k_mask(scaled, self.top_k), scaled, NEG_INF)


class TopPDecoder(SampleDecoder):
    """Nucleus sampling: the fewest most likely tokens whose probability reaches ``top_p`` (tiny ``top_p``: greedy)."""

    name = "top-p"
    options = ("top_p", "temperature")

    def __init__(self, top_p: float | None = None, temperature: float | None = None, **options):
        super().__init__(temperature=temperature, **options)
        self.top_p = DECODER_OPTIONS["top_p"].value(top_p)

    def filter(self, scaled):
        return np.where(nucleus_mask(scaled, self.top_p), scaled, NEG_INF)

    def _choose_rows(self, rows, uniforms):
        if type(self).filter is not TopPDecoder.filter:  # a subclass's own filter: filter, then draw
            return super()._choose_rows(rows, uniforms)
        # the same tokens as filtering the whole rows and drawing, from each row's largest values (nucleus.py)
        return nucleus_draw(rows, self.temperature, self.top_p, uniforms)


_ROW_WISE_FILTERS = (SampleDecoder.filter, TopKDecoder.filter, TopPDecoder.filter)
