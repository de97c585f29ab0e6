"""The planner: before decoding, choose one plan that every requested constraint and every keyword fits.

Under a fixed line form, ``ctx.allowed`` holds a static mask per character position ``[lines, cols, V]``. The
planner starts from "any character" narrowed by the begin text and the acrostic, then for each combination of the
constraints' variants (in the request's seeded random order): a fresh copy, every constraint's ``restrict()``, the
keywords placed (each inside one verse, every character allowed where it lands; backtracking, random order among
valid places, places the begin text already fills first), then every ``feasible()``. The first combination that
works is the plan; nothing working is refused in one line with the most specific reason met.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tangpoet.decoding.cancellation import checkpoint
from tangpoet.decoding.constraints.base import NEG_INF, Constraint, LogitsProcessor, PlanContext
from tangpoet.errors import ConstraintError, TangpoetError
from tangpoet.registry.base import PluginError, first_line

MAX_COMBINATIONS = 512  # variant combinations tried
MAX_PLACEMENTS = 64  # keyword placements tried per combination
MAX_NODES = 20000  # keyword search steps per combination
RUN_KEY = "no-repeat.run"  # ctx.data: no character more than this many times in a row (the soft no-repeat rule)


class PlanMask(LogitsProcessor):
    """Under an exact line form: the plan's static mask at the next character position (fixed characters forced)."""

    def __init__(self, allowed: np.ndarray, chars: int, what: str = "the plan", form=None):
        self.allowed = allowed
        self.step = int(chars) + 1
        self.what = what
        self.form = form if form is not None and form.is_ci else None  # a ci: verses of their own lengths

    def __call__(self, history, log_probs):
        if self.form is not None:
            line, col = self.form.position(history.shape[1])
            if line < self.form.lines and col < self.form.lengths[line]:
                log_probs[:, ~self.allowed[line, col]] = NEG_INF
            return log_probs
        line, col = divmod(history.shape[1], self.step)
        if line < self.allowed.shape[0] and col < self.allowed.shape[1]:
            log_probs[:, ~self.allowed[line, col]] = NEG_INF
        return log_probs

    def describe(self) -> str:
        return self.what


@dataclass
class Plan:
    ctx: PlanContext
    constraints: list[Constraint]
    variants: list[Any]
    placements: dict[str, tuple[int, int]] = field(default_factory=dict)

    def processors(self) -> list[LogitsProcessor]:
        out: list[LogitsProcessor] = []
        for constraint, variant in zip(self.constraints, self.variants):
            out.extend(hook(constraint, "processors", self.ctx, variant))
        if self.ctx.allowed is not None:
            what = "the plan (" + ", ".join(["form", *[c.name for c in self.constraints], *(["keywords"] if self.placements else [])]) + ")"
            out.append(PlanMask(self.ctx.allowed, self.ctx.allowed.shape[1], what, self.ctx.form))
        return out


def unique(constraints: Sequence[Constraint]) -> list[Constraint]:
    """``constraints`` with repeats left out: the same class with the same options is the same rule."""
    out: list[Constraint] = []
    seen: set = set()
    for constraint in constraints:
        key = (type(constraint), repr(sorted(constraint.options.items(), key=lambda item: item[0])))
        if key not in seen:
            seen.add(key)
            out.append(constraint)
    return out


def fix(ctx: PlanContext, line: int, col: int, token: int) -> None:
    """Place ``token`` at ``(line, col)``: the mask there allows it alone."""
    keep = bool(ctx.allowed[line, col, token])
    ctx.allowed[line, col] = False
    ctx.allowed[line, col, token] = keep
    ctx.fixed[(line, col)] = int(token)


