"""Free verse: the free-form twin of ``form`` — what every classical poem has, with no fixed line count or length.

Without ``--form`` (and without ``--acrostic``, which has its own line form) every poem is written under the
``verse`` rule, by construction and with every decoder:

- every verse has characters: a mark (``，。？！；``) never follows a mark or the start;
- every verse has from ``min`` to ``max`` characters (the mark not counted). Defaults: the model file's record of its
  training corpus (``metadata["corpus"]["verse_chars"] = [min, max]``, see :func:`corpus_verse_chars`) when it
  has one, else classical verse's 3 to 11 (:data:`~tangpoet.limits.VERSE_MIN_CHARS`,
  :data:`~tangpoet.limits.VERSE_MAX_CHARS`); ``--constraint verse:min=4,max=7`` sets them;
- the poem ends on ``。``, ``？`` or ``！`` (``<eos>`` only right after one), within the max length: a token is
  allowed only if, after it, the poem can still be closed before the max length (:meth:`FreeVerse.need`), so no row is
  ever left with nothing allowed, and a max length too short for one verse is refused before decoding.

Marks other than ``，。？！；`` (``、``, ``：``) are not written in free verse: a verse is characters and its mark.
``check`` applies the same rules to a finished poem (``tangpoet check`` reports an empty verse, a verse out of
bounds, a poem that does not end on a sentence mark).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tangpoet import limits
from tangpoet.decoding.constraints.base import NEG_INF, Constraint, LogitsProcessor, Violation
from tangpoet.decoding.constraints.classes import TokenClasses
from tangpoet.decoding.constraints.form import split_verses, verse_chars
from tangpoet.decoding.forms import LINE_END, SENTENCE_END, Form
from tangpoet.errors import ConstraintError
from tangpoet.data.vocab import EOS_ID

__all__ = ["FreeVerse", "VerseConstraint", "corpus_verse_chars", "recorded_verse_chars", "verse_need"]


def verse_need(count: int, closed: bool, low: int) -> int:
    """Tokens still needed to close a free poem: ``count`` characters in the open verse (0 at the start or after a
    mark), ``closed``: the last token is ``。？！`` — 0 then; else pad the verse to ``low`` and close it with ``。``."""
    if count == 0:
        return 0 if closed else low + 1
    return max(0, low - count) + 1


def check_bounds(low, high, where: str = "verse") -> tuple[int, int]:
    """``(low, high)`` as ints with ``1 ≤ low ≤ high ≤ MAX_VERSE_CHARS``, or a one-line :class:`ConstraintError`."""
    out = []
    for name, value in (("min", low), ("max", high)):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ConstraintError(f"{where}: {name} must be a whole number of characters, e.g. {name}=7, got {value!r}")
        if not 1 <= value <= limits.MAX_VERSE_CHARS:
            raise ConstraintError(f"{where}: {name} must be from 1 to {limits.MAX_VERSE_CHARS}, got {value!r}")
        out.append(int(value))
    if out[0] > out[1]:
        raise ConstraintError(f"{where}: min {out[0]} is more than max {out[1]}")
    return out[0], out[1]


def recorded_verse_chars(metadata: Mapping[str, Any] | None) -> tuple[int, int] | None:
    """The verse lengths a model file records for its training corpus (``metadata["corpus"]["verse_chars"]``:
    ``[min, max]``), or None when it records none (or something unusable: the defaults then apply)."""
    corpus = (metadata or {}).get("corpus") if isinstance(metadata, Mapping) else None
    value = corpus.get("verse_chars") if isinstance(corpus, Mapping) else None
    if isinstance(value, Mapping):
        value = (value.get("min"), value.get("max"))
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    try:
        return check_bounds(*value)
    except ConstraintError:
        return None


def corpus_verse_chars(poems: Iterable[str], coverage: float = 0.999) -> tuple[int, int] | None:
    """Verse lengths for a model trained on ``poems`` (texts): the shortest and longest verse lengths left after
    dropping the rarest ``1 - coverage`` of verses at each end (a corpus's stray 1- or 30-character verse does not
    widen the bounds); None for a corpus without verses. What ``fit`` can record as ``corpus.verse_chars``."""
    counts: dict[int, int] = {}
    for poem in poems:
        for verse in split_verses(poem):
            if verse[-1:] and verse[-1] in LINE_END:
                n = len(verse_chars(verse))
                if n:
                    counts[n] = counts.get(n, 0) + 1
    total = sum(counts.values())
    if not total:
        return None
    cut = total * (1 - coverage) / 2
    lengths = sorted(counts)
    seen, low = 0, lengths[0]
    for n in lengths:
        seen += counts[n]
        if seen > cut:
            low = n
            break
    seen, high = 0, lengths[-1]
    for n in reversed(lengths):
        seen += counts[n]
        if seen > cut:
            high = n
            break
    return max(1, low), min(limits.MAX_VERSE_CHARS, max(low, high))


class FreeVerse(LogitsProcessor):
    """Hard, free form: verses of ``low``–``high`` characters, a mark only after a character, ``<eos>`` only after
    ``。？！``, and always room to close the poem within ``max_len`` tokens.

    With ``room`` tokens left before the max length and :func:`verse_need` ``≤ room`` (checked before decoding for
    the begin text), a token is allowed exactly when :func:`verse_need` after it is ``≤ room − 1``; one always is (a
    character while the verse is under ``low``, else ``。``), so no row is ever left with nothing allowed."""

    def __init__(self, classes: TokenClasses, low: int, high: int, max_len: int):
        self.classes = classes
        self.low, self.high = int(low), int(high)
        self.max_len = int(max_len)
        self.sentence = np.asarray(classes.sentence_end, dtype=bool)
        self.other_marks = np.asarray(classes.line_end & ~classes.sentence_end, dtype=bool)
        self.chars = np.asarray(classes.char, dtype=bool)
        self._masks: dict[tuple[int, bool, int], np.ndarray] = {}

    def keep(self, count: int, closed: bool, room: int) -> np.ndarray:
        """Tokens allowed after a verse of ``count`` characters (``closed``: after ``。？！``) with ``room`` tokens
        left before the max length (the next one included)."""
        key = (count, closed, room)
        mask = self._masks.get(key)
        if mask is None:
            mask = np.zeros(self.classes.size, dtype=bool)
            after = room - 1
            if count < self.high and verse_need(count + 1, False, self.low) <= after:
                mask |= self.chars
            if count >= self.low and after >= 0:
                mask |= self.sentence
                if self.low + 1 <= after:
                    mask |= self.other_marks
            mask[EOS_ID] = closed and count == 0
            if len(self._masks) > 4096:
                self._masks.clear()
            self._masks[key] = mask
        return mask

    def __call__(self, history, log_probs):
        rows, t = history.shape
        _, count, _ = self.classes.line_positions(history)
        closed = self.sentence[history[:, -1]] if t else np.zeros(rows, dtype=bool)
        room = self.max_len - t
        keys = np.stack([count, closed.astype(np.int64)], axis=1)
        for key in np.unique(keys, axis=0):
            mask = self.keep(int(key[0]), bool(key[1]), room)
            if len(keys) == 1 or (keys == key).all():
                log_probs[:, ~mask] = NEG_INF
            else:
                match = np.flatnonzero((keys == key).all(axis=1))
                log_probs[np.ix_(match, np.flatnonzero(~mask))] = NEG_INF
        return log_probs

    def need_of(self, history) -> int:
        """:func:`verse_need` after ``history`` (one row of ids)."""
        row = np.asarray(history, dtype=np.int64).reshape(1, -1)
        _, count, _ = self.classes.line_positions(row)
        closed = bool(row.shape[1] and self.sentence[row[0, -1]])
        return verse_need(int(count[0]), closed, self.low)

    def describe(self) -> str:
        return f"free verse ({self.low}-{self.high} characters a verse, ending on 。？！)"


class VerseConstraint(Constraint):
    """``verse``: free verse — every verse has ``min``–``max`` characters, marks never follow marks or the start, the
    poem ends on ``。？！``. On by default without ``--form`` / ``--acrostic``; ``verse:min=4,max=7`` narrows it."""

    name = "verse"
    aliases = ("自由体", "free-verse")
    option_names = ("min", "max")
    description = (
        f"free form (on by default without a form): verses of min-max characters (default: the model's corpus, "
        f"else {limits.VERSE_MIN_CHARS}-{limits.VERSE_MAX_CHARS}), no empty verse, ends on 。？！"
    )

    def __init__(self, **options):
        super().__init__(**options)
        for name in ("min", "max"):
            if name in self.options:  # each one alone here; the two together in bounds(), with the model's defaults
                low, high = (self.options[name], limits.MAX_VERSE_CHARS) if name == "min" else (1, self.options[name])
                self.options[name] = check_bounds(low, high)[0 if name == "min" else 1]
        self.low, self.high = self.bounds()

    def bounds(self, default: tuple[int, int] | None = None) -> tuple[int, int]:
        """The bounds: the options given, the others from ``default`` (the model's record) or the constants."""
        low, high = default or (limits.VERSE_MIN_CHARS, limits.VERSE_MAX_CHARS)
        low = self.options.get("min", min(low, self.options.get("max", low)))  # one given: the other makes room
        high = self.options.get("max", max(high, low))
        return check_bounds(low, high)

    def check(self, text: str, form: Form | None) -> list[Violation]:
        out: list[Violation] = []
        verses = split_verses(text)
        for i, verse in enumerate(verses):
            chars = verse_chars(verse)
            if not chars:
                where = "the poem starts with a mark" if i == 0 else "a mark follows a mark"
                out.append(Violation("punctuation", i, None, f"第{i + 1}句没有字 (line {i + 1} is empty: {where})"))
            elif not (form is not None and form.is_ci) and not self.low <= len(chars) <= self.high:  # a ci: its tune
                relation = "more" if len(chars) > self.high else "fewer"
                out.append(
                    Violation(
                        "length",
                        i,
                        None,
                        f"第{i + 1}句 {len(chars)} 字 (line {i + 1} has {len(chars)} characters, {relation} than a verse's "
                        f"{self.low}-{self.high})",
                    )
                )
        stripped = text.rstrip()
        if not stripped or stripped[-1] not in SENTENCE_END:
            out.append(Violation("punctuation", None, None, "the poem does not end on 。？！ (it ends mid-verse or on a comma)"))
        return out
