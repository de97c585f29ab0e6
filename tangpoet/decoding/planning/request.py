"""``write(theme=...)``: check the theme before any work, plan it for the model, read back what the planner placed."""

from __future__ import annotations

import unicodedata
from typing import Any

import numpy as np

from tangpoet.errors import ConstraintError
from tangpoet.limits import MAX_THEME_LENGTH


def check_theme(theme: str | None) -> str:
    """The theme without spaces (``""``: none); one line for text that is not one."""
    if theme is None:
        return ""
    if not isinstance(theme, str):
        raise ConstraintError(f"a theme is text, got {type(theme).__name__}")
    from tangpoet.decoding.constraints import check_text, is_punctuation

    check_text("theme", theme)
    theme = "".join(theme.split())
    if len(theme) > MAX_THEME_LENGTH:
        raise ConstraintError(f"the theme has {len(theme)} characters; a theme is a word or a short phrase of at most {MAX_THEME_LENGTH}")
    if any(is_punctuation(c) for c in theme):
        raise ConstraintError(f"a theme is characters only, without punctuation: {theme!r}")
    marks = [c for c in theme if not unicodedata.category(c).startswith("L")]  # $, ~, 1, emoji: never silently dropped
    if marks:
        raise ConstraintError(f"a theme is characters only: {marks[0]!r} in {theme!r} is not one")
    return theme


def theme_constraint(theme: str, vocab, form, acrostic: str, table: Any, seed: int, draw: int = 0):
    """``(form, ThemeConstraint)``: the plan of ``theme`` for a poem of ``form`` (default :data:`DEFAULT_THEME_FORM`
    when there is neither a form nor an acrostic) with the model's ``vocab``, drawn with the request's seed (``draw``
    > 0: another plan of the same request, for another group of candidates)."""
    from tangpoet.decoding.forms import get_form
    from tangpoet.decoding.planning import DEFAULT_THEME_FORM, load_table, plan_theme
    from tangpoet.decoding.planning.constraint import ThemeConstraint, encode_lines

    if not form and not acrostic:
        form = DEFAULT_THEME_FORM
    shape = get_form(form) if form else None
    lines = shape.lines if shape is not None else len(acrostic)
    table = load_table(table)
    plan = plan_theme(theme, lines, table, np.random.default_rng([seed, 13, draw] if draw else [seed, 13]), known=lambda c: c in vocab,
                      chars=shape.chars if shape is not None else None)
    return form, ThemeConstraint(table, lines=encode_lines(plan.lines()), theme=theme)


def placed_plan(constraints) -> tuple[str, ...]:
    """The keyword placed in each line by the theme plan of built ``constraints`` (empty: no theme)."""
    from tangpoet.decoding.planning.constraint import PLACED

    plan = getattr(constraints, "plan", None)
    return tuple(plan.ctx.data.get(PLACED, ())) if plan is not None else ()
