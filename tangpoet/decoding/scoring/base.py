"""The Scorer contract: rank finished candidates, one float each (higher is better).

A scorer plugin registers a :class:`Scorer` subclass (or an instance with a ``score`` method) under the entry-point
group ``tangpoet.scorers``. :meth:`Scorer.score` gets the candidates and a :class:`ScoringContext`, through which it
reaches the model: :meth:`ScoringContext.token_log_probs` runs sequences through the request's own step decoder (so
a server's scoring rows share its batch like any other rows). Keras is not imported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from tangpoet.decoding.base import Candidate
from tangpoet.data.vocab import EOS_ID


class Scorer:
    """Base class of scorers. Subclasses set ``name`` and ``description`` and override :meth:`score`."""

    name: ClassVar[str] = "scorer"
    description: ClassVar[str] = ""

    def score(self, candidates: Sequence[Candidate], context: ScoringContext) -> Sequence[float]:
        """One float per candidate, in order; higher ranks first."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@dataclass
class ScoringContext:
    """What a scorer may use: the step decoder (the model), its vocabulary, and a cache shared by the scorers of
    one request (teacher-forced log-probs are computed once per sequence)."""

    stepper: Any  # a StepDecoder (or a server's proxy of one): prime / step
    cache: dict = field(default_factory=dict)

    @property
    def vocab(self):
        return self.stepper.vocab

    @property
    def model(self):
        return self.stepper.model

    def token_log_probs(self, sequences: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """Per sequence (ids without ``<bos>``), the model's log-probability of each token given ``<bos>`` and the
        tokens before it; cached per sequence."""
        from tangpoet.decoding.scoring.logprobs import token_log_probs

        keys = [tuple(int(t) for t in s) for s in sequences]
        missing = list(dict.fromkeys(k for k in keys if k not in self.cache))
        if missing:
            for key, values in zip(missing, token_log_probs(self.stepper, missing)):
                self.cache[key] = values
        return [self.cache[k] for k in keys]


def full_sequence(candidate: Candidate) -> tuple[int, ...]:
    """The candidate's ids as the model saw them: the poem, then ``<eos>`` when it ended by itself."""
    return tuple(candidate.tokens) + ((EOS_ID,) if candidate.finished else ())
