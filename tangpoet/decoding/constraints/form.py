"""The line structure: ``LineForm`` (a form's lines, lengths and punctuation while decoding) and the ``form``
constraint (the same rules checked on a finished poem, and the form a poem's shape matches)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tangpoet.decoding.constraints.base import NEG_INF, Constraint, LogitsProcessor, Violation
from tangpoet.decoding.constraints.classes import TokenClasses
from tangpoet.decoding.forms import CI_VERSE_END, COMMA, FORMS, FULL_STOP, LINE_END, Form, get_form
from tangpoet.data.vocab import EOS_ID


class LineForm(LogitsProcessor):
    """``lines`` lines of ``L`` characters, ``L`` in ``lengths`` (the first line decides); ``，`` after the odd
    lines, ``。`` after the even ones and after the last; then ``<eos>``."""

    def __init__(self, classes: TokenClasses, lines: int, lengths: Sequence[int], name: str, form: Form | None = None):
        self.classes = classes
        self.lines = int(lines)
        self.lengths = tuple(sorted(set(int(n) for n in lengths)))
        self.name = name
        self.form = form  # the regulated-verse form enforced, or None (a free acrostic)
        # a ci tune's variant: each verse its own length (the first verse's does not decide the others)
        self.verse_lengths = tuple(form.verse_lengths) if form is not None else ()
        self.char_ids = np.flatnonzero(classes.char)
        self._masks: dict[tuple[int, int, int], np.ndarray] = {}

    def mark(self, line: int) -> int:
        if self.form is not None and self.form.marks:
            return self.classes.full_stop if self.form.punctuation(line) == FULL_STOP else self.classes.comma
        if line % 2 == 0 and line != self.lines - 1:
            return self.classes.comma
        return self.classes.full_stop

    def allowed(self, line: int, count: int, first: int) -> np.ndarray:
        """Ids allowed in line ``line`` after ``count`` characters (``first``: the first line's length, or -1)."""
        if line >= self.lines:
            return np.array([EOS_ID])
        if first >= 0:
            if count < first:
                return self.char_ids
            return np.array([self.mark(line)] if count == first else [], dtype=np.int64)
        if count < self.lengths[0] or (count not in self.lengths and count < self.lengths[-1]):
            return self.char_ids
        if count in self.lengths and count < self.lengths[-1]:
            return np.append(self.char_ids, self.mark(line))
        return np.array([self.mark(line)] if count == self.lengths[-1] else [], dtype=np.int64)

    def keep(self, key: tuple[int, int, int]) -> np.ndarray:
        """Boolean mask over the vocabulary for a position ``(line, count, first)`` (cached: forms have few)."""
        mask = self._masks.get(key)
        if mask is None:
            mask = np.zeros(self.classes.size, dtype=bool)
            mask[self.allowed(*key)] = True
            self._masks[key] = mask
        return mask

    def __call__(self, history, log_probs):
        line, count, first = self.classes.line_positions(history)
        if self.verse_lengths:  # per verse: its own length stands where the first verse's would
            first = np.asarray(self.verse_lengths + (0,))[np.minimum(line, self.lines)]
        keys = np.stack([line, count, first], axis=1)
        if (keys == keys[:1]).all():  # the usual case: every row (all beams, under a form) at the same position
            log_probs[:, ~self.keep(tuple(int(k) for k in keys[0]))] = NEG_INF
            return log_probs
        for key in np.unique(keys, axis=0):
            rows = np.flatnonzero((keys == key).all(axis=1))
            log_probs[rows[:, None], ~self.keep(tuple(int(k) for k in key))] = NEG_INF
        return log_probs

    def describe(self) -> str:
        return self.name

    @property
    def max_length(self) -> int:
        if self.verse_lengths:
            return sum(n + 1 for n in self.verse_lengths)
        return self.lines * (self.lengths[-1] + 1)

    @property
    def min_length(self) -> int:
        if self.verse_lengths:
            return self.max_length
        return self.lines * (self.lengths[0] + 1)


def split_verses(text: str, ends: str = LINE_END) -> list[str]:
    """The verses of ``text``, each with its closing mark (a last verse without one is kept as it is); ``ends``: the
    marks that close a verse (a ci's: :data:`~tangpoet.decoding.forms.CI_VERSE_END`, with 、)."""
    verses, current = [], ""
    for char in text:
        current += char
        if char in ends:
            verses.append(current)
            current = ""
    return verses + ([current] if current else [])


def verse_chars(verse: str) -> str:
    """A verse without its punctuation."""
    from tangpoet.decoding.constraints.classes import is_punctuation

    return "".join(c for c in verse if not is_punctuation(c) and not c.isspace())


def ci_lengths(text: str) -> tuple[int, ...]:
    """The verse lengths of ``text`` read as a ci (verses end at ``，。、？！；``)."""
    return tuple(n for n in (len(verse_chars(v)) for v in split_verses(text, CI_VERSE_END)) if n)


def detect_form(text: str) -> Form | None:
    """The form whose shape ``text`` has: a regulated shi form (4 or 8 verses of 5 or 7 characters each), else the
    ci tune variant it has the shape of (:func:`~tangpoet.decoding.forms.tunes.detect_variant`), or None."""
    verses = [verse_chars(v) for v in split_verses(text)]
    verses = [v for v in verses if v] or verses
    for form in FORMS:
        if len(verses) == form.lines and all(len(v) == form.chars for v in verses):
            return form
    from tangpoet.decoding.forms.tunes import detect_variant

    return detect_variant(ci_lengths(text))


def ci_form_violations(text: str, form: Form) -> list[Violation]:
    """A ci against its tune's variant: the same characters in all (a verse break placed elsewhere — editions
    punctuate ci differently — is not a fault), verse by verse where the count differs."""
    lengths = ci_lengths(text)
    if sum(lengths) == form.total_chars:
        return []
    want = "+".join(map(str, form.lengths))
    have = "+".join(map(str, lengths)) or "0"
    out = [Violation("length", None, None, f"{sum(lengths)} characters in {len(lengths)} verses ({have}); "
                     f"{form} has {form.total_chars} in {form.lines} ({want})")]
    if len(lengths) == form.lines:
        for i, (n, m) in enumerate(zip(lengths, form.lengths)):
            if n != m:
                out.append(Violation("length", i, None, f"第{i + 1}句 {n} 字，应 {m} 字 (verse {i + 1} has {n} characters, {form} has {m})"))
    return out


def form_violations(text: str, form: Form) -> list[Violation]:
    """Line count, line lengths and punctuation of ``text`` against ``form``."""
    if form.is_ci:
        return ci_form_violations(text, form)
    out: list[Violation] = []
    verses = split_verses(text)
    if len(verses) != form.lines:
        out.append(Violation("length", None, None, f"{len(verses)} lines, {form.name} has {form.lines}"))
    for i, verse in enumerate(verses):
        chars = verse_chars(verse)
        if len(chars) != form.chars:
            out.append(
                Violation("length", i, None, f"第{i + 1}句 {len(chars)} 字，应 {form.chars} 字 (line {i + 1} has {len(chars)} characters, {form.name} has {form.chars})")
            )
        if i < form.lines:
            want = COMMA if i % 2 == 0 and i != form.lines - 1 else FULL_STOP
            end = verse[-1] if verse else ""
            if end not in LINE_END:
                out.append(Violation("punctuation", i, None, f"line {i + 1} does not end with a mark (expected {want})"))
            elif end != want and not (want == FULL_STOP and end in "？！") and not (want == COMMA and end == "；"):
                out.append(Violation("punctuation", i, None, f"line {i + 1} ends with {end}, expected {want}"))
    return out


class FormConstraint(Constraint):
    """``form``: the poem has the form's lines, line lengths and punctuation (``name=五绝``; default: ``--form``).

    While writing this is ``--form``; ``check`` compares a finished poem with the form (or, given none, with the
    form its shape comes closest to, reporting a shape that matches no form)."""

    name = "form"
    option_names = ("name",)
    description = "lines, line lengths and punctuation of a regulated form (name=五绝/七绝/五律/七律)"

    def __init__(self, **options):
        super().__init__(**options)
        name = self.text_option("name")
        self.form = get_form(name) if name is not None else None

    def check(self, text: str, form: Form | None) -> list[Violation]:
        form = self.form or form or detect_form(text)
        if form is None:
            verses = [verse_chars(v) for v in split_verses(text)]
            shape = "+".join(str(len(v)) for v in verses) or "0"
            return [
                Violation(
                    "length",
                    None,
                    None,
                    f"{len(verses)} lines of {shape} characters match no regulated form (4 or 8 lines of 5 or 7 "
                    "characters) and no ci tune (name the tune in a title line, e.g. 浣溪沙:…)",
                )
            ]
        return form_violations(text, form)
