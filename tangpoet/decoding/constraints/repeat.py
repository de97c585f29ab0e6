"""Soft repetition rules: no character three times in a row, no verse twice, no repeated n-gram."""

from __future__ import annotations

import numpy as np

from tangpoet.decoding.constraints.base import NEG_INF, Constraint, LogitsProcessor, Violation
from tangpoet.decoding.forms import Form
from tangpoet.limits import MAX_NO_REPEAT_NGRAM, MAX_POEM_LENGTH


class NoRepeat(LogitsProcessor):
    """Soft: no token more than ``max_run`` times in a row (default: no character three times in a row)."""

    hard = False

    def __init__(self, max_run: int = 2):
        if max_run < 1:
            raise ValueError("max_run must be at least 1")
        self.max_run = int(max_run)

    def __call__(self, history, log_probs):
        if history.shape[1] < self.max_run:
            return log_probs
        tail = history[:, -self.max_run :]
        same = (tail == tail[:, :1]).all(axis=1)
        rows = np.flatnonzero(same)
        log_probs[rows, tail[rows, 0]] = NEG_INF
        return log_probs

    def describe(self) -> str:
        return f"no token {self.max_run + 1} times in a row"


class NoRepeatNGram(LogitsProcessor):
    """Soft: no n-gram of size ``n`` twice in a poem (a token that would repeat one is masked)."""

    hard = False

    def __init__(self, n: int):
        if n < 1:
            raise ValueError("the no-repeat n-gram size must be at least 1")
        self.n = int(n)

    def __call__(self, history, log_probs):
        n, t = self.n, history.shape[1]
        if t < n - 1:
            return log_probs
        for r in range(history.shape[0]):
            row = history[r].tolist()
            context = tuple(row[t - n + 1 :]) if n > 1 else ()
            banned = [row[i + n - 1] for i in range(t - n + 1) if tuple(row[i : i + n - 1]) == context]
            if banned:
                log_probs[r, banned] = NEG_INF
        return log_probs

    def describe(self) -> str:
        return f"no repeated {self.n}-gram"


class NoRepeatVerse(LogitsProcessor):
    """Soft: no verse written twice in a poem. The character that would complete a verse identical to an earlier one
    is masked (a beam search's likeliest poems otherwise repeat their best line: 月满西楼月满楼 twice).

    ``line_end``: a boolean mask over the vocabulary, True for the marks that end a verse (，。？！ …)."""

    hard = False

    def __init__(self, line_end: np.ndarray):
        self.line_end = np.asarray(line_end, dtype=bool)

    def __call__(self, history, log_probs):
        if history.shape[1] < 2:
            return log_probs
        ends = self.line_end[history]
        for r in np.flatnonzero(ends.any(axis=1)):
            banned = repeating(history[r].tolist(), ends[r].tolist())
            if banned:
                log_probs[r, banned] = NEG_INF
        return log_probs

    def describe(self) -> str:
        return "no verse twice"


def repeating(row: list[int], ends: list[bool]) -> list[int]:
    """The tokens that would complete, after ``row``, a verse equal to an earlier verse of ``row`` (``ends``: which
    tokens of ``row`` end a verse)."""
    verses, start = [], 0
    for i, end in enumerate(ends):
        if end:
            verses.append(row[start:i])
            start = i + 1
    current = row[start:]
    return sorted({v[-1] for v in verses if len(v) == len(current) + 1 and v[:-1] == current})


def repeated_verses(text: str) -> list[tuple[int, str]]:
    """``(line, verse)`` for each verse of ``text`` (1-based line) that repeats an earlier verse."""
    from tangpoet.decoding.constraints.classes import is_punctuation

    verses, current = [], []
    for char in text:
        if is_punctuation(char):
            if current:
                verses.append("".join(current))
            current = []
        elif not char.isspace():
            current.append(char)
    if current:
        verses.append("".join(current))
    return [(i + 1, v) for i, v in enumerate(verses) if v in verses[:i]]


class NoRepeatConstraint(Constraint):
    """``no-repeat``: no character three times in a row (``run=N``: N + 1), no verse twice (``verse=0``: allowed), and
    with ``ngram=N`` no N-gram twice.

    Soft while decoding (dropped where it would leave nothing, so it never blocks a hard rule); ``check`` reports a
    finished poem that breaks it.
    """

    name = "no-repeat"
    option_names = ("run", "ngram", "verse")
    description = "no character three times in a row, no verse twice; ngram=N: no N-gram twice (soft)"

    def __init__(self, **options):
        super().__init__(**options)
        self.run = self.int_option("run", 2, 1, MAX_POEM_LENGTH)
        self.ngram = self.int_option("ngram", 0, 0, MAX_NO_REPEAT_NGRAM)
        self.verse = bool(self.int_option("verse", 1, 0, 1))

    def processors(self, ctx, variant):
        out: list[LogitsProcessor] = [NoRepeat(self.run)]
        if self.verse:
            out.append(NoRepeatVerse(ctx.classes.line_end))
        if self.ngram:
            out.append(NoRepeatNGram(self.ngram))
        return out

    def check(self, text: str, form: Form | None) -> list[Violation]:
        chars = [c for c in text]
        out = []
        run = 1
        for i in range(1, len(chars)):
            run = run + 1 if chars[i] == chars[i - 1] else 1
            if run == self.run + 1:
                out.append(Violation("repeat", None, None, f"「{chars[i]}」 {run} times in a row"))
        if self.verse:
            for line, verse in repeated_verses(text):
                out.append(Violation("repeat", line, None, f"verse {line} 「{verse}」 repeats an earlier verse"))
        if self.ngram:
            seen: set[str] = set()
            for i in range(len(text) - self.ngram + 1):
                gram = text[i : i + self.ngram]
                if gram in seen:
                    out.append(Violation("repeat", None, None, f"「{gram}」 appears twice"))
                seen.add(gram)
        return out

