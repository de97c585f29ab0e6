"""Keywords: every poem contains each keyword (1–4 characters) inside one verse, by construction.

Under a fixed line form the planner places each keyword at a (line, column) where every constraint's static mask
allows its characters (:mod:`~tangpoet.decoding.constraints.plan`), and the plan's mask forces it there. Without a
form, :class:`FreeKeywords` guarantees inclusion dynamically: it allows a token only if, after it, the missing
keywords can still all be written (finishing a keyword the current line has begun, then the others in a row)
and the poem closed within the max length. That cost never grows by following the cheapest continuation, so a row is
never left without an allowed token (see :meth:`FreeKeywords.need`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from tangpoet.decoding.constraints.base import NEG_INF, Constraint, LogitsProcessor, Violation
from tangpoet.decoding.constraints.classes import TokenClasses, is_punctuation
from tangpoet.decoding.forms import Form
from tangpoet.errors import ConstraintError
from tangpoet.vocab import EOS_ID, SPECIALS

MAX_KEYWORD = 4
WANTS_END = np.log(0.3)  # free form: where the model gives <eos> this much (or most), a missing keyword starts
_SEPARATORS = re.compile(r"[,，、/|;；\s]+")


def parse_keywords(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"秋月,故乡"`` (or ``，、/|`` and spaces between) or a sequence → distinct keywords in order."""
    if value is None:
        return ()
    parts = _SEPARATORS.split(value) if isinstance(value, str) else [p for v in value for p in _SEPARATORS.split(str(v))]
    out: list[str] = []
    for part in parts:
        part = part.strip()
        if part and part not in out:
            out.append(part)
    return tuple(out)


def check_keywords(keywords: Sequence[str], form: Form | None) -> None:
    """One-line refusals that need no vocabulary: length, punctuation, too many for the form."""
    from tangpoet.decoding.constraints.build import check_text

    for keyword in keywords:
        check_text("keyword", keyword)
        if any(is_punctuation(c) or c.isspace() for c in keyword):
            raise ConstraintError(f"a keyword is characters only, without punctuation: {keyword!r}")
        if len(keyword) > MAX_KEYWORD:
            raise ConstraintError(f"keyword {keyword!r} has {len(keyword)} characters; a keyword has 1 to {MAX_KEYWORD}")
        if form is not None and len(keyword) > form.chars:
            raise ConstraintError(f"keyword {keyword!r} is longer than a line of {form.name} ({form.chars} characters)")
    if form is not None:
        needed = sum(len(k) for k in maximal(keywords))
        if needed > form.lines * form.chars:
            raise ConstraintError(
                f"too many keywords for {form.name}: {needed} characters for its {form.lines * form.chars} places"
            )


def maximal(keywords: Sequence[str]) -> list[str]:
    """The keywords not contained in another one (a contained keyword comes with the one containing it)."""
    return [k for i, k in enumerate(keywords) if not any(k in o and (k != o or j < i) for j, o in enumerate(keywords) if j != i)]


