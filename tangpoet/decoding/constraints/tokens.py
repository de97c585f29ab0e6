"""Token-level rules every poem follows: banned special tokens, and (without a form) the end rule."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tangpoet.decoding.constraints.base import NEG_INF, LogitsProcessor
from tangpoet.decoding.constraints.classes import TokenClasses
from tangpoet.data.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID


class BannedTokens(LogitsProcessor):
    """Tokens that are never emitted (by default ``<pad>``, ``<unk>``, ``<bos>``)."""

    def __init__(self, ids: Sequence[int] = (PAD_ID, UNK_ID, BOS_ID), reason: str = "special tokens"):
        self.ids = np.asarray(list(ids), dtype=np.int64)
        self.reason = reason

    def __call__(self, history, log_probs):
        log_probs[:, self.ids] = NEG_INF
        return log_probs

    def describe(self) -> str:
        return self.reason


class FreeEnd(LogitsProcessor):
    """Without a form, ``<eos>`` is allowed only right after ``。？！``."""

    def __init__(self, classes: TokenClasses):
        self.classes = classes

    def __call__(self, history, log_probs):
        if history.shape[1] == 0:
            log_probs[:, EOS_ID] = NEG_INF
        else:
            log_probs[~self.classes.sentence_end[history[:, -1]], EOS_ID] = NEG_INF
        return log_probs

    def describe(self) -> str:
        return "the end rule (a poem ends after 。？！)"
