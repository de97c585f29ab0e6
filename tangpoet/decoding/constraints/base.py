"""The constraint contract: logits processors (masks applied while decoding), violations (the same rules checked on
a finished poem), the plan context, and :class:`Constraint`, the base class of every named rule family.

A constraint plugin registers a :class:`Constraint` subclass under the entry-point group ``tangpoet.constraints``.
Before decoding, the planner (:mod:`~tangpoet.decoding.constraints.plan`) builds one :class:`PlanContext` per
request, lets every requested constraint narrow the static per-position masks (:meth:`Constraint.restrict`), places
the keywords where every mask allows them, asks :meth:`Constraint.feasible`, and collects the dynamic processors
(:meth:`Constraint.processors`). :meth:`Constraint.check` applies the same rules to a finished poem
(``tangpoet check``); :meth:`Constraint.annotate` gives per-character marks for printing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any, ClassVar

import numpy as np

from tangpoet.decoding.constraints.classes import TokenClasses
from tangpoet.decoding.forms import Form
from tangpoet.errors import ConstraintError
from tangpoet.data.vocab import Vocabulary

NEG_INF = np.float32(-np.inf)
DEFAULT_MAX_LEN = 128

__all__ = [
    "DEFAULT_MAX_LEN",
    "NEG_INF",
    "Constraint",
    "LogitsProcessor",
    "PlanContext",
    "TokenClasses",
    "Violation",
]


class LogitsProcessor:
    """Base class: ``__call__(history, log_probs) -> log_probs`` with forbidden tokens at ``-inf``.

    ``history``: int64 ``[rows, t]``, the poem's ids so far (prompt included, no ``<bos>``); ``log_probs``: float32
    ``[rows, V]``. A processor may write into ``log_probs`` (the chain hands each one an array it owns); it only ever
    writes ``-inf``, so an allowed token keeps the model's log-probability. ``hard = False`` marks a soft processor,
    dropped for a row where it would leave nothing allowed.
    """

    hard = True

    def __call__(self, history: np.ndarray, log_probs: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        return type(self).__name__


@dataclass
class Violation:
    """One broken rule in a finished poem."""

    rule: str  # "length", "punctuation", "rhyme", "rhyme-repeat", "tone", "nian", "dui", "gu-ping", "san-ping-wei",
    #            "unknown-tone", "keyword", "acrostic", "begin", "repeat"
    line: int | None  # 0-based verse index, None = the whole poem
    col: int | None  # 0-based character index within the verse (punctuation excluded)
    message: str  # one readable line

    def to_dict(self) -> dict:
        return {"rule": self.rule, "line": self.line, "col": self.col, "message": self.message}


@dataclass
class PlanContext:
    """What the planner knows about one request; constraints read it and narrow ``allowed``."""

    vocab: Vocabulary
    classes: TokenClasses
    form: Form | None  # None = free form
    begin: str
    acrostic: str
    keywords: tuple[str, ...]
    max_len: int
    rng: np.random.Generator  # seeded: choose among equally valid plans with it
    # Fixed form only (None otherwise): static masks over the vocabulary, [lines, cols, V] bool. Positions count
    # characters only (the form places the punctuation). Starts as "any character token"; begin / acrostic /
    # keywords and each constraint's restrict() narrow it (logical AND only).
    allowed: np.ndarray | None = None
    fixed: dict[tuple[int, int], int] = field(default_factory=dict)  # (line, col) -> id placed by begin/acrostic/keywords
    data: dict[str, Any] = field(default_factory=dict)  # plan results others may read, e.g. data["prosody.pattern"]

    def copy(self) -> PlanContext:
        """A copy whose ``allowed``, ``fixed`` and ``data`` can be changed without touching this one."""
        return PlanContext(
            self.vocab,
            self.classes,
            self.form,
            self.begin,
            self.acrostic,
            self.keywords,
            self.max_len,
            self.rng,
            None if self.allowed is None else self.allowed.copy(),
            dict(self.fixed),
            dict(self.data),
        )


class Constraint:
    """A named rule family. Registered under the entry-point group ``tangpoet.constraints`` (value = the class).

    Subclasses set ``name`` (and optionally ``aliases``, ``needs_form``, ``option_names``) and override what they
    need: :meth:`restrict` (static masks), :meth:`processors` (dynamic masks), :meth:`check` (the same rules on a
    finished poem) and :meth:`annotate` (per-character marks for ``tangpoet check``).

    Guarantee every hard constraint keeps: given ``ctx.allowed`` / ``ctx.fixed`` of the chosen plan, its processors
    never leave a row with no allowed token; a request that can never be met is refused before decoding.
    """

    name: ClassVar[str] = "constraint"
    aliases: ClassVar[tuple[str, ...]] = ()
    needs_form: ClassVar[bool] = False  # the planner refuses it in one line without --form
    option_names: ClassVar[tuple[str, ...]] = ()  # e.g. ("strict", "pattern")
    description: ClassVar[str] = ""

    def __init__(self, **options: Any):
        unknown = sorted(set(options) - set(self.option_names))
        if unknown:
            takes = ", ".join(self.option_names) if self.option_names else "no options"
            raise ConstraintError(
                f"constraint {self.name!r} does not take {', '.join(unknown)} (it takes {takes})"
            )
        self.options = dict(options)

    def int_option(self, name: str, default: int, low: int, high: int) -> int:
        """Option ``name`` as a whole number in ``[low, high]`` (``default`` when not given). One check whatever the
        spelling: ``2`` from JSON and ``"2"`` from a ``NAME:opt=2`` spec are the same; ``2.5``, ``"2.5"``, ``true``
        and numbers out of range are refused in one line."""
        value = self.options.get(name, default)
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,20}\s*", value):
            value = int(value)
        if isinstance(value, bool):
            raise ConstraintError(f"option {name} needs a number, e.g. {name}={max(low, 2)}")
        if not isinstance(value, Integral):
            shown = str(value) if len(str(value)) <= 40 else str(value)[:39] + "…"
            raise ConstraintError(f"option {name} must be a whole number, got {shown}")
        if not low <= value <= high:
            raise ConstraintError(f"option {name} must be from {low:,} to {high:,}, got {value:,}")
        return int(value)

    def text_option(self, name: str) -> str | None:
        """Option ``name`` as text; ``None`` when not given or given bare (``NAME:text`` sets it to ``True``)."""
        value = self.options.get(name)
        return None if value in (None, True) else str(value)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({shown})"

    def variants(self, ctx: PlanContext) -> Sequence[Any]:
        """Alternatives (e.g. tonal patterns); the planner tries combinations (rng-shuffled) until one is feasible."""
        return [None]

    def restrict(self, ctx: PlanContext, variant: Any) -> None:
        """Narrow ``ctx.allowed`` statically for this variant (logical AND only)."""

    def feasible(self, ctx: PlanContext, variant: Any) -> str | None:
        """After the keywords are placed: None, or why this plan cannot work (one line)."""
        return None

    def processors(self, ctx: PlanContext, variant: Any) -> list[LogitsProcessor]:
        """Dynamic masks applied while decoding."""
        return []

    def check(self, text: str, form: Form | None) -> list[Violation]:
        """The same rules, on a finished poem (simplified characters, punctuation included)."""
        return []

    def annotate(self, text: str, form: Form | None) -> dict | None:
        """Per-character marks for ``tangpoet check`` (see the contract), or None."""
        return None


def check_text(label: str, text: str) -> str:
    """``text`` itself; a one-line error if it holds lone surrogates (bytes that were not valid UTF-8)."""
    if any(0xD800 <= ord(char) <= 0xDFFF for char in text):
        raise ConstraintError(
            f"{label} is not valid UTF-8 text (check your terminal's encoding, e.g. LANG=C.UTF-8)"
        )
    return text
