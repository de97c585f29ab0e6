"""词林正韵, the rhyme book of ci: 19 parts (部), each with its 平声 and its 仄声 (上去; parts 15-19 入声)
characters, in simplified characters (``data/cilin.json``, built by ``tools/build_tune_table.py`` from
chinese_word_rhyme's ``Cilin_Rhyme.json``, MIT: ``data/LICENSE-cilin``).

A character's tones are those it is listed under (a character listed under both is read either way); its parts are
the parts it is listed in. Characters the book does not list have no tone and no part here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

PING, ZE = "平", "仄"


@dataclass(frozen=True)
class Part:
    name: str  # 第一部 …
    level: frozenset  # 平声 characters
    oblique: frozenset  # 仄声 characters (上去, or 入声 for parts 15-19)
    entering: bool  # an 入声 part

    def members(self, tone: str) -> frozenset:
        """The characters of this part a rhyme of ``tone`` (平, 仄, or 中: either) may take."""
        if tone == PING:
            return self.level
        if tone == ZE:
            return self.oblique
        return self.level | self.oblique


class RhymeBook:
    """Character → tones and parts under 词林正韵; ``shared``: pairs of parts Song ci rhyme together (邻部通押, e.g.
    第六部 真文 with 第十一部 庚青), measured on 全宋词 by ``tools/build_tune_table.py``."""

    def __init__(self, parts: list[Part], shared: list[tuple[int, int]] = ()):
        self.parts = tuple(parts)
        self.shared: dict[int, set[int]] = {k: {k} for k in range(len(self.parts))}
        for a, b in shared:
            self.shared[a].add(b)
            self.shared[b].add(a)
        self._tones: dict[str, set] = {}
        self._parts: dict[str, list[int]] = {}
        for k, part in enumerate(self.parts):
            for tone, chars in ((PING, part.level), (ZE, part.oblique)):
                for c in chars:
                    self._tones.setdefault(c, set()).add(tone)
                    if k not in self._parts.setdefault(c, []):
                        self._parts[c].append(k)

    def tones(self, char: str) -> frozenset:
        """``{平}``, ``{仄}``, both (read either way) or empty (not in the book)."""
        return frozenset(self._tones.get(char, ()))

    def mark(self, char: str) -> str | None:
        """``平``, ``仄``, ``平仄`` (both readings) or None — the marks ``tangpoet check`` prints."""
        tones = self.tones(char)
        return "平仄" if len(tones) == 2 else next(iter(tones)) if tones else None

    def parts_of(self, char: str) -> list[int]:
        return list(self._parts.get(char, ()))

    def rhymes_with(self, part: int) -> set[int]:
        """``part`` and the parts Song ci rhyme with it (邻部通押)."""
        return self.shared[part]

    def fits(self, char: str, tone: str) -> bool | None:
        """Whether ``char`` may stand where ``tone`` is wanted (中: anything); None: not in the book."""
        tones = self.tones(char)
        if not tones:
            return None
        return tone not in (PING, ZE) or tone in tones


@lru_cache(maxsize=1)
def rhyme_book() -> RhymeBook:
    raw = json.loads(resources.files("tangpoet_rhyme").joinpath("data", "cilin.json").read_text("utf-8"))
    names = [p["name"] for p in raw["parts"]]
    return RhymeBook([
        Part(p["name"], frozenset(p.get(PING, "")), frozenset(p.get(ZE, "")), bool(p.get("入声"))) for p in raw["parts"]
    ], [(names.index(a), names.index(b)) for a, b in raw.get("shared", ())])


class VocabBook:
    """Per token of a vocabulary: which tones it fits and which parts it belongs to (masks for the planner)."""

    def __init__(self, vocab, classes, book: RhymeBook | None = None):
        book = book or rhyme_book()
        self.book = book
        size = len(vocab)
        char = np.asarray(classes.char, dtype=bool)
        self.fits = {PING: np.zeros(size, bool), ZE: np.zeros(size, bool)}
        self.member = {tone: np.zeros((len(book.parts), size), bool) for tone in (PING, ZE)}
        for i, token in enumerate(vocab.tokens):
            if not char[i]:
                continue
            for tone in book.tones(token):
                self.fits[tone][i] = True
            for k, part in enumerate(book.parts):
                if token in part.level:
                    self.member[PING][k, i] = True
                if token in part.oblique:
                    self.member[ZE][k, i] = True
        self.char = char

    def tone_mask(self, tone: str) -> np.ndarray:
        """Tokens that may stand where ``tone`` is wanted (中: every character)."""
        return self.fits[tone] if tone in (PING, ZE) else self.char

    def rhyme_mask(self, part: int, tone: str) -> np.ndarray:
        """Tokens of ``part`` that may end a verse rhyming in ``tone`` (中: either of the part's lists)."""
        if tone in (PING, ZE):
            return self.member[tone][part]
        return self.member[PING][part] | self.member[ZE][part]


_CACHE: dict[int, tuple[object, VocabBook]] = {}


def vocab_book(vocab, classes) -> VocabBook:
    """:class:`VocabBook` of ``vocab``, computed once per vocabulary."""
    cached = _CACHE.get(id(vocab))
    if cached is None or cached[0] is not vocab:
        cached = (vocab, VocabBook(vocab, classes))
        _CACHE[id(vocab)] = cached
    return cached[1]
