"""Revision: a poem is not only judged but mended — the same constraints and model that write and check it.

- :func:`suggest` / :func:`suggest_report`: for each broken rule at a character, the best replacements that mend it
  and break nothing else, ranked by the model's likelihood of the whole poem (``tangpoet check --suggest``);
- :func:`revise`: rounds that re-choose the characters the model finds least likely, under every rule of the poem's
  form (``tangpoet revise``, ``tangpoet write --polish N``);
- :mod:`~tangpoet.revision.rescoring`: the whole-poem rescoring both use (one pass, the left context's state shared,
  candidates batched and pruned as the right context is read).
"""

from tangpoet.revision.polish import Revision, parse_keep, revise, revision_constraints
from tangpoet.revision.rescoring import FULL, Ranked, Schedule, rescore
from tangpoet.revision.suggest import (
    DEFAULT_SUGGESTIONS,
    MAX_SUGGESTIONS,
    Change,
    Mend,
    Option,
    suggest,
    suggest_report,
)

__all__ = [
    "DEFAULT_SUGGESTIONS",
    "FULL",
    "MAX_SUGGESTIONS",
    "Change",
    "Mend",
    "Option",
    "Ranked",
    "Revision",
    "Schedule",
    "parse_keep",
    "rescore",
    "revise",
    "revision_constraints",
    "suggest",
    "suggest_report",
]
