"""Whole-poem log-probabilities of finished texts (teacher-forced, ``<eos>`` included), batched."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tangpoet.data.vocab import EOS_ID
from tangpoet.decoding.scoring.logprobs import token_log_probs


def token_scores(stepper, ids: Sequence[int]) -> np.ndarray:
    """``log p`` of each token of ``ids`` (no ``<bos>``) and of the ``<eos>`` after them."""
    sequence = np.concatenate([np.asarray(ids, dtype=np.int64).reshape(-1), [EOS_ID]])
    return token_log_probs(stepper, [sequence])[0]


def poem_log_prob(stepper, ids):
    """The log-probability of a poem's ids (a float), or of each of a list of them (an array)."""
    if len(ids) and not np.isscalar(ids[0]) and np.ndim(ids[0]) == 1:
        sequences = [np.concatenate([np.asarray(i, dtype=np.int64).reshape(-1), [EOS_ID]]) for i in ids]
        return np.asarray([float(s.sum()) for s in token_log_probs(stepper, sequences)])
    return float(token_scores(stepper, ids).sum())
