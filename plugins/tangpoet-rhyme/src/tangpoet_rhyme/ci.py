"""Regulated ci (词): a tune variant's tone pattern (平/仄 per position; 中 free) and its rhymes — every verse end of a
rhyme set in one 词林正韵 part (:mod:`tangpoet_rhyme.cilin`), one part per set — as static masks of the plan, so a
written ci keeps them by construction; and the same rules checked on a finished ci.

The shape, tones and rhyme positions come from the tune table (:mod:`tangpoet.decoding.forms.tunes`). A plan's
variant here is the rhyme part of each rhyme set (the planner tries them in the request's seeded order). Positions
are counted over the ci's characters in order, so a ci whose editors put a verse break elsewhere is read against
its variant all the same.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from tangpoet.decoding.constraints.base import NEG_INF, LogitsProcessor, PlanContext, Violation
from tangpoet_rhyme.cilin import PING, ZE, rhyme_book, vocab_book

_DROP = "，。？！；、：:,.!?;「」『』“”‘’（）() \t\r\n"
MAX_PLANS = 19  # rhyme-part assignments offered to the planner


def is_ci(form) -> bool:
    return bool(form is not None and getattr(form, "is_ci", False))


def rhyme_positions(form) -> list[list[tuple[int, int, str]]]:
    """Per rhyme set: its ``(verse, col, tone)`` ends (tone from the pattern: 平, 仄 or 中)."""
    out = []
    for verses, _tone in form.rhymes:
        out.append([(v, form.lengths[v] - 1, form.tones[v][-1]) for v in verses])
    return out


# ---------------------------------------------------------------- planning
def variants(ctx: PlanContext, uses_rhyme: bool) -> list[tuple[int, ...]]:
    """Rhyme-part assignments (one part per rhyme set, sets of one ci in different parts where it can), in an order
    drawn from the request's seed; ``[()]`` without rhyme."""
    form = ctx.form
    sets = rhyme_positions(form)
    if not uses_rhyme or not sets:
        return [()]
    book = vocab_book(ctx.vocab, ctx.classes)
    parts = len(book.book.parts)
    viable = []
    for positions in sets:
        ok = [k for k in range(parts)
              if all((book.rhyme_mask(k, tone) & ctx.allowed[v, c]).any() for v, c, tone in positions)
              and _count(book, k, positions) >= len(positions)]
        viable.append(ok)
    if any(not ok for ok in viable):
        return [tuple(-1 for _ in sets)]  # feasible() says why
    order = [int(k) for k in ctx.rng.permutation(parts)]
    out: list[tuple[int, ...]] = []
    for start in range(min(MAX_PLANS, parts)):
        chosen: list[int] = []
        for s, ok in enumerate(viable):
            ranked = [order[(start + 5 * s + j) % parts] for j in range(parts)]
            pick = next((k for k in ranked if k in ok and k not in chosen), None)
            chosen.append(pick if pick is not None else next(k for k in ranked if k in ok))
        if tuple(chosen) not in out:
            out.append(tuple(chosen))
    return out


def _count(book, part: int, positions) -> int:
    mask = np.zeros_like(book.char)
    for _v, _c, tone in positions:
        mask |= book.rhyme_mask(part, tone)
    return int(mask.sum())


def restrict(ctx: PlanContext, variant: tuple[int, ...], uses_tones: bool, uses_rhyme: bool, name: str) -> None:
    form = ctx.form
    book = vocab_book(ctx.vocab, ctx.classes)
    narrowed = ctx.allowed.copy()
    if uses_tones:
        for line, pattern in enumerate(form.tones):
            for col, tone in enumerate(pattern):
                if tone in (PING, ZE):
                    narrowed[line, col] &= book.tone_mask(tone)
    if uses_rhyme and variant and -1 not in variant:
        for part, positions in zip(variant, rhyme_positions(form)):
            for line, col, tone in positions:
                narrowed[line, col] &= book.rhyme_mask(part, tone)
    emptied = ctx.allowed.any(axis=2) & ~narrowed.any(axis=2)
    if emptied.any():
        line, col = (int(x) for x in np.argwhere(emptied)[0])
        ctx.data["prosody.why"] = _why(ctx, variant, line, col, name)
        return
    ctx.allowed &= narrowed


def _why(ctx, variant, line: int, col: int, name: str) -> str:
    form = ctx.form
    book = rhyme_book()
    need = form.tones[line][col]
    for part, positions in zip(variant or (), rhyme_positions(form)):
        if any((line, col) == (v, c) for v, c, _t in positions) and part >= 0:
            need = f"a {need} rhyme of {book.parts[part].name}"
    token = ctx.fixed.get((line, col))
    where = f"character {col + 1} of verse {line + 1} of {form}"
    if token is not None:
        char = ctx.vocab.tokens[token]
        tone = book.mark(char) or "not in 词林正韵"
        return f"「{char}」 cannot be {where} under {name}: it is {tone}, the place needs {need}"
    return f"no character of the model fits {where} under {name}: it needs {need}"


def feasible(ctx: PlanContext, variant: tuple[int, ...], uses_rhyme: bool, name: str) -> str | None:
    if "prosody.why" in ctx.data:
        return ctx.data["prosody.why"]
    if uses_rhyme and variant and -1 in variant:
        return f"the model's vocabulary has no 词林正韵 part with characters for every rhyme of {ctx.form}"
    return None


