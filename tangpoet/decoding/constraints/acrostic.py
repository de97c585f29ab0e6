"""藏头诗: line ``i`` starts with the acrostic's character ``i`` (processor and constraint)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tangpoet.decoding.constraints.base import NEG_INF, Constraint, LogitsProcessor, Violation
from tangpoet.decoding.constraints.classes import TokenClasses
from tangpoet.decoding.constraints.form import split_verses, verse_chars
from tangpoet.decoding.forms import Form
from tangpoet.data.vocab import EOS_ID

# Line lengths an acrostic may take when no form is given (the first line decides, the others follow).
FREE_ACROSTIC_LENGTHS = (5, 7)


class Acrostic(LogitsProcessor):
    """藏头诗: line ``i`` starts with ``heads[i]``; after the last head's line the poem ends."""

    def __init__(self, classes: TokenClasses, heads: Sequence[int], text: str):
        self.classes = classes
        self.heads = [int(h) for h in heads]
        self.text = text

    def __call__(self, history, log_probs):
        line, count, _ = self.classes.line_positions(history)
        rows = np.flatnonzero(count == 0)
        if rows.size:
            heads = np.append(self.heads, EOS_ID)  # after the last head's line: the end
            forced = heads[np.minimum(line[rows], len(self.heads))]
            kept = log_probs[rows, forced]
            log_probs[rows] = NEG_INF
            log_probs[rows, forced] = kept
        return log_probs

    def describe(self) -> str:
        return f"the acrostic {self.text}"


class AcrosticConstraint(Constraint):
    """``acrostic``: line ``i`` starts with character ``i`` of ``text`` (the same as ``--acrostic``)."""

    name = "acrostic"
    aliases = ("藏头",)
    option_names = ("text",)
    description = "藏头诗: line i starts with character i of text= (same as --acrostic)"

    def __init__(self, **options):
        super().__init__(**options)
        self.text = self.text_option("text") or ""

    def check(self, text: str, form: Form | None) -> list[Violation]:
        if not self.text:
            return []
        verses = [verse_chars(v) for v in split_verses(text)]
        out = []
        if len(verses) != len(self.text):
            out.append(Violation("acrostic", None, None, f"{len(verses)} lines for the {len(self.text)}-character acrostic {self.text}"))
        for i, (verse, head) in enumerate(zip(verses, self.text)):
            if not verse.startswith(head):
                out.append(Violation("acrostic", i, 0, f"第{i + 1}句应以「{head}」开头 (line {i + 1} should start with {head})"))
        return out