class FreeKeywords(LogitsProcessor):
    """Without a fixed form: every keyword gets written, and the poem ends, within ``max_len`` tokens.

    ``need(state)`` is the length of this continuation: finish a keyword the current line ends with a prefix of (the
    longest such prefix), write the other missing keywords one after another, close the line with ``。``. Each step
    of it lowers ``need`` by one, so if ``need ≤ room`` holds
    before a step (the planner checks it after the begin text), a token keeping ``need ≤ room − 1`` always exists.
    A token is allowed exactly when it keeps that; ``<eos>`` only once every keyword is written. Where the model
    would end the poem (``<eos>`` most likely, or at least 30 %) while a keyword is missing, the next line starts with
    a missing keyword (a step of the cheapest continuation, so the guarantee holds) instead of running on; a line
    that begins as a missing keyword goes on as that keyword (ditto).
    """

    def __init__(self, classes: TokenClasses, keywords: Sequence[str], max_len: int):
        self.classes = classes
        self.keywords = tuple(keywords)
        self.max_len = int(max_len)
        vocab = classes.vocab
        self.tokens = vocab.tokens
        self.special = {c: vocab.id(c) for k in self.keywords for c in k}
        size = classes.size
        generic = np.ones(size, dtype=bool)
        generic[: len(SPECIALS)] = False
        generic &= ~classes.line_end
        generic[list(self.special.values())] = False
        self.generic = generic
        self.sentence_marks = np.flatnonzero(classes.sentence_end)
        self.other_marks = np.flatnonzero(classes.line_end & ~classes.sentence_end)
        self._cache: dict[tuple[int, ...], np.ndarray] = {}

    # -- the cost ---------------------------------------------------------------------------------------------
    def need(self, missing: Sequence[str], current: str, at_start: bool, closed: bool) -> int:
        """Tokens still needed: ``missing`` keywords, ``current`` line so far, at a line start, last mark ends a poem.

        The cheapest continuation considered: finish a keyword the current line ends with a prefix of (if any), write
        the other missing keywords one after another in the same line, and close it with ``。``."""
        if not missing:
            return 0 if closed else 1
        total = sum(len(k) for k in missing) + 1
        best = total
        for k in missing:
            for j in range(len(k) - 1, 0, -1):
                if current.endswith(k[:j]):
                    best = min(best, total - j)
                    break
        return best

    def state(self, text: str, last: int | None) -> tuple[list[str], str, bool, bool]:
        missing = [k for k in self.keywords if k not in text]
        cut = max((text.rfind(m) for m in "，。？！；"), default=-1)
        current = text[cut + 1 :]
        at_start = last is None or bool(self.classes.line_end[last])
        closed = last is not None and bool(self.classes.sentence_end[last])
        return missing, current, at_start, closed

    def need_of(self, history: Sequence[int]) -> int:
        text = "".join(self.tokens[int(t)] for t in history)
        return self.need(*self.state(text, int(history[-1]) if len(history) else None))

    def keep(self, row: Sequence[int]) -> np.ndarray:
        key = tuple(int(t) for t in row)
        mask = self._cache.get(key)
        if mask is not None:
            return mask
        text = "".join(self.tokens[t] for t in key)
        missing, current, _, _ = self.state(text, key[-1] if key else None)
        room = self.max_len - len(key) - 1  # tokens left after the next one
        mask = np.ones(self.classes.size, dtype=bool)
        if missing:
            mask[EOS_ID] = False
        total = sum(len(k) for k in missing) + 1 if missing else 0
        # a character or mark that is not a keyword's: no keyword finished, no prefix left to finish
        if (total if missing else 1) > room:
            mask[self.generic] = False
        if (total if missing else 0) > room:
            mask[self.sentence_marks] = False
        if (total if missing else 1) > room:
            mask[self.other_marks] = False
        for char, token in self.special.items():
            after = text + char
            left = [k for k in missing if k not in after]
            mask[token] = self.need(left, current + char, False, False) <= room
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[key] = mask
        return mask

    def __call__(self, history, log_probs):
        for r in range(history.shape[0]):
            row = history[r]
            wants_end = len(row) > 0 and np.isfinite(log_probs[r, EOS_ID]) and (
                log_probs[r, EOS_ID] >= WANTS_END or int(np.argmax(log_probs[r])) == EOS_ID
            )
            log_probs[r, ~self.keep(row)] = NEG_INF
            text = "".join(self.tokens[int(t)] for t in row)
            missing, current, _, _ = self.state(text, int(row[-1]) if len(row) else None)
            if wants_end and self.classes.sentence_end[int(row[-1])]:
                # the model would end here, but a keyword is missing: the next line starts with one
                self._only(log_probs, r, [self.special[k[0]] for k in missing])
            elif current:  # a line that has begun as a missing keyword goes on as that keyword
                self._only(log_probs, r, [self.special[k[len(current)]] for k in missing if k[: len(current)] == current and len(k) > len(current)])
        return log_probs

    @staticmethod
    def _only(log_probs: np.ndarray, r: int, ids: list[int]) -> None:
        """Keep only ``ids`` (those still allowed) in row ``r``; nothing changes if none of them is allowed."""
        ids = [i for i in ids if np.isfinite(log_probs[r, i])]
        if ids:
            keep = log_probs[r, ids].copy()
            log_probs[r] = NEG_INF
            log_probs[r, ids] = keep

    def describe(self) -> str:
        return "the keywords " + "、".join(self.keywords)


class KeywordsConstraint(Constraint):
    """``keywords``: each keyword appears inside one verse (``words=秋月/故乡``; the same as ``--keywords``)."""

    name = "keywords"
    aliases = ("关键词",)
    option_names = ("words",)
    description = "each keyword (1-4 characters) inside one line: words=秋月/故乡 (same as --keywords)"

    def __init__(self, **options):
        super().__init__(**options)
        self.keywords = parse_keywords(self.text_option("words"))

    def check(self, text: str, form: Form | None) -> list[Violation]:
        from tangpoet.decoding.constraints.form import split_verses

        verses = split_verses(text)
        return [
            Violation("keyword", None, None, f"关键词「{k}」不在任何一句中 (keyword {k} is not inside any line)")
            for k in self.keywords
            if not any(k in verse for verse in verses)
        ]
