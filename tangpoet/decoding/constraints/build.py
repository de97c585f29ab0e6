"""``build_constraints``: check a request against the vocabulary, plan it, and assemble the constraint chain.

Everything that can be checked is checked before decoding starts — unknown characters, an acrostic that does not
match the form, a begin text the constraints forbid, keywords that cannot be placed, a max length too short — and
refused with a one-line :class:`~tangpoet.errors.ConstraintError` / :class:`~tangpoet.errors.VocabularyError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tangpoet.decoding.cancellation import checkpoint
from tangpoet.decoding.constraints.acrostic import FREE_ACROSTIC_LENGTHS, Acrostic, AcrosticConstraint
from tangpoet.decoding.constraints.base import (  # noqa: F401 (check_text: re-exported)
    DEFAULT_MAX_LEN,
    Constraint,
    LogitsProcessor,
    PlanContext,
    Violation,
    check_text,
)
from tangpoet.decoding.constraints.chain import ConstraintChain
from tangpoet.decoding.constraints.classes import TokenClasses, is_punctuation
from tangpoet.decoding.constraints.form import FormConstraint, LineForm, form_violations
from tangpoet.decoding.constraints.keywords import (
    FreeKeywords,
    KeywordsConstraint,
    check_keywords,
    maximal,
    parse_keywords,
)
from tangpoet.decoding.constraints.named import to_constraint
from tangpoet.decoding.constraints.plan import RUN_KEY, Plan, fix, make_plan, unique
from tangpoet.decoding.constraints.prefix import BeginConstraint, ForcedPrefix
from tangpoet.decoding.constraints.repeat import NoRepeat, NoRepeatConstraint, NoRepeatNGram, NoRepeatVerse
from tangpoet.decoding.constraints.tokens import BannedTokens
from tangpoet.decoding.constraints.verse import FreeVerse, VerseConstraint
from tangpoet.decoding.forms import COMMA, FULL_STOP, Form, get_form
from tangpoet.errors import ConstraintError, VocabularyError
from tangpoet.limits import MAX_POEM_LENGTH
from tangpoet.data.vocab import EOS_ID, Vocabulary


@dataclass
class Constraints:
    """What :func:`build_constraints` checked and assembled: the prompt ids, the chain and the max length."""

    prompt: np.ndarray  # ids of the begin text (no <bos>)
    chain: ConstraintChain
    max_len: int  # most characters in a poem, punctuation included, <eos> not counted
    form: Form | None
    acrostic: str
    begin: str
    keywords: tuple[str, ...] = ()
    constraints: tuple[Constraint, ...] = ()  # the requested constraints other than form/acrostic/begin/keywords
    plan: Plan | None = None
    verse: VerseConstraint | None = None  # free form: the free-verse rule written under (None under a line form)

    def check(self, text: str) -> list[Violation]:
        """Every rule of this request that the finished poem ``text`` breaks (empty: it obeys them all)."""
        out: list[Violation] = []
        if self.form is not None:
            out += form_violations(text, self.form)
        out += AcrosticConstraint(text=self.acrostic).check(text, self.form) if self.acrostic else []
        out += BeginConstraint(text=self.begin).check(text, self.form) if self.begin else []
        out += KeywordsConstraint(words="/".join(self.keywords)).check(text, self.form) if self.keywords else []
        out += self.verse.check(text, self.form) if self.verse is not None else []
        for constraint in self.constraints:
            out += constraint.check(text, self.form)
        return out


def _unknown_error(vocab: Vocabulary, label: str, text: str) -> None:
    unknown = vocab.unknown(text)
    if unknown:
        listed = ", ".join(repr(char) for char in unknown)  # in order, each once: 'H', 'e', 'l', 'o' (not 'Helo')
        raise VocabularyError(f"the model does not know {listed} (in {label} {text!r})")


def _merge(label: str, current: Any, new: Any) -> Any:
    if current and new and current != new:
        raise ConstraintError(f"two different {label}s asked for: {current} and {new}")
    return new or current


def resolve_constraints(constraints: Sequence[Any], form, acrostic: str, begin: str, keywords):
    """Instances for ``constraints``; the core ones (form, acrostic, begin, keywords) merged into the request."""
    extra: list[Constraint] = []
    keywords = list(parse_keywords(keywords))
    for item in constraints or ():
        constraint = to_constraint(item)
        if isinstance(constraint, FormConstraint):
            form = _merge("form", get_form(form) if form else None, constraint.form)
        elif isinstance(constraint, AcrosticConstraint):
            acrostic = _merge("acrostic", acrostic, constraint.text)
        elif isinstance(constraint, BeginConstraint):
            begin = _merge("begin text", begin, constraint.text)
        elif isinstance(constraint, KeywordsConstraint):
            keywords += constraint.keywords
        else:
            extra.append(constraint)
    return extra, form, acrostic, begin, parse_keywords(keywords)


def build_constraints(
    vocab: Vocabulary,
    *,
    begin: str = "",
    acrostic: str = "",
    form: str | Form | None = None,
    max_len: int | None = None,
    no_repeat: bool = True,
    no_repeat_ngram: int = 0,
    constraints: Sequence[Any] = (),
    keywords: Sequence[str] | str = (),
    rng: np.random.Generator | None = None,
    verse: tuple[int, int] | None = None,
) -> Constraints:
    """Check the request against the vocabulary, plan it and assemble the constraint chain; errors before decoding.

    ``constraints``: names, ``(name, options)`` pairs or :class:`Constraint` instances (identical ones count once);
    ``keywords``: each appears inside one verse of every poem; ``rng`` (seeded) chooses among equally valid plans
    (default: seed 0). Without a form or an acrostic the poem is free verse (:mod:`~tangpoet.decoding.constraints.verse`):
    ``verse`` gives its default verse lengths ``(min, max)`` — the model's record of its corpus — which a ``verse``
    constraint's options override (default: :data:`~tangpoet.limits.VERSE_MIN_CHARS`–``VERSE_MAX_CHARS``).
    """
    extra, form, acrostic, begin, keywords = resolve_constraints(
        constraints, form, check_text("acrostic", acrostic or ""), check_text("begin", begin or ""), keywords
    )
    extra = unique(extra)
    verses = [c for c in extra if isinstance(c, VerseConstraint)]
    extra = [c for c in extra if not isinstance(c, VerseConstraint)]
    if len({(v.options.get("min"), v.options.get("max")) for v in verses}) > 1:
        raise ConstraintError("two different verse rules asked for: " + " and ".join(repr(v) for v in verses))
    rule = verses[0] if verses else VerseConstraint()
    low, high = rule.bounds(verse)
    run = _max_run(no_repeat, extra)
    form = get_form(form) if form else None
    rng = rng if rng is not None else np.random.default_rng(0)
    if max_len is not None and max_len < 1:
        raise ConstraintError(f"max length must be at least 1, got {max_len}")
    if no_repeat_ngram < 0:
        raise ConstraintError(f"the no-repeat n-gram size must be 0 (off) or more, got {no_repeat_ngram}")
    _unknown_error(vocab, "begin", begin)
    _unknown_error(vocab, "acrostic", acrostic)
    if any(is_punctuation(char) for char in acrostic):
        raise ConstraintError(f"an acrostic is characters only, without punctuation: {acrostic!r}")
    if form is not None and acrostic and len(acrostic) != form.lines:
        relation = "longer than" if len(acrostic) > form.lines else "shorter than"
        raise ConstraintError(
            f"acrostic {acrostic!r} has {len(acrostic)} characters, {relation} {form.name}'s {form.lines} lines"
        )
    for constraint in extra:
        if constraint.needs_form and form is None:
            raise ConstraintError(
                f"constraint {constraint.name!r} needs a form (五绝, 七绝, 五律 or 七律)"
            )
    check_keywords(keywords, form)
    for keyword in keywords:
        _unknown_error(vocab, "keyword", keyword)
        _no_run("keyword", keyword, run)
        if form is None and not acrostic and len(keyword) > high:
            raise ConstraintError(f"keyword {keyword!r} is longer than a verse of free verse ({low}-{high} characters)")
    _no_run("begin", begin, run)
    if form is not None and verses and not low <= form.chars <= high:
        raise ConstraintError(
            f"{form.name} has verses of {form.chars} characters, outside the verse rule's {low}-{high}"
        )

    classes = TokenClasses.of(vocab)
    structure: LineForm | None = None
    if form is not None:
        structure = LineForm(classes, form.lines, (form.chars,), f"the form {form.name}", form)
    elif acrostic:
        lengths = tuple(n for n in FREE_ACROSTIC_LENGTHS if low <= n <= high) if verses else FREE_ACROSTIC_LENGTHS
        if not lengths:
            raise ConstraintError(
                f"an acrostic poem has verses of {' or '.join(map(str, FREE_ACROSTIC_LENGTHS))} characters, "
                f"outside the verse rule's {low}-{high}"
            )
        if max_len is not None:
            lengths = tuple(n for n in lengths if len(acrostic) * (n + 1) <= max_len) or lengths[:1]
        structure = LineForm(classes, len(acrostic), lengths, f"a {len(acrostic)}-line acrostic poem")
    if structure is not None:
        needed = [COMMA] if structure.lines > 1 else []
        missing = [mark for mark in (*needed, FULL_STOP) if mark not in vocab]
        if missing:
            raise ConstraintError(f"{structure.describe()} needs {''.join(missing)!r}, which the model does not know")
        if not classes.char.any():
            raise ConstraintError("the model's vocabulary has no characters to write with")
        if max_len is None:
            max_len = structure.max_length
        elif max_len < structure.min_length:
            raise ConstraintError(
                f"max length {max_len} is too short for {structure.describe()} ({structure.min_length} characters)"
            )
    prompt = vocab.encode(begin, strict=True) if begin else np.zeros(0, dtype=np.int32)
    free_verse: FreeVerse | None = None
    if structure is None:  # free form: free verse, closed within the max length
        if not classes.sentence_end.any() or not classes.char.any():
            raise ConstraintError("free verse needs characters and 。？！ to end a poem with, which the model does not know")
        need = FreeVerse(classes, low, high, MAX_POEM_LENGTH).need_of(prompt)
        if max_len is None:
            if keywords:  # room for the keywords too (a begin text near the default length leaves none)
                need = max(need, FreeKeywords(classes, keywords, MAX_POEM_LENGTH, low, high, run).need_of(prompt))
            max_len = max(DEFAULT_MAX_LEN, len(prompt) + need)
        elif len(prompt) <= max_len < len(prompt) + need:
            raise ConstraintError(
                f"max length {max_len} is too short for free verse"
                + (f" after the begin text {begin!r}" if begin else "")
                + f" ({len(prompt) + need} characters needed: verses of {low}-{high} characters, the last ending on 。)"
            )
        free_verse = FreeVerse(classes, low, high, int(max_len))
    if max_len > MAX_POEM_LENGTH:
        raise ConstraintError(f"the poem asked for needs {max_len:,} characters, more than a poem may have ({MAX_POEM_LENGTH:,})")
    if len(prompt) > max_len:
        raise ConstraintError(f"begin {begin!r} is longer than the max length {max_len}")

    def chain_of(structure, middle: list[LogitsProcessor]) -> ConstraintChain:
        processors: list[LogitsProcessor] = [BannedTokens(), structure if structure is not None else free_verse]
        if acrostic:
            processors.append(Acrostic(classes, [vocab.id(char) for char in acrostic], acrostic))
        if len(prompt):
            processors.append(ForcedPrefix(prompt, begin))
        # the soft repetition rules first among the soft ones (a plugin's soft preference never leaves them nothing)
        if no_repeat:
            processors.append(NoRepeat())
            processors.append(NoRepeatVerse(classes.line_end))
        if no_repeat_ngram:
            processors.append(NoRepeatNGram(no_repeat_ngram))
        processors += middle
        return ConstraintChain(processors, form)

    base = Constraints(
        prompt.astype(np.int32), chain_of(structure, []), int(max_len), form, acrostic, begin, keywords, tuple(extra),
        verse=VerseConstraint(min=low, max=high) if free_verse is not None else None,
    )
    validate_prompt(base, vocab)  # the begin text fits the form and the acrostic before anything is planned

    plan: Plan | None = None
    middle: list[LogitsProcessor] = []
    if form is not None or (acrostic and keywords):
        shapes = [form] if form is not None else [
            Form(f"{len(acrostic)}-line acrostic", len(acrostic), n) for n in rng.permutation(list(structure.lengths))
        ]
        error: ConstraintError | None = None
        for shape in shapes:
            try:
                plan = _plan(vocab, classes, shape, begin, acrostic, keywords, int(max_len), rng, extra, run)
                break
            except ConstraintError as exc:
                error = error or exc
        if plan is None:
            raise error
        if form is None:  # the acrostic's line length is now chosen
            structure = LineForm(classes, len(acrostic), (plan.ctx.form.chars,), structure.name)
        middle = plan.processors()
    elif extra or keywords:
        ctx = PlanContext(vocab, classes, None, begin, acrostic, keywords, int(max_len), rng)
        plan = make_plan(ctx, extra, ())
        middle = plan.processors()
        if keywords:
            if not classes.sentence_end.any():
                raise ConstraintError("the model knows no 。？！ to end a poem with, so keywords cannot be placed")
            free = FreeKeywords(classes, keywords, int(max_len), low, high, run)
            need = free.need_of(prompt)
            if need > max_len - len(prompt):
                raise ConstraintError(
                    f"max length {max_len} is too short for the keywords {'、'.join(keywords)}"
                    + (f" after the begin text {begin!r}" if begin else "")
                    + f" ({len(prompt) + need} characters needed)"
                )
            middle.append(free)
    result = Constraints(
        prompt.astype(np.int32), chain_of(structure, middle), int(max_len), form, acrostic, begin, keywords, tuple(extra),
        plan, base.verse,
    )
    validate(result, vocab)
    return result


def _max_run(no_repeat: bool, extra: Sequence[Constraint]) -> int | None:
    """The longest run of one character the soft no-repeat rules allow (None: no such rule)."""
    runs = ([2] if no_repeat else []) + [c.run for c in extra if isinstance(c, NoRepeatConstraint)]
    return min(runs) if runs else None


def _no_run(label: str, text: str, run: int | None) -> None:
    """A begin text or keyword the no-repeat rule forbids as it is (one character more than ``run`` times in a row)."""
    if run is None:
        return
    for i in range(len(text) - run):
        if len(set(text[i : i + run + 1])) == 1:
            raise ConstraintError(
                f"{label} {text!r} has 「{text[i]}」 {run + 1} times in a row, which the no-repeat rule forbids"
            )


def _plan(vocab, classes, shape: Form, begin, acrostic, keywords, max_len, rng, extra, run=None) -> Plan:
    """Plan over an exact shape: begin and acrostic fixed, then the planner (constraints + keyword places)."""
    allowed = np.broadcast_to(classes.char, (shape.lines, shape.chars, classes.size)).copy()
    for line, n in enumerate(shape.lengths):  # a ci's shorter verses: no character past their end
        allowed[line, n:] = ~classes.char
    ctx = PlanContext(vocab, classes, shape, begin, acrostic, keywords, max_len, rng, allowed)
    ctx.data[RUN_KEY] = run
    sources: dict[tuple[int, int], str] = {}
    for t, char in enumerate(begin):
        line, col = shape.position(t)
        if line >= shape.lines or col >= shape.lengths[line] or not classes.char[vocab.id(char)]:
            continue  # validate_prompt has checked the marks
        fix(ctx, line, col, vocab.id(char))
        sources[(line, col)] = "the begin text"
    for line, char in enumerate(acrostic[: shape.lines]):
        if (line, 0) in ctx.fixed and ctx.fixed[(line, 0)] != vocab.id(char):
            raise ConstraintError(f"begin {begin!r} does not fit the acrostic {acrostic}")
        fix(ctx, line, 0, vocab.id(char))
        sources.setdefault((line, 0), "the acrostic")
    ctx.data["fixed.source"] = sources
    return make_plan(ctx, extra, maximal(keywords))


def validate_prompt(constraints: Constraints, vocab: Vocabulary) -> None:
    """Every character of the begin text is allowed by the hard constraints where it stands."""
    chain, prompt = constraints.chain, constraints.prompt
    size = len(vocab)
    for t in range(len(prompt)):
        checkpoint()
        history = prompt[:t].reshape(1, -1)
        out = chain.apply_hard(history, np.zeros((1, size), dtype=np.float32))
        if not np.isfinite(out[0, prompt[t]]):
            blocker = chain.blocker(history, int(prompt[t]), size)
            why = blocker.describe() if blocker is not None else "the constraints"
            raise ConstraintError(
                f"begin {constraints.begin!r} does not fit {why}: {vocab.tokens[prompt[t]]!r} cannot be character {t + 1}"
            )


def validate(constraints: Constraints, vocab: Vocabulary) -> None:
    """The prompt obeys the hard constraints, and some poem completes it within the max length (a dry run)."""
    validate_prompt(constraints, vocab)
    chain, prompt = constraints.chain, constraints.prompt
    size = len(vocab)
    # Dry run: follow one allowed path until <eos> or the max length; a dead end means the request cannot be met.
    # The path takes <eos> when allowed, else a sentence end (。？！: after one, a free poem may end), else the
    # lowest allowed id — a free poem is proved in two steps instead of running to the max length (a chain call per
    # character: ~6 ms a request, a server's per-request cost).
    ends = TokenClasses.of(vocab).sentence_end
    history = list(prompt)
    while len(history) < constraints.max_len:
        checkpoint()
        out = chain.apply_hard(np.asarray(history, dtype=np.int64).reshape(1, -1), np.zeros((1, size), np.float32))
        allowed = np.flatnonzero(np.isfinite(out[0]))
        if allowed.size == 0:
            raise ConstraintError(
                "the constraints cannot all be met: nothing may follow "
                f"{vocab.decode(history)!r} under " + " and ".join(p.describe() for p in chain if p.hard)
            )
        if allowed[0] == EOS_ID:
            return
        ending = allowed[ends[allowed]]
        history.append(int(ending[0] if ending.size else allowed[0]))
    if any(isinstance(p, (LineForm, FreeVerse)) for p in chain):
        out = chain.apply_hard(np.asarray(history, dtype=np.int64).reshape(1, -1), np.zeros((1, size), np.float32))
        if not np.isfinite(out[0, EOS_ID]):
            raise ConstraintError(f"max length {constraints.max_len} is too short for the requested poem")