def forbid_runs(ctx: PlanContext, run: int | None) -> str | None:
    """Keep the soft no-repeat rule from ever having to yield: where the plan leaves a line's position only one
    character (placed, or the only one its mask allows) and the positions around it would make a run of more than
    ``run`` of that character, the free position of the run may not take it. None, or why the plan cannot avoid a
    run (a placed run, or a position left with nothing)."""
    if run is None or ctx.allowed is None:
        return None
    allowed = ctx.allowed
    lines, cols = allowed.shape[:2]
    for _ in range(cols):  # a narrowed position can leave one character; a few rounds reach the fixed point
        counts = allowed.sum(axis=2)
        only = np.where(counts == 1, allowed.argmax(axis=2), -1)
        changed = False
        for line in range(lines):
            for start in range(cols - run):
                window = only[line, start : start + run + 1]
                free = np.flatnonzero(window < 0)
                held = window[window >= 0]
                if len(held) < run or (held != held[0]).any():
                    continue
                token = int(held[0])
                if not len(free):
                    char = ctx.vocab.tokens[token]
                    return f"the plan puts 「{char}」 {run + 1} times in a row in line {line + 1}"
                col = start + int(free[0])
                if allowed[line, col, token]:
                    allowed[line, col, token] = False
                    changed = True
        spot = empty_position(ctx)
        if spot is not None:
            return f"no character fits line {spot[0] + 1}, character {spot[1] + 1} without a character {run + 1} times in a row"
        if not changed:
            return None
    return None


def empty_position(ctx: PlanContext) -> tuple[int, int] | None:
    if ctx.allowed is None:
        return None
    empty = np.argwhere(~ctx.allowed.any(axis=2))
    return (int(empty[0][0]), int(empty[0][1])) if len(empty) else None


def _places(ctx: PlanContext, ids: Sequence[int]) -> list[tuple[int, int]]:
    allowed = ctx.allowed
    lines, cols = allowed.shape[:2]
    span = cols - len(ids) + 1
    if span <= 0:
        return []
    ok = np.ones((lines, span), dtype=bool)
    for j, token in enumerate(ids):
        ok &= allowed[:, j : j + span, token]
    found = [(int(a), int(b)) for a, b in np.argwhere(ok)]
    order = ctx.rng.permutation(len(found)) if found else []
    found = [found[i] for i in order]
    # places the begin text / acrostic already fill come first (the keyword is then written once), then places on
    # a verse's usual word boundaries (it reads 2+2+1, 2+1+2, 2+2+3: a word starts at an even column or ends the
    # line), then the rest; random order within each
    size = len(ids)

    def rank(place: tuple[int, int]) -> int:
        line, col = place
        if all((line, col + j) in ctx.fixed for j in range(size)):
            return 0
        return 1 if col % 2 == 0 or col + size == cols else 2

    found.sort(key=rank)
    return found


def place_keywords(ctx: PlanContext, keywords: Sequence[str]) -> Iterator[tuple[PlanContext, dict]]:
    """Every way (in random order, up to the search limits) to place ``keywords`` in ``ctx``: copies of it."""
    if not keywords:
        yield ctx, {}
        return
    vocab = ctx.vocab
    order = sorted(keywords, key=len, reverse=True)  # the longest are the hardest to place
    ids = [[vocab.id(c) for c in k] for k in order]
    nodes = [0]

    def search(i: int, current: PlanContext, placed: dict):
        if i == len(order):
            yield current, dict(placed)
            return
        for line, col in _places(current, ids[i]):
            nodes[0] += 1
            if nodes[0] > MAX_NODES:
                return
            checkpoint()  # a request stopped from outside (tangpoet.decoding.cancellation) stops here
            nxt = current.copy()
            for j, token in enumerate(ids[i]):
                fix(nxt, line, col + j, token)
            placed[order[i]] = (line, col)
            yield from search(i + 1, nxt, placed)
            del placed[order[i]]

    yield from search(0, ctx, {})


def _no_place_reason(ctx: PlanContext, keywords: Sequence[str], names: Sequence[str]) -> str:
    vocab = ctx.vocab
    under = ", ".join(["the form", *names])
    held = [w for w, v in (("the begin text", ctx.begin), ("the acrostic", ctx.acrostic)) if v]
    if held:
        under += " with " + " and ".join(held)
    for keyword in sorted(keywords, key=len, reverse=True):
        if not _places(ctx, [vocab.id(c) for c in keyword]):
            return f"keyword {keyword!r} has no place in {ctx.form.name} (under {under})"
    return f"the keywords {'、'.join(keywords)} do not all fit in {ctx.form.name} (under {under})"


