"""``ConstraintChain``: processors applied in order, hard ones always, soft ones where they leave something."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tangpoet.decoding.constraints.base import LogitsProcessor
from tangpoet.decoding.forms import Form
from tangpoet.errors import ConstraintError


class ConstraintChain:
    """Processors applied in order: the hard ones, then each soft one where it leaves something allowed.

    ``form`` is the regulated form the chain enforces (None without ``--form``), for plugins that read it."""

    def __init__(self, processors: Sequence[LogitsProcessor] = (), form: Form | None = None):
        self.processors = list(processors)
        self.form = form

    def __iter__(self):
        return iter(self.processors)

    def __len__(self) -> int:
        return len(self.processors)

    def apply_hard(self, history: np.ndarray, log_probs: np.ndarray) -> np.ndarray:
        out = np.array(log_probs, dtype=np.float32, copy=True)
        for processor in self.processors:
            if processor.hard:
                out = processor(history, out)
        return out

    def __call__(self, history, log_probs) -> np.ndarray:
        history = np.asarray(history, dtype=np.int64).reshape(np.shape(log_probs)[0], -1)
        out = self.apply_hard(history, log_probs)
        dead = ~np.isfinite(out).any(axis=1)
        if dead.any():
            raise ConstraintError(
                "no token satisfies "
                + " and ".join(p.describe() for p in self.processors if p.hard)
                + f" after {history.shape[1]} tokens"
            )
        for processor in self.processors:
            if not processor.hard:
                masked = processor(history, out.copy())
                ok = np.isfinite(masked).any(axis=1)
                out = masked if ok.all() else np.where(ok[:, None], masked, out)
        return out

    def blocker(self, history: np.ndarray, token: int, vocab_size: int) -> LogitsProcessor | None:
        """The first hard processor that forbids ``token`` after ``history`` (one row), or None."""
        history = np.asarray(history, dtype=np.int64).reshape(1, -1)
        for processor in self.processors:
            if processor.hard:
                probe = np.zeros((1, vocab_size), dtype=np.float32)
                if not np.isfinite(processor(history, probe)[0, token]):
                    return processor
        return None
