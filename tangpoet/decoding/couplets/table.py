"""What pairs with what in a parallel couplet (对仗): :class:`PairTable`, learned from real 律诗 by
:mod:`~tangpoet.decoding.couplets.build` and stored compactly with numpy (the bundled one: ``data/tang_pairs.npz``).

For a character ``a`` at some position of a couplet's first line and ``b`` at the same position of the second::

    P(b | a) = (n(a, b) + beta · P_class(b | a)) / (n(a) + beta)       P_class(b | a) = P(C_b | C_a) · n(b) / n(C_b)
    score(a, b) = log P(b | a) − log P(b)                              (nats; P(b) = n(b) / N)

``n(a, b)``: how often the corpus's middle couplets pair ``a`` with ``b`` (both ways round); ``C_a``: ``a``'s class,
learned from the data; ``P(C_b | C_a)``: how the classes pair. A pair the corpus wrote often scores by its own count;
an unseen one by its classes. ``score > 0``: the pair is likelier in a parallel couplet than chance. A pair is
**paired** when its score is at least :attr:`PairTable.threshold` (stored with the table) and the characters differ.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tangpoet.errors import TangpoetError

BUNDLED = "tang_pairs.npz"
#: Scores are clipped to ±CLIP nats (a rare pair seen once must not dominate a poem's measure or a preference).
CLIP = 4.0


class PairTableError(TangpoetError):
    """A pairing table file that is missing or not one."""


class PairTable:
    """Characters, their classes, how classes pair, and the pairs the corpus wrote (a symmetric sparse count matrix).

    ``chars``: the characters (a string); ``classes``: one class id per character; ``class_pairs``: ``[K, K]`` pair
    counts between classes; ``counts``: per character how often it stands in a pair (``n(a)``); ``pairs``: ``[P, 3]``
    rows ``(a, b, n(a, b))`` with ``a <= b``; ``beta``: the class prior's weight; ``threshold``: the score from which a
    pair counts as paired."""

    def __init__(self, chars: str, classes, class_pairs, counts, pairs, beta: float, threshold: float,
                 source: dict | None = None):
        self.chars = str(chars)
        self.index = {c: i for i, c in enumerate(self.chars)}
        self.classes = np.asarray(classes, dtype=np.int64)
        self.class_pairs = np.asarray(class_pairs, dtype=np.float64)
        self.counts = np.asarray(counts, dtype=np.float64)
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 3)
        self.beta = float(beta)
        self.threshold = float(threshold)
        self.source = dict(source or {})
        n = len(self.chars)
        self.total = float(self.counts.sum())
        class_count = np.bincount(self.classes, weights=self.counts, minlength=self.class_pairs.shape[0])
        self._within = np.where(class_count[self.classes] > 0, self.counts / np.maximum(class_count[self.classes], 1e-12), 0)
        # P(C_b | C_a), smoothed towards P(C_b) with the weight of one pair per class (no class pair is impossible)
        rows = self.class_pairs.sum(axis=1, keepdims=True)
        class_prior = class_count / max(class_count.sum(), 1e-12)
        mu = float(self.class_pairs.shape[0])
        self._class_given = (self.class_pairs + mu * class_prior[None, :]) / np.maximum(rows + mu, 1e-12)
        self._prior = np.maximum(self.counts / max(self.total, 1.0), 1e-12)  # P(b)
        # the symmetric sparse pair counts, one CSR row per character
        a, b, k = pairs[:, 0], pairs[:, 1], pairs[:, 2].astype(np.float64)
        off = a != b
        rows_ = np.concatenate([a, b[off]])
        cols = np.concatenate([b, a[off]])
        vals = np.concatenate([k, k[off]])
        order = np.lexsort((cols, rows_))
        self._cols, self._vals = cols[order], vals[order]
        self._offsets = np.searchsorted(rows_[order], np.arange(n + 1))
        self._kept = np.add.reduceat(np.append(self._vals, 0.0), self._offsets[:-1]) * (np.diff(self._offsets) > 0)
        self._cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: str) -> bool:
        return char in self.index

    @property
    def num_classes(self) -> int:
        return int(self.class_pairs.shape[0])

    def pair_count(self, a: str, b: str) -> int:
        i, j = self.index.get(a), self.index.get(b)
        if i is None or j is None:
            return 0
        lo, hi = self._offsets[i], self._offsets[i + 1]
        hit = np.flatnonzero(self._cols[lo:hi] == j)
        return int(self._vals[lo + hit[0]]) if len(hit) else 0

    def log_probs(self, i: int) -> np.ndarray:
        """``log P(b | chars[i])`` for every character ``b`` of the table (a distribution: it sums to one)."""
        given = self._class_given[self.classes[i]][self.classes] * self._within  # P_class(b | a)
        counts = np.zeros(len(self.chars))
        lo, hi = self._offsets[i], self._offsets[i + 1]
        counts[self._cols[lo:hi]] = self._vals[lo:hi]
        return np.log(np.maximum((counts + self.beta * given) / (self._kept[i] + self.beta), 1e-300))

    def row(self, i: int) -> np.ndarray:
        """``score(chars[i], b)`` for every character ``b`` of the table (float32, clipped to ±:data:`CLIP`)."""
        hit = self._cache.get(i)
        if hit is not None:
            return hit
        out = np.clip(self.log_probs(i) - np.log(self._prior), -CLIP, CLIP).astype(np.float32)
        out.setflags(write=False)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[i] = out
        return out

    def score(self, a: str, b: str) -> float | None:
        """``score(a, b)`` in nats (see the module); None when either character is not in the table."""
        i, j = self.index.get(a), self.index.get(b)
        if i is None or j is None:
            return None
        return float(self.row(i)[j])

    def paired(self, a: str, b: str) -> bool:
        """Whether ``a`` / ``b`` at one position of a couplet read as parallel: different characters, both in the
        table, scoring at least :attr:`threshold`."""
        s = self.score(a, b)
        return s is not None and a != b and s >= self.threshold

    def class_of(self, char: str) -> int | None:
        i = self.index.get(char)
        return None if i is None else int(self.classes[i])

    def members(self, k: int, top: int = 12) -> str:
        """The ``top`` most frequent characters of class ``k`` (for docs and debugging)."""
        idx = np.flatnonzero(self.classes == k)
        idx = idx[np.argsort(-self.counts[idx], kind="stable")][:top]
        return "".join(self.chars[i] for i in idx)

    # -- storage ------------------------------------------------------------------------------------------------
    def save(self, path) -> Path:
        path = Path(path)
        a, b = np.repeat(np.arange(len(self.chars)), np.diff(self._offsets)), self._cols
        upper = a <= b
        pairs = np.stack([a[upper], b[upper], self._vals[upper]], axis=1)
        np.savez_compressed(
            path,
            chars=self.chars,
            classes=self.classes.astype(np.uint16),
            class_pairs=self.class_pairs.astype(np.float32),
            counts=self.counts.astype(np.int32),
            pairs=pairs.astype(np.uint16 if len(self.chars) < 2**16 and pairs[:, 2].max(initial=0) < 2**16 else np.int32),
            beta=np.float32(self.beta),
            threshold=np.float32(self.threshold),
            source=json.dumps(self.source, ensure_ascii=False),
        )
        return path

    @classmethod
    def load(cls, path) -> PairTable:
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(
                    str(data["chars"]), data["classes"], data["class_pairs"], data["counts"], data["pairs"],
                    float(data["beta"]), float(data["threshold"]), json.loads(str(data["source"])),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise PairTableError(f"{path} is not a tangpoet pairing table: {type(exc).__name__}: {exc}") from None

    def __repr__(self) -> str:
        return (f"PairTable({len(self.chars)} characters, {self.num_classes} classes, "
                f"{len(self._vals)} pair entries, beta={self.beta:g}, threshold={self.threshold:g})")


@functools.lru_cache(maxsize=1)
def bundled_table() -> PairTable:
    """The table built from the bundled model's training corpus (loaded once)."""
    from tangpoet.data.packaged import load_packaged

    return load_packaged("tangpoet.decoding.couplets", BUNDLED, PairTable.load, PairTableError, "pairing table")


def load_table(table=None) -> PairTable:
    """``table`` itself, a table loaded from a path, or the bundled one (``None``)."""
    if table is None:
        return bundled_table()
    if isinstance(table, PairTable):
        return table
    return PairTable.load(table)


def vocab_index(table: PairTable, tokens: Sequence[str]) -> np.ndarray:
    """Per token of a vocabulary, its index in the table (``-1``: not in it)."""
    return np.asarray([table.index.get(t, -1) for t in tokens], dtype=np.int64)