class NoRhymeEcho(LogitsProcessor):
    """Soft: a rhyme end does not repeat a character an earlier end of its rhyme set took (the plan's masks keep the
    rhyme; this keeps the rhymes different where the model's choices allow it)."""

    hard = False

    def __init__(self, form):
        self.form = form
        starts, at = [], 0
        for n in form.lengths:
            starts.append(at)
            at += n + 1  # tokens: the verse's characters and its mark
        self.earlier: dict[int, list[int]] = {}  # token index of a rhyme end → those of the earlier ends of its set
        for positions in rhyme_positions(form):
            ends = [starts[v] + c for v, c, _t in positions]
            for k, end in enumerate(ends):
                if k:
                    self.earlier[end] = ends[:k]

    def __call__(self, history, log_probs):
        before = self.earlier.get(history.shape[1])
        if before:
            for row in range(history.shape[0]):
                log_probs[row, history[row, before]] = NEG_INF
        return log_probs

    def describe(self) -> str:
        return f"no rhyme repeated in {self.form}"


# ---------------------------------------------------------------- checking
def _flat(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The ci's characters in order, and each one's (verse, col) in the ci as written (verses end at ，。、？！；)."""
    from tangpoet.decoding.constraints.form import split_verses, verse_chars
    from tangpoet.decoding.forms import CI_VERSE_END

    chars, where = [], []
    verses = [verse_chars(v) for v in split_verses(text, CI_VERSE_END)]
    for line, verse in enumerate(v for v in verses if v):
        for col, c in enumerate(verse):
            chars.append(c)
            where.append((line, col))
    return "".join(chars), where


def _offsets(form) -> list[int]:
    out, at = [], 0
    for n in form.lengths:
        out.append(at)
        at += n
    return out


def faults(text: str, form, uses_tones: bool, uses_rhyme: bool) -> list[Violation]:
    """Each character that breaks the variant's tone (a character of the wrong tone where 平 or 仄 is kept; one
    read either way, or not in 词林正韵, never does) and each rhyme end outside the part most of its set's ends share
    and the parts Song ci rhyme with it (邻部通押, :meth:`~tangpoet_rhyme.cilin.RhymeBook.rhymes_with`)."""
    book = rhyme_book()
    chars, where = _flat(text)
    starts = _offsets(form)
    out: list[Violation] = []
    if uses_tones:
        for line, pattern in enumerate(form.tones):
            for col, tone in enumerate(pattern):
                k = starts[line] + col
                if tone not in (PING, ZE) or k >= len(chars):
                    continue
                if book.fits(chars[k], tone) is False:
                    at, pos = where[k]
                    out.append(Violation(
                        "tone", at, pos,
                        f"第{at + 1}句第{pos + 1}字「{chars[k]}」{book.mark(chars[k])}，应{tone} (verse {at + 1}, "
                        f"character {pos + 1}: {form} keeps {tone} there)"))
    if uses_rhyme:
        for s, positions in enumerate(rhyme_positions(form)):
            ends = [(starts[v] + c, tone) for v, c, tone in positions if starts[v] + c < len(chars)]
            count = Counter(p for k, _t in ends for p in book.parts_of(chars[k]))
            if not count:
                continue
            best = max(count, key=lambda p: (count[p], -p))
            for k, _tone in ends:
                parts = book.parts_of(chars[k])
                if parts and not book.rhymes_with(best) & set(parts):
                    at, pos = where[k]
                    out.append(Violation(
                        "rhyme", at, pos,
                        f"第{at + 1}句末「{chars[k]}」({'/'.join(book.parts[p].name for p in parts)}) 不押"
                        f"{book.parts[best].name} (verse {at + 1} ends a rhyme of {form} outside the part "
                        f"{book.parts[best].name} its other rhymes share)"))
    out.sort(key=lambda v: (v.line if v.line is not None else -1, v.col if v.col is not None else -1))
    return out


def annotate(text: str, form) -> dict:
    """The marks ``tangpoet check`` prints: per verse as written its characters, their 平/仄/平仄, the 词林正韵 part
    of a rhyme end, and the variant's pattern over those characters."""
    book = rhyme_book()
    chars, where = _flat(text)
    pattern = "".join(form.tones)
    rhyme_at = {}
    for positions in rhyme_positions(form):
        ends = [_offsets(form)[v] + c for v, c, _t in positions]
        count = Counter(p for k in ends if k < len(chars) for p in book.parts_of(chars[k]))
        best = max(count, key=lambda p: (count[p], -p)) if count else None
        for k in ends:
            if k < len(chars):
                parts = book.parts_of(chars[k])
                rhyme_at[k] = book.parts[best if best in parts else parts[0]].name if parts else "?"
    lines: list[dict] = []
    for k, (line, _col) in enumerate(where):
        while len(lines) <= line:
            lines.append({"chars": [], "tones": [], "rhyme": None, "pattern": ""})
        lines[line]["chars"].append(chars[k])
        lines[line]["tones"].append(book.mark(chars[k]))
        lines[line]["pattern"] += pattern[k] if k < len(pattern) else "?"
        if k in rhyme_at and (k + 1 == len(where) or where[k + 1][0] != line):
            lines[line]["rhyme"] = rhyme_at[k]
    from tangpoet.decoding.forms import find_tune

    tune = find_tune(form.name)
    of = f" of {len(tune.variants)}" if tune is not None else ""
    name = f"variant {form.variant}{of}, {form.kind or '韵'}, {form.count} Song ci of this shape"
    return {"lines": lines, "pattern_name": name}
