"""Scorers for best-of-N (``write --candidates N``): rank finished candidates, one float each.

Scorers are plugins: the entry-point group ``tangpoet.scorers`` (tangpoet's own built-ins take the same path), one
registry, :data:`SCORERS`. Built-ins: ``likelihood`` (mean log-prob per character) and ``coherence`` (line-to-line
mutual information against an unrelated poem of the same shape). :func:`rerank` scores candidates and keeps the best.

Modules: ``base`` (the contract, :class:`ScoringContext`), ``logprobs`` (teacher-forced log-probs through a step
decoder), ``likelihood``, ``coherence``, ``anchors`` (the coherence scorer's unrelated poems).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from tangpoet.registry import SCORERS  # the one scorer registry, re-exported
from tangpoet.decoding.base import Candidate
from tangpoet.decoding.scoring.base import Scorer, ScoringContext
from tangpoet.registry.base import PluginError

__all__ = ["DEFAULT_SCORER", "SCORERS", "Scorer", "ScoringContext", "get_scorer", "rerank"]

DEFAULT_SCORER = "coherence"


def get_scorer(name: str | Any) -> Any:
    """The scorer registered as ``name`` (a class is instantiated), or ``name`` itself if it already scores."""
    if not isinstance(name, str):
        obj = name
    else:
        obj = SCORERS.get(name)
        if isinstance(obj, type):
            try:
                obj = obj()
            except Exception as exc:  # a plugin's constructor: its own failure, reported by name
                raise PluginError(f"scorer plugin {name!r} failed to start: {type(exc).__name__}: {exc}") from None
    if not callable(getattr(obj, "score", None)):
        raise PluginError(f"scorer {name!r} has no score(candidates, context) method (got {type(obj).__name__})")
    return obj


def rerank(candidates: Sequence[Candidate], scorer, context: ScoringContext, keep: int) -> list[Candidate]:
    """The ``keep`` best ``candidates`` by ``scorer`` (ties keep their order), each with ``score`` = its value."""
    candidates = list(candidates)
    if not candidates:
        return []
    values = list(scorer.score(candidates, context))
    name = getattr(scorer, "name", type(scorer).__name__)
    if len(values) != len(candidates):
        raise PluginError(f"scorer {name!r} returned {len(values)} scores for {len(candidates)} candidates")
    scored = []
    for candidate, value in zip(candidates, values):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise PluginError(f"scorer {name!r} returned {value!r}, not a number") from None
        scored.append(dataclasses.replace(candidate, score=number if not math.isnan(number) else -math.inf))
    return sorted(scored, key=lambda c: -c.score)[:keep]
