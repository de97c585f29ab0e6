"""Which token ids of a vocabulary are characters, punctuation and line ends (:class:`TokenClasses`)."""

from __future__ import annotations

import unicodedata

import numpy as np

from tangpoet.decoding.forms import COMMA, FULL_STOP, LINE_END, SENTENCE_END
from tangpoet.data.vocab import SPECIALS, Vocabulary


def is_punctuation(char: str) -> bool:
    return char in LINE_END or unicodedata.category(char).startswith("P")


class TokenClasses:
    """Which ids of a vocabulary are characters, punctuation, line ends."""

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab
        self.size = len(vocab)
        self.char = np.zeros(self.size, dtype=bool)
        self.line_end = np.zeros(self.size, dtype=bool)
        self.sentence_end = np.zeros(self.size, dtype=bool)
        for i, token in enumerate(vocab.tokens):
            if i < len(SPECIALS):
                continue
            if is_punctuation(token):
                self.line_end[i] = token in LINE_END
                self.sentence_end[i] = token in SENTENCE_END
            else:
                self.char[i] = True
        self.comma = vocab.id(COMMA) if COMMA in vocab else None
        self.full_stop = vocab.id(FULL_STOP) if FULL_STOP in vocab else None
        for array in (self.char, self.line_end, self.sentence_end):
            array.setflags(write=False)  # shared by every request of a vocabulary (:meth:`of`)

    @classmethod
    def of(cls, vocab: Vocabulary) -> TokenClasses:
        """The classes of ``vocab``, computed once per vocabulary (a server builds constraints for every request;
        reading 5,000 characters' Unicode categories each time cost ~17 ms per poem)."""
        cached = vocab.__dict__.get("_token_classes")
        if not isinstance(cached, cls) or cached.vocab is not vocab or cached.size != len(vocab):
            cached = cls(vocab)
            vocab.__dict__["_token_classes"] = cached
        return cached

    def line_positions(self, history: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row of ``history`` ``[rows, t]``: the line index, the characters so far in that line, and the length of
        the first line (``-1`` while the first line is not finished)."""
        rows, t = history.shape
        if t == 0:
            zeros = np.zeros(rows, dtype=np.int64)
            return zeros, zeros, zeros - 1
        ends = self.line_end[history]
        ended = ends.any(axis=1)
        line = ends.sum(axis=1)
        last = np.where(ended, t - 1 - ends[:, ::-1].argmax(axis=1), -1)
        first = np.where(ended, ends.argmax(axis=1), -1)
        return line, t - 1 - last, first

    def line_position(self, row: np.ndarray) -> tuple[int, int, int | None]:
        """:meth:`line_positions` for one row, with ``None`` for an unfinished first line."""
        line, count, first = (int(a[0]) for a in self.line_positions(np.asarray(row, dtype=np.int64).reshape(1, -1)))
        return line, count, (None if first < 0 else first)
