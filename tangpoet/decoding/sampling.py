"""Sampling decoders: ``sample`` (temperature), ``top-k`` and ``top-p`` (nucleus).

Each draws the next token of every row from the processed log-probs, divided by the temperature and (top-k/top-p)
cut to the most likely tokens. Draws come from the seeded numpy generator, so a seed gives the same poem again.
"""

from __future__ import annotations

import numpy as np

from tangpoet.decoding.base import Decoder, check_positive

NEG_INF = -np.inf


def draw(log_probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One token per row drawn in proportion to ``exp(log_probs)`` (``-inf`` never drawn); one uniform per row."""
    rows = np.asarray(log_probs, dtype=np.float64)
    out = np.empty(rows.shape[0], dtype=np.int64)
    for r, row in enumerate(rows):
        finite = np.isfinite(row)
        weights = np.where(finite, np.exp(row - row[finite].max()), 0.0)
        cumulative = np.cumsum(weights)
        u = rng.random() * cumulative[-1]
        out[r] = min(int(np.searchsorted(cumulative, u, side="right")), len(row) - 1)
        if weights[out[r]] == 0.0:  # floating-point edge at the very end of the range
            out[r] = int(np.flatnonzero(finite)[-1])
    return out


def descending(row: np.ndarray) -> np.ndarray:
    """Indices of ``row`` from largest to smallest; ties in id order (like ``argmax``)."""
    return np.argsort(-row, kind="stable")


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


class TopKDecoder(SampleDecoder):
    """Sample among the ``top_k`` most likely allowed tokens (``top_k=1`` is greedy)."""

    name = "top-k"
    options = ("top_k", "temperature")

    def __init__(self, top_k: int = 40, temperature: float = 1.0, **options):
        super().__init__(temperature=temperature, **options)
        self.top_k = check_positive("top-k", 40 if top_k is None else top_k, integer=True)

    def filter(self, scaled):
        out = np.full_like(scaled, NEG_INF)
        for r, row in enumerate(scaled):
            keep = descending(row)[: self.top_k]
            out[r, keep] = row[keep]
        return out


class TopPDecoder(SampleDecoder):
    """Nucleus sampling: the fewest most likely tokens whose probability reaches ``top_p`` (tiny ``top_p``: greedy)."""

    name = "top-p"
    options = ("top_p", "temperature")

    def __init__(self, top_p: float = 0.9, temperature: float = 1.0, **options):
        super().__init__(temperature=temperature, **options)
        self.top_p = check_positive("top-p", 0.9 if top_p is None else top_p, upper=1.0)

    def filter(self, scaled):
        out = np.full_like(scaled, NEG_INF)
        for r, row in enumerate(scaled):
            order = descending(row)
            finite = np.isfinite(row[order])
            probs = np.where(finite, np.exp(row[order] - row[order[0]]), 0.0)
            probs /= probs.sum()
            before = np.cumsum(probs) - probs  # probability mass of the tokens ranked above each one
            keep = order[(before < self.top_p) & finite]
            keep = keep if keep.size else order[:1]
            out[r, keep] = row[keep]
        return out
