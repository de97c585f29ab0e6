"""Which characters may stand at a position of a poem: those that break no rule the poem did not already break.

A replacement is *valid* when the poem with it checks with no violation that the poem did not have (compared by
rule, line and column); it *mends* the violations it removes. Checking every character of the vocabulary at every
position would cost thousands of checks, so characters are grouped by what the rules can see of them — their 平仄
class (from the prosody plugin, when it is installed), at a line end their 平声 rhyme groups too, and the
character itself when it already occurs in the poem (a repeated rhyme, a keyword, an acrostic) — and one
character of each group is checked. :func:`verify` re-checks the characters actually offered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tangpoet.checking import Poem, PoemReport, check_poem
from tangpoet.decoding.constraints import Constraint, FormConstraint, TokenClasses, split_verses
from tangpoet.decoding.constraints.form import verse_chars
from tangpoet.decoding.forms import CI_VERSE_END, LINE_END

Key = tuple  # (rule, line, col): a violation, as compared before and after a change


def key(violation) -> Key:
    return (violation.rule, violation.line, violation.col)


def verse_ends(form) -> str:
    """The marks that end a verse of ``form`` (a ci's ``、`` too)."""
    return CI_VERSE_END if getattr(form, "is_ci", False) else LINE_END


def char_index(text: str, line: int, col: int, ends: str = LINE_END) -> int | None:
    """The index in ``text`` of character ``col`` of verse ``line`` (0-based, punctuation not counted), or None."""
    seen_line, seen_col = 0, 0
    for index, char in enumerate(text):
        if char in ends:
            seen_line, seen_col = seen_line + 1, 0
            continue
        if not verse_chars(char):
            continue
        if seen_line == line and seen_col == col:
            return index
        seen_col += 1
    return None


def positions_of(text: str, ends: str = LINE_END) -> list[tuple[int, int, int]]:
    """``(line, col, index)`` of every character of ``text``."""
    out, line, col = [], 0, 0
    for index, char in enumerate(text):
        if char in ends:
            line, col = line + 1, 0
            continue
        if verse_chars(char):
            out.append((line, col, index))
            col += 1
    return out


def replace(text: str, index: int, char: str) -> str:
    return text[:index] + char + text[index + 1 :]


def _prosody():
    """The prosody plugin's public rhyme table (``tangpoet_rhyme.rhyme_table()``), or None without the plugin."""
    try:
        from tangpoet_rhyme import rhyme_table
    except ImportError:
        return None
    try:
        return rhyme_table()
    except Exception:  # noqa: BLE001 - its data missing: group every character alone (slow but right)
        return None


class CharacterTable:
    """A vocabulary's character tokens and what the rules can see of each (:func:`of`: one per vocabulary)."""

    def __init__(self, vocab):
        classes = TokenClasses.of(vocab)
        self.vocab = vocab
        self.ids = np.flatnonzero(classes.char)
        self.chars = [vocab.tokens[i] for i in self.ids]
        table = _prosody()
        if table is None:
            self.tone = [None] * len(self.ids)
            self.level = [None] * len(self.ids)
            self.alone = True  # nothing known of the characters: each one is its own group
        else:
            self.tone = [table.tone(c) for c in self.chars]
            self.level = [tuple(sorted(table.level(c))) if c in table else None for c in self.chars]
            self.alone = False

    @classmethod
    def of(cls, vocab) -> CharacterTable:
        cached = vocab.__dict__.get("_revision_characters")
        if not isinstance(cached, cls) or cached.vocab is not vocab:
            cached = cls(vocab)
            vocab.__dict__["_revision_characters"] = cached
        return cached

    def level_groups(self, chars) -> frozenset:
        """The 平声 rhyme groups of ``chars`` together."""
        table = _prosody()
        return frozenset(g for c in chars if table is not None and c in table for g in table.level(c))

    def signatures(self, at_end: bool, present: set[str], rhymes: frozenset = frozenset()) -> list:
        """One hashable signature per character: what the checker can see of it at a position — its tone class, and
        at a line end which of ``rhymes`` (the other line ends' 平声 groups: the only ones a rhyme can agree with)
        it shares; a character already in the poem (``present``) stands alone."""
        out = []
        for i, char in enumerate(self.chars):
            if self.alone or char in present:
                out.append(("char", char))
            elif at_end:
                level = self.level[i]
                out.append((self.tone[i], None if level is None else frozenset(level) & rhymes, bool(level)))
            else:
                out.append((self.tone[i],))
        return out


@dataclass
class Choices:
    """The valid replacements at one position: ids, and per id the violations (keys) each one mends."""

    line: int
    col: int
    index: int
    was: str
    ids: np.ndarray
    mends: dict[int, frozenset]


def violation_keys(text: str, constraints: Sequence[Constraint], form) -> set[Key]:
    """The violations (keys) of ``text`` under ``constraints`` on ``form``: the constraints' own ``check`` — what a
    one-character change can alter (the shape cannot change: a character replaces a character). The full checker
    (:func:`verify`) confirms what is offered."""
    out: set[Key] = set()
    for constraint in constraints:
        if isinstance(constraint, FormConstraint) or (constraint.needs_form and form is None):
            continue
        out.update(key(v) for v in constraint.check(text, form))
    return out


def choices_at(
    report: PoemReport, constraints: Sequence[Constraint], vocab, line: int, col: int, *, check=None
) -> Choices | None:
    """The characters of the model's vocabulary that may replace character ``col`` of verse ``line`` of the checked
    poem ``report`` (``vocab``: the model's) and mend at least one of its violations without adding one; None when
    the position is not in the poem.

    ``check(text) -> set of keys`` overrides the checker (default: ``constraints`` on the report's form)."""
    form = report.form
    check = check or (lambda t: violation_keys(t, constraints, form))
    return replacements(report.poem.text, form, vocab, line, col, check, mend=True)


def replacements(
    text: str, form, vocab, line: int, col: int, check, *, mend: bool = False, exclude: set[str] = frozenset()
) -> Choices | None:
    """The characters that may replace character ``col`` of verse ``line`` of ``text``: ``check(text)`` (a set of
    violation keys) of the changed poem holds no key the poem's own does not — and, with ``mend``, lacks at least
    one of them. ``exclude``: characters never offered. None when the position is not in the poem."""
    ends = verse_ends(form)
    index = char_index(text, line, col, ends)
    if index is None:
        return None
    old = check(text)
    verses = [verse_chars(v) for v in split_verses(text, ends)]
    at_end = col == len(verses[line]) - 1
    table = CharacterTable.of(vocab)
    present = set(verse_chars(text))
    others = [v[-1] for i, v in enumerate(verses) if v and i != line]
    signatures = table.signatures(at_end, present, table.level_groups(others))
    verdict: dict = {}
    ids, mends = [], {}
    was = text[index]
    for position, signature in enumerate(signatures):
        char = table.chars[position]
        if char == was or char in exclude:
            continue
        if signature not in verdict:
            new = check(replace(text, index, char))
            verdict[signature] = frozenset(old - new) if new <= old else None
        mended = verdict[signature]
        if mended is not None and (mended or not mend):
            token = int(table.ids[position])
            ids.append(token)
            mends[token] = mended
    return Choices(line, col, index, was, np.asarray(ids, dtype=np.int64), mends)


def verify(report: PoemReport, constraints: Sequence[Constraint], index: int, char: str, mended: frozenset) -> bool:
    """Re-check one offered replacement with the full checker (:func:`tangpoet.checking.check_poem`): it removes
    ``mended`` and adds no violation."""
    old = {key(v) for v in report.violations}
    text = replace(report.poem.text, index, char)
    new = {key(v) for v in check_poem(Poem(report.poem.title, text, text), constraints, report.form).violations}
    return new <= old and not (mended & new)
