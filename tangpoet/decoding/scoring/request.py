"""Best-of-N in a ``write()`` request: check ``candidates`` / ``scorer`` before any work, rank what was written."""

from __future__ import annotations

from typing import Any

from tangpoet.errors import DecoderOptionError
from tangpoet.limits import MAX_CANDIDATES, check_int


def best_of_n(num: int, candidates: int | None, scorer: Any) -> tuple[int, Any]:
    """``(rows to write, scorer or None)``: ``candidates`` rows (default ``num``) ranked by ``scorer`` (default
    :data:`~tangpoet.decoding.scoring.DEFAULT_SCORER`) when either is given. One-line errors: a count out of range,
    fewer candidates than poems, a scorer with nothing to rank (one poem, no candidates), an unknown scorer (with the
    closest name)."""
    if candidates is None and scorer is None:
        return num, None
    from tangpoet.decoding.scoring import DEFAULT_SCORER, get_scorer

    rows = num if candidates is None else check_int("the number of candidates", candidates, 1, MAX_CANDIDATES)
    if rows < num:
        raise DecoderOptionError(f"{num} poems asked for from {rows} candidates: ask for at least as many candidates")
    chosen = get_scorer(DEFAULT_SCORER if scorer is None else scorer)
    if candidates is None and num <= 1:  # one poem and no candidates: nothing to rank, the scorer would do nothing
        raise DecoderOptionError("a scorer chooses among candidates: ask for candidates as well (e.g. 8 of them)")
    return rows, chosen


def hold_stream(stepper) -> None:
    """The rows about to be written are candidates, not the poem: a streaming step decoder (a server's) sends the
    chosen poems when they are ranked, like a search's."""
    mark = getattr(stepper, "mark_search", None)
    if callable(mark):
        mark()


def rank(poems, scorer, stepper, keep: int):
    """The ``keep`` best of ``poems`` by ``scorer``, the model reached through ``stepper``."""
    from tangpoet.decoding.scoring import ScoringContext, rerank

    return rerank(poems, scorer, ScoringContext(stepper), keep)
