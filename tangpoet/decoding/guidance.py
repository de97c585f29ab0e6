"""Title guidance: classifier-free guidance (CFG) of a title-aware model towards its title.

A title-aware model (``fit --titles``) is trained on part of its poems without their title, so it gives two
next-character distributions: given the title (``<eos> title <bos> …``) and without it (``<bos> …``). Guidance
decodes from ::

    log p_g(x) = log_softmax( log p(x | untitled) + γ · (log p(x | title) − log p(x | untitled)) )

γ = 1 is the model given its title; γ > 1 pushes each character further the way the title moves it (Sanchez et
al. 2023, "Stay on topic with Classifier-Free Guidance"; Ho & Salimans 2022 for images). :class:`GuidedStepDecoder`
is a step decoder like any other — decoders, constraints and themes see one row per poem — whose state carries both
streams: the rows given the title and, after them, the same rows without it, stepped in one batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: γ is kept in this range: 1 = the title as the model reads it; above ~3 the poem leaves the language of poems
MIN_GUIDANCE, MAX_GUIDANCE = 1.0, 8.0


def check_guidance(value) -> float:
    """``title_guidance`` as given, one line when it is not a number from :data:`MIN_GUIDANCE` to :data:`MAX_GUIDANCE`."""
    from tangpoet.errors import DecoderOptionError

    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) \
            or not MIN_GUIDANCE <= value <= MAX_GUIDANCE:
        raise DecoderOptionError(
            f"title guidance takes a number from {MIN_GUIDANCE:g} (the title as the model reads it) to "
            f"{MAX_GUIDANCE:g}, got {value!r}"
        )
    return float(value)


def _double(state, other):
    return [tuple(np.concatenate([a, b], axis=0) for a, b in zip(mine, theirs)) for mine, theirs in zip(state, other)]


class GuidedStepDecoder:
    """``plain`` (an untitled :class:`~tangpoet.decoding.stepper.StepDecoder`) guided towards ``context`` (``<eos>
    title``) with strength ``guidance``: :meth:`step` returns the guided log-probabilities of each row."""

    def __init__(self, plain, context: Sequence[int], guidance: float):
        from tangpoet.decoding.scoring.request import hold_stream

        self.plain = plain  # any step decoder (a server's batching proxy too): both streams step through it
        self.context = np.asarray(context, dtype=np.int32).reshape(-1)  # as a titled step decoder has it
        self.guidance = float(guidance)
        self.model, self.vocab, self.vocab_size = plain.model, plain.vocab, plain.vocab_size
        self.state_counts = plain.state_counts
        hold_stream(plain)  # its rows are two streams, not poems: a server sends the poems when they are written

    def initial_state(self, batch: int):
        return _double(self.plain.initial_state(batch), self.plain.initial_state(batch))

    def start(self, prefix_ids: Sequence[int], batch: int = 1):
        """The state after ``prefix_ids`` for ``batch`` rows: given the title, then without it."""
        given = self.plain.start(prefix_ids, batch, context=self.context)
        return _double(given, self.plain.start(prefix_ids, batch, context=()))

    def step(self, tokens, state):
        """Feed ``tokens`` (one per row) to both streams in one batch; the guided log-probabilities and the state."""
        tokens = np.asarray(tokens, dtype=np.int32).reshape(-1)
        log_probs, state = self.plain.step(np.concatenate([tokens, tokens]), state)
        rows = tokens.shape[0]
        given, untitled = log_probs[:rows].astype(np.float64), log_probs[rows:].astype(np.float64)
        with np.errstate(invalid="ignore"):  # -inf − -inf where both streams rule a token out: it stays out
            mixed = untitled + self.guidance * (given - untitled)
        mixed = np.where(np.isneginf(given) | np.isneginf(untitled), -np.inf, mixed)
        top = mixed.max(axis=-1, keepdims=True)
        mixed = mixed - (top + np.log(np.exp(mixed - top).sum(axis=-1, keepdims=True)))
        return mixed.astype(np.float32), state

    def prime(self, prefix_ids: Sequence[int], batch: int = 1):
        """:meth:`start` then :meth:`step`, as :meth:`StepDecoder.prime <tangpoet.decoding.stepper.StepDecoder.prime>`."""
        from tangpoet.decoding.stepper import StepDecoder

        return StepDecoder.prime(self, prefix_ids, batch)

    def reorder(self, state, indices):
        """Rows gathered by ``indices`` in both streams."""
        from tangpoet.decoding.stepper import StepDecoder

        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        half = state[0][0].shape[0] // 2
        return StepDecoder.reorder(state, np.concatenate([indices, indices + half]))

    def run_rollout(self, rollout) -> None:
        rollout.run(self)
