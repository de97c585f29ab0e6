"""``ThemeConstraint``: the theme plan's keywords, one per line, each read as a word — placed by the planner.

It runs after the request's other constraints have narrowed the plan's masks (tones, rhymes, acrostic, begin
text): line ``i`` takes the first keyword of its list (its own, then the plan's spares) that has a column there,
through :func:`~tangpoet.decoding.constraints.keywords.word_columns` / ``place_word`` — every character allowed where
it lands, and the neighbours forbidden the characters that would make a word with it (no 千 before 秋月: 千秋 is a
word) or repeat its first or last character. The keywords placed are ``ctx.data["theme.placed"]``; a line with a list but no place makes the plan
infeasible (the planner tries the next variant, then refuses in one line). :meth:`check` applies the same reading
to a finished poem.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tangpoet.decoding.constraints.base import Constraint, PlanContext, Violation
from tangpoet.decoding.constraints.keywords import place_word, reads_as_word, word_columns
from tangpoet.decoding.forms import Form

PLACED = "theme.placed"
WHY = "theme.why"


def encode_lines(lines: list[list[str]]) -> str:
    """``[["秋风", "落叶"], ["明月"]]`` → ``"秋风|落叶/明月"`` (the ``lines`` option)."""
    return "/".join("|".join(words) for words in lines)


def decode_lines(text: str | None) -> list[list[str]]:
    if not text:
        return []
    return [[w for w in part.split("|") if w] for part in str(text).split("/")]


class ThemeConstraint(Constraint):
    """``theme``: line ``i`` holds one of its keywords (``lines=秋风|落叶/明月/…``) as a word."""

    name = "theme"
    option_names = ("lines", "theme")
    description = "line i holds one of its keywords as a word: lines=秋风|落叶/明月/... (what --theme plans)"

    def __init__(self, table: Any = None, **options: Any):
        super().__init__(**options)
        from tangpoet.decoding.planning.table import load_table

        self.table = load_table(table)
        self.lines = decode_lines(self.text_option("lines"))

    def _neighbours(self, ctx: PlanContext, word: str) -> tuple[np.ndarray, np.ndarray]:
        vocab = ctx.vocab
        before = np.zeros(len(vocab), dtype=bool)
        after = np.zeros(len(vocab), dtype=bool)
        # the keyword's own first (last) character may not stand right before (after) it either: no run of three
        # can then cross it, and 落落花 does not read 落花 as a word
        for char in {*self.table.left_partners(word[0]), word[0]}:
            if char in vocab:
                before[vocab.id(char)] = True
        for char in {*self.table.right_partners(word[-1]), word[-1]}:
            if char in vocab:
                after[vocab.id(char)] = True
        return before, after

    def restrict(self, ctx: PlanContext, variant: Any) -> None:
        if ctx.allowed is None or ctx.form is None:
            ctx.data[WHY] = "a theme plan needs lines of a fixed length: add --form or --acrostic"
            return
        vocab = ctx.vocab
        placed: list[str] = []
        for line in range(ctx.form.lines):
            words = self.lines[line] if line < len(self.lines) else []
            chosen = ""
            for word in words:
                if word in placed or len(word) > ctx.form.chars or any(c not in vocab for c in word):
                    continue
                ids = [vocab.id(c) for c in word]
                before, after = self._neighbours(ctx, word)
                columns = word_columns(ctx, ids, line, before, after)
                if columns:
                    place_word(ctx, ids, line, columns[0], before, after)
                    chosen = word
                    break
            if words and not chosen:
                ctx.data[WHY] = (
                    f"no keyword of the theme plan has a place in line {line + 1} of {ctx.form.name} "
                    f"({'、'.join(words[:4])}{'…' if len(words) > 4 else ''}) under the other constraints"
                )
            placed.append(chosen)
        ctx.data[PLACED] = tuple(placed)

    def feasible(self, ctx: PlanContext, variant: Any) -> str | None:
        return ctx.data.get(WHY)

    def check(self, text: str, form: Form | None) -> list[Violation]:
        from tangpoet.decoding.constraints.form import split_verses, verse_chars

        verses = [verse_chars(v) for v in split_verses(text)]
        out = []
        for line, words in enumerate(self.lines):
            if not words:
                continue
            verse = verses[line] if line < len(verses) else ""
            if not any(reads_as_word(verse, word, self.table.is_word) for word in words):
                shown = "、".join(words)
                out.append(Violation("theme", line, None,
                                     f"第{line + 1}句没有主题词「{shown}」 (line {line + 1} does not hold {shown} as a word)"))
        return out