def make_plan(base: PlanContext, constraints: Sequence[Constraint], keywords: Sequence[str] = ()) -> Plan:
    """The first plan (variants + keyword places) that works; ConstraintError with the most specific reason if none.

    Identical constraints (same class, same options) are planned once. The work is bounded: more than
    :data:`~tangpoet.limits.MAX_PLAN_STEPS` calls of the constraints' ``restrict()`` / ``feasible()`` is refused in
    one line (a request of many constraints that disagree would otherwise try every combination of their variants),
    with the most specific reason met so far.
    """
    from tangpoet.limits import MAX_PLAN_STEPS

    constraints = unique(constraints)
    steps = [0]

    class OverBudget(Exception):
        pass

    def step() -> None:
        checkpoint()  # a request stopped from outside (its client left, its time ran out) stops here
        steps[0] += 1
        if steps[0] > MAX_PLAN_STEPS:
            raise OverBudget

    choices = []
    for constraint in constraints:
        variants = list(hook(constraint, "variants", base))
        if not variants:
            raise ConstraintError(f"constraint {constraint.name!r} has nothing to offer for this request")
        choices.append([variants[i] for i in base.rng.permutation(len(variants))])
    names = [c.name for c in constraints]
    reasons: list[tuple[int, str]] = []  # (specificity, reason)
    try:
        return _search(base, constraints, choices, keywords, names, reasons, step)
    except OverBudget:
        listed = ", ".join(dict.fromkeys(names)) or "the form"
        stopped = f"no plan for {listed} within the planner's budget ({MAX_PLAN_STEPS} steps): ask for fewer constraints or keywords"
        if reasons:
            best = max(r[0] for r in reasons)
            stopped = next(r[1] for r in reasons if r[0] == best) + f" ({stopped})"
        raise ConstraintError(stopped) from None


def hook(constraint: Constraint, method: str, *args):
    """``constraint.method(*args)``; a plugin constraint's own bug (any exception that is not a tangpoet error) becomes
    one line naming the plugin, not a traceback. tangpoet's built-in constraints are not wrapped: their bugs are ours."""
    call = getattr(constraint, method)
    if type(constraint).__module__.split(".")[0] == "tangpoet":
        return call(*args)
    try:
        return call(*args)
    except TangpoetError:
        raise
    except Exception as exc:  # noqa: BLE001 - a third party's code
        detail = first_line(exc)
        raise PluginError(
            f"constraint plugin {constraint.name!r} failed in {method}(): {type(exc).__name__}"
            + (f": {detail}" if detail else "")
        ) from None


def _search(base, constraints, choices, keywords, names, reasons, step) -> Plan:
    """:func:`make_plan`'s search; ``step()`` counts the work (and stops it past the budget)."""
    for combination in itertools.islice(itertools.product(*choices), MAX_COMBINATIONS):
        ctx = base.copy()
        broken = None
        for constraint, variant in zip(constraints, combination):
            step()
            hook(constraint, "restrict", ctx, variant)
            spot = empty_position(ctx)
            if spot is not None:
                broken = f"no character fits line {spot[0] + 1}, character {spot[1] + 1} under {constraint.name}"
                break
        if broken:
            reasons.append((0, broken))
            continue
        tried = 0
        for placed_ctx, placed in place_keywords(ctx, keywords):
            tried += 1
            why = forbid_runs(placed_ctx, placed_ctx.data.get(RUN_KEY))
            for constraint, variant in zip(constraints, combination):
                if why:
                    break
                step()
                why = hook(constraint, "feasible", placed_ctx, variant)
            if why is None:
                placed_ctx.data["keywords.placement"] = placed
                return Plan(placed_ctx, constraints, list(combination), placed)
            reasons.append((2, why))
            if tried >= MAX_PLACEMENTS:
                break
        if tried == 0 and ctx.allowed is not None:
            reasons.append((1, _no_place_reason(ctx, keywords, names)))
    if not reasons:
        raise ConstraintError("the constraints " + ", ".join(names) + " cannot all be met")
    best = max(r[0] for r in reasons)
    raise ConstraintError(next(r[1] for r in reasons if r[0] == best))
