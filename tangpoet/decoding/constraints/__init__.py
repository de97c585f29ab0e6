"""Constraints: logits processors that mask log-probabilities before a decoder chooses, and the same rules checked
on finished poems.

A processor is called with the tokens generated so far for each row (``history``: int array ``[rows, t]``, the poem's
ids without ``<bos>``, the prompt included) and the log-probs ``[rows, vocab]`` (numpy float32) and returns them with
forbidden tokens set to ``-inf``. Masking only ever writes ``-inf``, so an allowed token keeps the model's
log-probability and scores stay comparable.

Processors compose into a :class:`ConstraintChain`. *Hard* processors (form, acrostic, forced prefix, banned
tokens, free verse, keywords, plugin rules) always apply: they make the poem right by construction. *Soft* ones
(no-repeat) are dropped for a row where they would leave nothing allowed — which an accepted request never needs.
Named rule families are :class:`Constraint` subclasses registered under the entry-point group
``tangpoet.constraints`` (built-ins: ``form``, ``verse`` — the free-form twin of ``form``, on by default without a
form —, ``acrostic``, ``begin``, ``no-repeat``, ``keywords``); :func:`build_constraints` plans a request (see
:mod:`~tangpoet.decoding.constraints.plan`) and refuses one that cannot be met in one line before decoding.

Modules: ``base`` (the contract), ``classes`` (token classes), ``tokens`` (banned tokens, end rule), ``form``,
``acrostic``, ``prefix`` (begin), ``repeat``, ``keywords``, ``verse`` (free verse), ``chain``, ``plan``, ``named``
(registry, specs), ``build``.
"""

from tangpoet.decoding.constraints.acrostic import FREE_ACROSTIC_LENGTHS, Acrostic, AcrosticConstraint
from tangpoet.decoding.constraints.base import (
    DEFAULT_MAX_LEN,
    NEG_INF,
    Constraint,
    LogitsProcessor,
    PlanContext,
    Violation,
)
from tangpoet.decoding.constraints.build import (
    Constraints,
    build_constraints,
    check_text,
    resolve_constraints,
    validate,
    validate_prompt,
)
from tangpoet.decoding.constraints.chain import ConstraintChain
from tangpoet.decoding.constraints.classes import TokenClasses, is_punctuation
from tangpoet.decoding.constraints.form import FormConstraint, LineForm, detect_form, form_violations, split_verses
from tangpoet.decoding.constraints.keywords import MAX_KEYWORD, FreeKeywords, KeywordsConstraint, parse_keywords
from tangpoet.decoding.constraints.named import CONSTRAINTS, get_constraint, parse_spec, to_constraint
from tangpoet.decoding.constraints.plan import Plan, PlanMask, make_plan
from tangpoet.decoding.constraints.prefix import BeginConstraint, ForcedPrefix
from tangpoet.decoding.constraints.repeat import NoRepeat, NoRepeatConstraint, NoRepeatNGram
from tangpoet.decoding.constraints.tokens import BannedTokens, FreeEnd
from tangpoet.decoding.constraints.verse import FreeVerse, VerseConstraint

__all__ = [
    "CONSTRAINTS",
    "DEFAULT_MAX_LEN",
    "FREE_ACROSTIC_LENGTHS",
    "MAX_KEYWORD",
    "NEG_INF",
    "Acrostic",
    "AcrosticConstraint",
    "BannedTokens",
    "BeginConstraint",
    "Constraint",
    "ConstraintChain",
    "Constraints",
    "ForcedPrefix",
    "FormConstraint",
    "FreeEnd",
    "FreeKeywords",
    "FreeVerse",
    "KeywordsConstraint",
    "LineForm",
    "LogitsProcessor",
    "NoRepeat",
    "NoRepeatConstraint",
    "NoRepeatNGram",
    "Plan",
    "PlanContext",
    "PlanMask",
    "TokenClasses",
    "VerseConstraint",
    "Violation",
    "build_constraints",
    "check_text",
    "detect_form",
    "form_violations",
    "get_constraint",
    "is_punctuation",
    "make_plan",
    "parse_keywords",
    "parse_spec",
    "resolve_constraints",
    "split_verses",
    "to_constraint",
    "validate",
    "validate_prompt",
]
