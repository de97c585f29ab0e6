"""重字: a 绝句 or 律诗 writes no character twice, except as 叠字 (the same character twice in a row, 萧萧).

:class:`NoChongzi` masks while writing (soft: dropped for a row where it would leave nothing, so it never blocks a
hard rule — a begin text, an acrostic or keywords that repeat a character themselves, or a rhyme). The prosody
plugin's ``regulated`` applies it (``regulated:chongzi=no`` turns it off); ``check`` lists a finished poem's 重字
(:func:`tangpoet.decoding.couplets.chongzi`) as a fault of style, not a broken rule.
"""

from __future__ import annotations

import numpy as np

from tangpoet.decoding.constraints.base import NEG_INF, LogitsProcessor


class NoChongzi(LogitsProcessor):
    """Soft: under a line form of ``chars`` characters a line, no character the poem already holds — or that the
    plan places later (``fixed``: ``(line, col) -> id``) — except the one just written, once, to make a 叠字."""

    hard = False

    def __init__(self, is_char: np.ndarray, chars: int, fixed: dict[tuple[int, int], int] | None = None):
        self.is_char = np.asarray(is_char, dtype=bool)
        self.chars = int(chars)
        self.step = self.chars + 1
        self.fixed = {line * self.step + col: int(token) for (line, col), token in (fixed or {}).items()}

    def __call__(self, history, log_probs):
        t = history.shape[1]
        col = t % self.step
        if col >= self.chars:
            return log_probs
        later = np.asarray([tok for pos, tok in self.fixed.items() if pos > t], dtype=np.int64)
        for r in range(history.shape[0]):
            row = history[r]
            used = row[self.is_char[row]]
            banned = np.union1d(used, later).astype(np.int64)
            if col > 0 and banned.size:
                prev = int(row[-1])
                if self.is_char[prev] and int((used == prev).sum()) == 1 and prev not in later:
                    banned = banned[banned != prev]  # 叠字: the character just written, once more
            if banned.size:
                log_probs[r, banned] = NEG_INF
        return log_probs

    def describe(self) -> str:
        return "no character twice (重字) except 叠字"
