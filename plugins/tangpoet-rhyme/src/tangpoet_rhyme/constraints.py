"""The prosody constraints — ``rhyme``, ``tones`` and ``regulated`` (``格律``, ``gelv``) — on tangpoet's constraint
contract (:class:`tangpoet.decoding.constraints.base.Constraint`), registered under the entry-point group
``tangpoet.constraints``.

Each one masks while writing (static masks in :meth:`restrict`, look-ahead processors from :meth:`processors`) and
checks a finished poem (:meth:`check`, :meth:`annotate`) with the same rules (:mod:`tangpoet_rhyme.rules`).

Options (``--constraint NAME:opt=val,...``):

- ``pattern=ping|ze`` (or 平/仄, 平起/仄起): the tone of the 1st line's 2nd character; default: any, chosen per poem;
- ``first_rhymes=yes|no``: 首句入韵 or not; default: either, chosen per poem;
- ``strict`` (tones, regulated): every position follows the pattern, not only the 2nd/4th/6th and the last;
- ``group=尤`` (rhyme, regulated): rhyme in this 平水韵 group (``十一尤``, ``下平声十一尤``, simplified or traditional);
- ``safe_ends=yes|no`` (rhyme, regulated; default yes): line ends where the rhyme decides read the same to every
  reader of the traditional text — every reading of a rhyme character in its 平声 groups, of a non-rhyming end 仄
  only — in the plan's masks (so the rhyme's look-ahead counts only such characters), wherever that leaves the
  position something; ``no``: only the soft preference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tangpoet.decoding.constraints.base import Constraint, PlanContext, Violation
from tangpoet.errors import ConstraintError
from tangpoet_rhyme import checking, ci, rules

_TRUE = {"1", "true", "yes", "on", "y", "是"}
_FALSE = {"0", "false", "no", "off", "n", "否"}
_QI = {"ping": rules.PING_TONE, "平": rules.PING_TONE, "平起": rules.PING_TONE, "p": rules.PING_TONE,
       "ze": rules.ZE_TONE, "仄": rules.ZE_TONE, "仄起": rules.ZE_TONE, "z": rules.ZE_TONE}


def _flag(name: str, option: str, value: Any) -> bool | None:
    from tangpoet.decoding.constraints.parallel import parse_flag

    return None if value is None else parse_flag(value, option, name)


def _qi(name: str, value: Any) -> str | None:
    if value is None or str(value).strip().lower() in ("", "any"):
        return None
    try:
        return _QI[str(value).strip().lower()]
    except KeyError:
        raise ConstraintError(f"constraint {name!r}: pattern must be ping (平起) or ze (仄起), got {value!r}") from None


def _group(name: str, value: Any) -> str | None:
    if value is None or value is True:
        return None
    from tangpoet_rhyme.table import core, rhyme_table, traditional

    text = traditional(str(value).strip())
    table = rhyme_table()
    for group in table.level_groups:
        if text in (group, core(group)) or (text and core(group).endswith(text) and len(text) == 1):
            return group
    raise ConstraintError(
        f"constraint {name!r}: {value!r} is not a 平声 group of the 平水韵 (e.g. 一东, 十一尤, 下平声七阳)"
    )


def _where(ctx: PlanContext, line: int) -> str:
    """The placed characters of a line, for an error: ``「日」 (char 2)``."""
    vocab = ctx.vocab
    placed = [f"「{vocab.tokens[t]}」 (char {c + 1})" for (row, c), t in sorted(ctx.fixed.items()) if row == line]
    return ", ".join(placed) or "the characters allowed there"


class _Prosody(Constraint):
    """Shared by the three: options, variants, the plan bookkeeping and the checker."""

    needs_form = True
    uses_tones = True
    uses_rhyme = True

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.qi = _qi(self.name, self.options.get("pattern"))
        self.first_rhymes = _flag(self.name, "first_rhymes", self.options.get("first_rhymes"))
        self.strict = bool(_flag(self.name, "strict", self.options.get("strict")))
        self.group = _group(self.name, self.options.get("group"))
        safe = _flag(self.name, "safe_ends", self.options.get("safe_ends"))
        self.safe_ends = True if safe is None else safe

    # ---------------------------------------------------------------- planning
    def variants(self, ctx: PlanContext):
        if ci.is_ci(ctx.form):  # a ci tune: its own tone pattern and 词林正韵 rhymes (tangpoet_rhyme.ci)
            if self.group is not None:
                raise ConstraintError(f"constraint {self.name!r}: group= is a 平水韵 group, for shi; a ci rhymes by "
                                      "词林正韵 part, chosen per poem")
            return ci.variants(ctx, self.uses_rhyme)
        # Without tones only 首句入韵 matters: one 平起 stand-in per choice.
        qi = self.qi if self.uses_tones else rules.PING_TONE
        return list(rules.patterns_for(qi, self.first_rhymes))

    def _agree(self, ctx: PlanContext, variant: rules.PoemPattern) -> None:
        """Two prosody constraints in one request (``rhyme`` + ``tones``) must agree on 首句入韵 (and 平起/仄起)."""
        seen = ctx.data.setdefault("prosody.first_rhymes", variant.first_rhymes)
        if seen != variant.first_rhymes:
            ctx.data["prosody.conflict"] = "首句入韵"
        if self.uses_tones:
            qi = ctx.data.setdefault("prosody.qi", variant.qi)
            if qi != variant.qi:
                ctx.data["prosody.conflict"] = "平起/仄起"
            ctx.data["prosody.pattern"] = variant.name

    def _positions(self, ctx: PlanContext, variant: rules.PoemPattern):
        form = ctx.form
        rhyme_lines = variant.rhyme_lines(form.lines)
        positions = [(line, form.chars - 1) for line in rhyme_lines]
        others = [(line, form.chars - 1) for line in range(form.lines) if line not in rhyme_lines]
        return positions, others

    def _groups(self, pros):
        return None if self.group is None else [pros.groups.index(self.group)]

    def restrict(self, ctx: PlanContext, variant: rules.PoemPattern) -> None:
        from tangpoet_rhyme.masks import prosody_of, rhyme_restrict, tone_restrict

        if ci.is_ci(ctx.form):
            return ci.restrict(ctx, variant, self.uses_tones, self.uses_rhyme, self.name)
        self._agree(ctx, variant)
        pros = prosody_of(ctx.vocab, ctx.classes)
        narrowed = ctx.allowed.copy()
        if self.uses_rhyme:
            positions, others = self._positions(ctx, variant)
            rhyme_restrict(narrowed, pros, positions, others, self._groups(pros), safe=self.safe_ends)
        if self.uses_tones:
            patterns = variant.line_patterns(ctx.form.lines, ctx.form.chars)
            tone_restrict(narrowed, pros, patterns, self.strict)
        why = self._emptied(ctx, narrowed, pros, variant)
        if why:  # leave the masks as they were: feasible() refuses this plan with the reason
            ctx.data["prosody.why"] = why
            return
        ctx.allowed &= narrowed

    def _emptied(self, ctx: PlanContext, narrowed, pros, variant) -> str | None:
        """Why a position the masks allowed before has nothing left (a placed character that fits no rule), or None."""
        emptied = ctx.allowed.any(axis=2) & ~narrowed.any(axis=2)
        if not emptied.any():
            return None
        line, col = (int(x) for x in np.argwhere(emptied)[0])
        form = ctx.form
        rhyme_lines = variant.rhyme_lines(form.lines)
        if self.uses_rhyme and col == form.chars - 1:
            need = "a 平声 rhyme character" if line in rhyme_lines else "a 仄 character (the line does not rhyme)"
        elif self.uses_tones:
            pattern = variant.line_patterns(form.lines, form.chars)[line]
            need = f"{pattern[col]} (the line's pattern is {pattern})" if col in rules.fixed_cols(form.chars, self.strict) \
                else f"a tone that avoids 孤平/三平尾 in {pattern}"
        else:
            need = "another character"
        token = ctx.fixed.get((line, col))
        if token is not None:
            char = ctx.vocab.tokens[token]
            tone = rules.CLASS_MARK[int(pros.cls[token])]
            tone = "not in the 平水韵 data" if tone == "?" else f"{tone}"
            return (f"「{char}」 cannot be character {col + 1} of line {line + 1} under {self.name} "
                    f"({variant.name}): it is {tone}, the place needs {need}")
        return f"no character of the model fits character {col + 1} of line {line + 1} under {self.name} ({variant.name}): it needs {need}"

    def feasible(self, ctx: PlanContext, variant: rules.PoemPattern) -> str | None:
        from tangpoet_rhyme.masks import prosody_of, viable_groups

        if ci.is_ci(ctx.form):
            return ci.feasible(ctx, variant, self.uses_rhyme, self.name)
        if "prosody.why" in ctx.data:
            return ctx.data["prosody.why"]
        if "prosody.conflict" in ctx.data:
            return f"the prosody constraints disagree on {ctx.data['prosody.conflict']}"
        pros = prosody_of(ctx.vocab, ctx.classes)
        form = ctx.form
        if self.uses_rhyme:
            positions, others = self._positions(ctx, variant)
            for line, col in positions + others:
                if not ctx.allowed[line, col].any():
                    kind = "rhyme" if (line, col) in positions else "仄 line end"
                    return (f"no character may end line {line + 1} of {form.name} ({variant.name}, a {kind}) given "
                            f"{_where(ctx, line)}")
            if not viable_groups(ctx.allowed, pros, positions, self._groups(pros)):
                which = f"the group {self.group}" if self.group else "any 平声 group of the 平水韵"
                return (f"the model's vocabulary has too few characters of {which} for the {len(positions)} "
                        f"different rhymes of {form.name} ({variant.name})")
        if self.uses_tones:
            patterns = variant.line_patterns(form.lines, form.chars)
            for line, pattern in enumerate(patterns):
                per_col = rules.column_classes(pattern, self.strict, pros.avail(ctx.allowed[line]))
                if not all(per_col):
                    return (f"line {line + 1} of {form.name} cannot follow the tone pattern {pattern} "
                            f"({variant.name}) with {_where(ctx, line)}")
        return None

    def processors(self, ctx: PlanContext, variant: rules.PoemPattern):
        from tangpoet_rhyme.masks import NoEcho, Rhyme, TonePattern, prosody_of, reader_safe, viable_groups

        if ci.is_ci(ctx.form):  # a ci's tones and rhymes are all in the plan's static masks
            return [ci.NoRhymeEcho(ctx.form)] if self.uses_rhyme else []
        pros = prosody_of(ctx.vocab, ctx.classes)
        form = ctx.form
        out = []
        patterns, positions, others = None, (), ()
        if self.uses_tones:
            patterns = variant.line_patterns(form.lines, form.chars)
            out.append(TonePattern(pros, ctx.allowed, patterns, form.chars, self.strict, variant.name))
        if self.uses_rhyme:
            positions, others = self._positions(ctx, variant)
            groups = viable_groups(ctx.allowed, pros, positions, self._groups(pros))
            out.append(Rhyme(pros, ctx.allowed, positions, groups, form.chars, variant.name))
        out.append(reader_safe(pros, form.chars, patterns, self.strict, positions, others))
        if self.uses_rhyme:
            out.append(NoEcho(pros, form.chars, positions, others))
        return out

    # ---------------------------------------------------------------- checking
    def result(self, text: str, form=None) -> checking.Result:
        return checking.check_poem(
            text, tones=self.uses_tones, rhyme=self.uses_rhyme, strict=self.strict,
            qi=self.qi if self.uses_tones else None, first_rhymes=self.first_rhymes, group=self.group, form=form,
        )

    def check(self, text: str, form=None) -> list[Violation]:
        if ci.is_ci(form):
            return ci.faults(text, form, self.uses_tones, self.uses_rhyme)
        return checking.violations(self.result(text, form))

    def annotate(self, text: str, form=None) -> dict | None:
        if ci.is_ci(form):
            return ci.annotate(text, form)
        return checking.annotate(self.result(text, form))


class RhymeConstraint(_Prosody):
    """``rhyme``: the rhyme lines (even lines; the 1st too when 首句入韵) end in 平声 characters of one 平水韵 group,
    none twice; the other lines end in a 仄 character."""

    name = "rhyme"
    aliases = ("押韵", "yayun")
    option_names = ("first_rhymes", "group", "safe_ends")
    description = "平水韵 rhyme: even lines (and the 1st when 首句入韵) end in one 平声 group, none twice; others end 仄"
    uses_tones = False


class TonesConstraint(_Prosody):
    """``tones``: the 近体诗 tone patterns (平仄), 对 and 粘, no 孤平, no 三平尾."""

    name = "tones"
    aliases = ("平仄", "pingze")
    option_names = ("pattern", "first_rhymes", "strict")
    description = "平仄: the four line patterns, 对/粘, 2nd/4th/6th and last fixed, no 孤平/三平尾 (strict: every char)"
    uses_rhyme = False


class RhymeReserve:
    """Soft (a :class:`~tangpoet.decoding.constraints.base.LogitsProcessor`): with 重字 forbidden, a character the
    later rhyme positions may need is not spent inside a line — where the row's rhyme group (or a group it may still
    take) has no more unused allowed characters left for its remaining rhyme positions than ``slack`` beyond their
    number. Otherwise a rhyme could be left only characters already written, and the 重字 rule would have to yield."""

    hard = False

    def __init__(self, rhyme, chars: int, slack: int = 2):
        from tangpoet_rhyme.masks import Rhyme

        assert isinstance(rhyme, Rhyme)
        self.rhyme, self.step, self.slack = rhyme, chars + 1, slack
        self.flat = list(rhyme.flat)
        member = rhyme.pros.member
        # pools[k][g]: the allowed characters of group g at rhyme positions k.. (static), kept only where small
        self.pools: list[dict[int, np.ndarray]] = []
        for k in range(len(self.flat)):
            later = rhyme.allowed[k:].any(axis=0)
            need = len(self.flat) - k
            small = {}
            for g in rhyme.groups:
                pool = np.flatnonzero(later & member[:, g])
                if len(pool) <= need + slack + 64:  # a poem writes at most 64 characters
                    small[g] = pool
            self.pools.append(small)

    def __call__(self, history, log_probs):
        from tangpoet.decoding.constraints.base import NEG_INF

        t = history.shape[1]
        if t in self.flat or t % self.step == self.step - 1:
            return log_probs
        k = sum(p < t for p in self.flat)
        if k >= len(self.flat) or not self.pools[k]:
            return log_probs
        need = len(self.flat) - k
        member = self.rhyme.pros.member
        for r in range(history.shape[0]):
            rhymes = history[r, self.flat[:k]]
            written = history[r]
            for g, pool in self.pools[k].items():
                if len(rhymes) and not member[rhymes, g].all():
                    continue
                left = pool[~np.isin(pool, written)]
                if len(left) <= need + self.slack:
                    log_probs[r, left] = NEG_INF
        return log_probs

    def describe(self) -> str:
        return "rhyme characters kept for the rhymes (no 重字)"


#: ``regulated``'s 对仗 in a 律诗 when ``parallel=`` is not given: (strength, strict), or None for off.
#: Measured in docs/benchmarks.md#parallel-couplets.
PARALLEL_DEFAULT: tuple[float, bool] | None = (1.0, False)


def _parallel(name: str, value: Any) -> tuple[float, bool] | None:
    """``parallel=`` of ``regulated``: yes (the default strength), no, strict, or a strength (0–10)."""
    from tangpoet.decoding.constraints.parallel import DEFAULT_STRENGTH, parse_strength

    if value is None:
        return PARALLEL_DEFAULT
    text = str(value).strip().lower()
    if value is True or text in _TRUE:
        return (DEFAULT_STRENGTH, False)
    if value is False or text in _FALSE:
        return None
    if text == "strict":
        return (DEFAULT_STRENGTH, True)
    try:
        strength = parse_strength(value, name)
    except ConstraintError:
        raise ConstraintError(f"constraint {name!r}: parallel must be yes, no, strict or a strength from 0 to 10, "
                              f"got {str(value)[:40]!r}") from None
    return (strength, False) if strength else None


def _shi(form) -> bool:
    """A 绝句 or 律诗 (重字 and 对仗 are rules of shi, not of ci)."""
    return form is not None and not ci.is_ci(form) and str(getattr(form, "name", "")).endswith(("绝句", "律诗"))


class RegulatedConstraint(_Prosody):
    """``regulated`` (``格律``, ``gelv``): ``rhyme`` and ``tones`` together — regulated verse (近体诗); in a 绝句 or
    律诗 also no 重字 (no character twice except 叠字; ``chongzi=no`` allows it) and, in a 律诗, ``parallel=`` (对仗 in
    the middle couplets: ``yes``, ``no``, ``strict`` or a strength; see :mod:`tangpoet.decoding.constraints.parallel`)."""

    name = "regulated"
    aliases = ("格律", "gelv")
    option_names = ("pattern", "first_rhymes", "strict", "group", "safe_ends", "chongzi", "parallel")
    description = "格律: rhyme + tones together (regulated verse, 近体诗), no 重字; parallel=yes|strict|X: 对仗"

    def __init__(self, **options: Any):
        super().__init__(**options)
        chongzi = _flag(self.name, "chongzi", self.options.get("chongzi"))
        self.chongzi = True if chongzi is None else chongzi
        self.parallel = _parallel(self.name, self.options.get("parallel"))

    def processors(self, ctx: PlanContext, variant):
        out = list(super().processors(ctx, variant))
        if not _shi(ctx.form):
            return out
        if self.chongzi:
            from tangpoet.decoding.constraints.chongzi import NoChongzi
            from tangpoet_rhyme.masks import Rhyme

            out.append(NoChongzi(ctx.classes.char, ctx.form.chars, ctx.fixed))
            out += [RhymeReserve(p, ctx.form.chars) for p in out if isinstance(p, Rhyme)]
        if self.parallel is not None:
            from tangpoet.decoding.constraints.parallel import parallel_processors

            out += parallel_processors(ctx.vocab, ctx.form, *self.parallel)
        return out

    # 重字 is a fault of style (忌), not a rule of 格律: the writer avoids it softly (it gives way to a begin text, an
    # acrostic, keywords or a rhyme that leave nothing else), and `check` lists it beside the couplets (checking.py)
    # rather than failing the poem — the writer's and the checker's rules stay the same.
