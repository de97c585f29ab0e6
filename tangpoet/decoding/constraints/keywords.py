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

from tangpoet.decoding.constraints.base import NEG_INF, Constraint, LogitsProcessor, Violation, check_text
from tangpoet.decoding.constraints.classes import TokenClasses, is_punctuation
from tangpoet.decoding.forms import Form
from tangpoet.errors import ConstraintError
from tangpoet.data.vocab import EOS_ID, SPECIALS

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


def keywords_to_vocabulary(keywords: Sequence[str], known, script: str | None = None) -> tuple[str, ...]:
    """Each keyword in the vocabulary's script, as ``begin`` is read (:func:`tangpoet.data.script.to_vocabulary`):
    風 typed for a simplified model is 风; keywords that become one are kept once."""
    from tangpoet.data.script import to_vocabulary

    return tuple(dict.fromkeys(to_vocabulary(keyword, known, script) for keyword in keywords))


def check_keywords(keywords: Sequence[str], form: Form | None) -> None:
    """One-line refusals that need no vocabulary: length, punctuation, too many for the form."""
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
    """Without a fixed form: every keyword gets written, in free verse, and the poem ends, within ``max_len`` tokens.

    ``need(state)`` is the length of the cheapest of these continuations (each one a poem in free verse of
    ``low``–``high`` characters a verse, with no character more than ``max_run`` times in a row when given): (a)
    close the open verse (padded to ``low``) and give every missing keyword a verse of its own; (b) finish — or start
    — one missing keyword ``k`` in the open verse (where the verse ends with a prefix of it), then either (a) for the
    others, or (c) all the others after it in the same verse, in the request's order. Each step of the cheapest one
    leaves the next as one of these (or a cheaper one), so ``need`` falls by one: if ``need ≤ room`` holds before a
    step (checked before decoding, after the begin text), a token keeping ``need ≤ room − 1`` always exists, and it
    never makes a character three times in a row (the soft no-repeat rule never has to yield). A token is allowed
    exactly when it keeps that; ``<eos>`` only once every keyword is written. Where the model would end the poem
    (``<eos>`` most likely, or at least 30 %) while a keyword is missing, the next line starts with a missing keyword
    (a step of the cheapest continuation, so the guarantee holds) instead of running on; a line that begins as a
    missing keyword goes on as that keyword (ditto).
    """

    def __init__(
        self,
        classes: TokenClasses,
        keywords: Sequence[str],
        max_len: int,
        low: int | None = None,
        high: int | None = None,
        max_run: int | None = None,
    ):
        from tangpoet import limits

        self.classes = classes
        self.keywords = tuple(keywords)
        self.max_len = int(max_len)
        self.low = int(limits.VERSE_MIN_CHARS if low is None else low)
        self.high = int(limits.VERSE_MAX_CHARS if high is None else high)
        self.max_run = None if max_run is None else int(max_run)
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
    def _runs_ok(self, before: str, written: str) -> bool:
        """``written`` after ``before`` makes no character more than ``max_run`` times in a row."""
        if self.max_run is None or not written:
            return True
        text = before[-self.max_run :] + written
        run = 1
        for a, b in zip(text, text[1:]):
            run = run + 1 if a == b else 1
            if run > self.max_run:
                return False
        return True

    def _close(self, count: int) -> int:
        """Pad a verse of ``count`` characters to ``low`` and give it its mark."""
        return max(0, self.low - count) + 1

    def need(self, missing: Sequence[str], current: str, at_start: bool = False, closed: bool = False) -> int:
        """Tokens still needed: ``missing`` keywords (in the request's order), ``current``: the open verse's
        characters, ``closed``: the last token is ``。？！`` (see the class)."""
        count = len(current)
        if not missing:
            return (0 if closed else self.low + 1) if count == 0 else self._close(count)
        own = {k: max(len(k), self.low) + 1 for k in missing}
        total = sum(own.values())
        best = (self._close(count) if count else 0) + total  # (a)
        if count:  # close the open verse, then the cheapest way from a fresh verse ((b)/(c) there, not only (a))
            best = min(best, self._close(count) + self.need(missing, "", True, False))
        for k in missing:
            rest = [m for m in missing if m != k]
            packed = "".join(rest)
            for j in range(len(k)):
                if j and not current.endswith(k[:j]):
                    continue
                filled = count - j + len(k)
                tail = k[j:]
                if filled > self.high or not self._runs_ok(current, tail):
                    continue
                head = len(k) - j
                best = min(best, head + self._close(filled) + total - own[k])  # (b) then (a)
                if rest and filled + len(packed) <= self.high and self._runs_ok(current + tail, packed):
                    best = min(best, head + len(packed) + self._close(filled + len(packed)))  # (b) then (c)
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
        # a character that is no keyword's: no keyword finished, no prefix left to finish
        if self.need(missing, current + "\u3000", False, False) > room:
            mask[self.generic] = False
        if self.need(missing, "", True, True) > room:
            mask[self.sentence_marks] = False
        if self.need(missing, "", True, False) > room:
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


# -- one keyword in a given line, read as a word (write --theme: tangpoet.decoding.planning) ---------------------------
def word_columns(ctx, ids: Sequence[int], line: int, not_before: np.ndarray, not_after: np.ndarray) -> list[int]:
    """Columns of ``line`` (a fixed line form: ``ctx.allowed``) where the keyword ``ids`` can stand as a word: each of
    its characters allowed where it lands, and each neighbour left something that makes no word with it
    (``not_before`` / ``not_after``: bool masks over the vocabulary of the characters that would — 千 before 秋月,
    since 千秋 is a word). Columns on a verse's usual word boundaries (a word starting at an even column or ending
    the line) first; random order (``ctx.rng``) within each."""
    allowed = ctx.allowed
    cols = allowed.shape[1]
    size = len(ids)
    found = []
    for col in range(cols - size + 1):
        if not all(allowed[line, col + j, token] for j, token in enumerate(ids)):
            continue
        if col > 0 and not (allowed[line, col - 1] & ~not_before).any():
            continue
        if col + size < cols and not (allowed[line, col + size] & ~not_after).any():
            continue
        found.append(col)
    found = [found[i] for i in ctx.rng.permutation(len(found))] if found else []
    found.sort(key=lambda col: 0 if col % 2 == 0 or col + size == cols else 1)
    return found


def place_word(ctx, ids: Sequence[int], line: int, col: int, not_before: np.ndarray, not_after: np.ndarray) -> None:
    """Place the keyword ``ids`` at ``(line, col)`` (see :func:`word_columns`) and forbid its neighbours the characters
    that would make a word with it."""
    from tangpoet.decoding.constraints.plan import fix

    for j, token in enumerate(ids):
        fix(ctx, line, col + j, token)
    if col > 0:
        ctx.allowed[line, col - 1] &= ~not_before
    if col + len(ids) < ctx.allowed.shape[1]:
        ctx.allowed[line, col + len(ids)] &= ~not_after


def reads_as_word(verse: str, keyword: str, is_word) -> bool:
    """``keyword`` stands in ``verse`` (characters only) somewhere with no neighbour making a word with it
    (``is_word(pair)``): 千秋月 holds no 秋月."""
    start = verse.find(keyword)
    while start >= 0:
        end = start + len(keyword)
        if (start == 0 or not is_word(verse[start - 1] + keyword[0])) and (
            end == len(verse) or not is_word(keyword[-1] + verse[end])
        ):
            return True
        start = verse.find(keyword, start + 1)
    return False
