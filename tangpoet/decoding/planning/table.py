"""Theme statistics: the corpus's two-character words and, per character (and per keyword), the keywords its poems
write — compact numpy arrays, loaded once. The bundled table (``data/tang_themes.npz``) is built from the bundled
model's training corpus by ``tools/build_theme_table.py``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tangpoet.errors import TangpoetError

BUNDLED = "tang_themes.npz"


class ThemeTableError(TangpoetError):
    """A theme table file that is missing or not one."""


class ThemeTable:
    """``words``: the corpus's two-character words (for reading a keyword as a word); ``keywords``: those a plan may
    use; ``related(key)``: ``[(keyword, weight)]`` for a character or a keyword, best first."""

    def __init__(self, words: Sequence[str], keywords: Sequence[str], keys: Sequence[str], offsets, index, weight,
                 source: dict | None = None):
        self.words = frozenset(words)
        self.keywords = tuple(keywords)
        self._keys = {key: k for k, key in enumerate(keys)}
        self._offsets = np.asarray(offsets, dtype=np.int64)
        self._index = np.asarray(index, dtype=np.int64)
        self._weight = np.asarray(weight, dtype=np.float32)
        self.source = dict(source or {})
        self._before: dict[str, frozenset] = {}
        self._after: dict[str, frozenset] = {}
        for word in self.words:
            self._before.setdefault(word[1], set()).add(word[0])  # type: ignore[arg-type]
            self._after.setdefault(word[0], set()).add(word[1])  # type: ignore[arg-type]
        self._before = {k: frozenset(v) for k, v in self._before.items()}
        self._after = {k: frozenset(v) for k, v in self._after.items()}

    @classmethod
    def from_rows(cls, words, keywords, keys, rows, source=None) -> ThemeTable:
        offsets = np.cumsum([0] + [len(r) for r in rows])
        index = np.asarray([i for r in rows for i, _ in r], dtype=np.int64)
        weight = np.asarray([w for r in rows for _, w in r], dtype=np.float32)
        return cls(words, keywords, keys, offsets, index, weight, source)

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def related(self, key: str) -> list[tuple[str, float]]:
        k = self._keys.get(key)
        if k is None:
            return []
        lo, hi = self._offsets[k], self._offsets[k + 1]
        return [(self.keywords[i], float(w)) for i, w in zip(self._index[lo:hi], self._weight[lo:hi])]

    def left_partners(self, char: str) -> frozenset:
        """Characters ``x`` such that ``x + char`` is a word."""
        return self._before.get(char, frozenset())

    def right_partners(self, char: str) -> frozenset:
        """Characters ``x`` such that ``char + x`` is a word."""
        return self._after.get(char, frozenset())

    def is_word(self, pair: str) -> bool:
        return pair in self.words

    # -- storage ------------------------------------------------------------------------------------------------
    def save(self, path) -> Path:
        path = Path(path)
        keys = sorted(self._keys, key=self._keys.get)
        np.savez_compressed(
            path,
            words="".join(sorted(self.words)),
            keywords="".join(self.keywords),
            keys="\n".join(keys),
            offsets=self._offsets.astype(np.int32),
            index=self._index.astype(np.uint16 if len(self.keywords) < 2**16 else np.int32),
            weight=self._weight.astype(np.float16),
            source=json.dumps(self.source, ensure_ascii=False),
        )
        return path

    @classmethod
    def load(cls, path) -> ThemeTable:
        """The table in ``path``, read as untrusted input: every array's header is checked before anything is
        allocated (:func:`tangpoet.data.untrusted.npz_arrays`, at most :data:`~tangpoet.limits.MAX_TABLE_BYTES`), the
        ``source`` JSON bounded in depth, the arrays' sizes and offsets consistent; else one :class:`ThemeTableError`."""
        from tangpoet.limits import MAX_TABLE_BYTES
        from tangpoet.data.untrusted import npz_arrays, read_json

        what = f"{path} (a theme table)"
        try:
            data = npz_arrays(path, what, ThemeTableError, max_bytes=MAX_TABLE_BYTES)
            missing = [k for k in ("words", "keywords", "keys", "offsets", "index", "weight", "source") if k not in data]
            if missing:
                raise ThemeTableError(f"{what} is damaged: it has no {', '.join(missing)}")
            texts = {k: data[k] for k in ("words", "keywords", "keys", "source")}
            if any(a.dtype.kind != "U" or a.ndim != 0 for a in texts.values()):
                raise ThemeTableError(f"{what} is damaged: its words, keywords, keys and source are not text")
            numbers = {k: data[k] for k in ("offsets", "index", "weight")}
            if any(a.dtype.kind not in "iuf" or a.ndim != 1 for a in numbers.values()):
                raise ThemeTableError(f"{what} is damaged: its offsets, index and weight are not arrays of numbers")
            words, keywords, keys = str(texts["words"]), str(texts["keywords"]), str(texts["keys"]).split("\n")
            offsets, index = numbers["offsets"].astype(np.int64), numbers["index"].astype(np.int64)
            if (
                len(offsets) != len(keys) + 1
                or len(index) != len(numbers["weight"])
                or (len(offsets) and (offsets[0] != 0 or offsets[-1] != len(index) or np.any(np.diff(offsets) < 0)))
                or (len(index) and (index.min() < 0 or index.max() >= len(keywords) // 2))
            ):
                raise ThemeTableError(f"{what} is damaged: its offsets and index do not fit its keys and keywords")
            source = read_json(str(texts["source"]), f"{what}: its source", ThemeTableError)
            return cls(
                [words[i : i + 2] for i in range(0, len(words), 2)],
                [keywords[i : i + 2] for i in range(0, len(keywords), 2)],
                keys,
                offsets,
                index,
                numbers["weight"],
                source if isinstance(source, dict) else {},
            )
        except ThemeTableError:
            raise
        except (OSError, KeyError, ValueError) as exc:
            raise ThemeTableError(f"{path} is not a tangpoet theme table: {type(exc).__name__}: {exc}") from None

    def __repr__(self) -> str:
        return f"ThemeTable({len(self.words)} words, {len(self.keywords)} keywords, {len(self._keys)} keys)"


@functools.lru_cache(maxsize=1)
def bundled_table() -> ThemeTable:
    """The table built from the bundled model's training corpus (loaded once)."""
    from tangpoet.data.packaged import load_packaged

    return load_packaged("tangpoet.decoding.planning", BUNDLED, ThemeTable.load, ThemeTableError, "theme table")


def load_table(table) -> ThemeTable:
    """``table`` itself, a table loaded from a path, or the bundled one (``None``)."""
    if table is None:
        return bundled_table()
    if isinstance(table, ThemeTable):
        return table
    return ThemeTable.load(table)
