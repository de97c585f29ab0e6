"""The Decoder contract.

Like keras-hub's samplers, a simple strategy overrides one method, :meth:`Decoder.choose` (pick the next token of
each row from processed log-probs); a search strategy (beam) overrides the whole loop, :meth:`Decoder.decode`.
Every decoder takes the step decoder, the prompt, the constraint chain, a max length and a seeded numpy generator,
and returns ranked :class:`Candidate` s. Keras is not imported here: log-probs arrive as numpy arrays.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from tangpoet.errors import DecoderOptionError, OptionError
from tangpoet.data.vocab import BOS_ID, EOS_ID, PAD_ID
from tangpoet.decoding.rows import RowChains


@dataclass(frozen=True)
class Candidate:
    """One written poem."""

    text: str
    tokens: tuple[int, ...]  # the poem's ids, prompt included, without <bos>/<eos>
    score: float  # what candidates are ranked by (higher is better): log_prob / generated ** length_penalty
    log_prob: float  # summed model log-probability of the generated tokens (<eos> included, prompt not)
    finished: bool  # ended with <eos>; False when the max length cut it
    plan: tuple[str, ...] = ()  # write --theme: the keyword of each line it was written with (empty: no plan)
    title: str = ""  # write --title: the title it was written to (given, or written by the model: --title auto)
    stanza_break: int | None = None  # a ci: the verse (0-based) its second stanza (阕) begins with; None: one stanza


def length_normalised(log_prob: float, generated: int, length_penalty: float) -> float:
    return float(log_prob) / (max(int(generated), 1) ** float(length_penalty))


class Decoder:
    """Base class for decoders; ``options`` names the keyword options a subclass accepts (with their checks)."""

    name: ClassVar[str] = "decoder"
    options: ClassVar[tuple[str, ...]] = ()
    #: ``score`` of sampled/greedy candidates is the mean log-probability per generated token.
    length_penalty: float = 1.0
    #: rows are independent samples (each may be written under its own chain: :mod:`tangpoet.decoding.rows`)
    independent_rows: ClassVar[bool] = False

    def __init__(self, **options: Any):
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise OptionError(
                f"decoder {self.name!r} does not take ",
                *_listed(unknown),
                " (it takes ",
                *(_listed(self.options) if self.options else ["no options"]),
                ")",
            )

    def __repr__(self) -> str:
        shown = ", ".join(f"{key}={getattr(self, key)!r}" for key in self.options)
        return f"{type(self).__name__}({shown})"

    def validate(self, num: int) -> None:
        """Refuse a request this decoder cannot serve (e.g. more poems than beams) before any work starts."""

    # -- the one method a simple strategy overrides ---------------------------------------------------------
    def choose(self, log_probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Next token per row from processed log-probs ``[rows, vocab]`` (forbidden tokens are ``-inf``)."""
        raise NotImplementedError

    def batch_key(self):
        """Equal keys: decoders whose choices for many requests' rows can be made in one :meth:`choose_many` call
        (a server batching requests); ``None``: this one chooses alone."""
        return None

    def choose_many(self, processed: Sequence[np.ndarray], rngs: Sequence[np.random.Generator]) -> list[np.ndarray]:
        """:meth:`choose` for several requests' rows at once, each with its own generator: the same tokens as
        choosing for each alone."""
        return [self.choose(rows, rng) for rows, rng in zip(processed, rngs)]

    # -- the loop; a search strategy overrides it -------------------------------------------------------------
    def decode(
        self,
        stepper,
        prompt: Sequence[int],
        chain,
        max_len: int,
        rng: np.random.Generator,
        num: int = 1,
    ) -> list[Candidate]:
        """``num`` rows stepped as one batch until each ends (``<eos>``) or reaches ``max_len`` tokens.

        The loop is a :class:`Rollout`, handed to the step decoder's
        :meth:`~tangpoet.decoding.stepper.StepDecoder.run_rollout` (part of the step decoder contract): a plain step
        decoder steps it alone; the server's steps many requests' rollouts in one batch.
        """
        rollout = Rollout(self, prompt, chain, max_len, rng, num)
        stepper.run_rollout(rollout)
        return rollout.result(stepper.vocab)

    def rank(self, vocab, history, log_prob, generated, finished) -> list[Candidate]:
        candidates = []
        for r in range(history.shape[0]):
            tokens = tuple(int(t) for t in history[r] if t not in (PAD_ID, EOS_ID))
            candidates.append(
                Candidate(
                    text=vocab.decode(tokens),
                    tokens=tokens,
                    score=length_normalised(log_prob[r], generated[r], self.length_penalty),
                    log_prob=float(log_prob[r]),
                    finished=bool(finished[r]),
                )
            )
        return sort_candidates(candidates)


class Rollout:
    """:meth:`Decoder.decode`'s loop for a decoder that only chooses tokens, one step at a time.

    ``prefix`` (``<bos>`` + prompt) primes ``rows`` rows; then each :meth:`advance` takes the model's log-probs for
    the last fed tokens and returns the next tokens to feed (one per row, ``<pad>`` for rows that ended), or ``None``
    once every row has ended or the max length is reached; :meth:`result` ranks the poems. Whoever owns the model
    feeds it: :meth:`run` with one step decoder, or a server that steps many requests' rollouts together.
    """

    def __init__(self, decoder: Decoder, prompt, chain, max_len: int, rng: np.random.Generator, num: int = 1):
        self.decoder = decoder
        self.chain = chain
        self.max_len = int(max_len)
        self.rng = rng
        prompt = np.asarray(prompt, dtype=np.int64).reshape(-1)
        self.prefix = np.concatenate([[BOS_ID], prompt]).astype(np.int64)
        self.rows = int(num)
        # The tokens so far, prompt included, in one buffer written in place (``history`` is a view of its filled
        # part): no copy of the whole history per step.
        self._buffer = np.zeros((self.rows, max(self.max_len, prompt.size)), dtype=np.int64)
        self._buffer[:, : prompt.size] = prompt
        self._length = prompt.size
        self.log_prob = np.zeros(self.rows, dtype=np.float64)
        self.generated = np.zeros(self.rows, dtype=np.int64)
        self.active = np.ones(self.rows, dtype=bool)
        self.finished = np.zeros(self.rows, dtype=bool)

    def advance(self, log_probs: np.ndarray) -> np.ndarray | None:
        """The next tokens for the log-probs of the tokens fed last (of the prefix, first), or ``None`` at the end."""
        processed = self.propose(log_probs)
        if processed is None:
            return None
        return self.take(self.decoder.choose(processed, self.rng))

    def propose(self, log_probs: np.ndarray) -> np.ndarray | None:
        """First half of :meth:`advance`: the processed log-probs of the active rows to choose from, or ``None`` at
        the max length (the rows that may end there end)."""
        history, active = self.history, self.active
        self._log_probs = log_probs
        if history.shape[1] >= self.max_len:
            # max length: <eos> does not count towards it, so a row that may end here ends; the others are cut
            if active.any():
                can_end = np.isfinite(self._processed(active)[:, EOS_ID])
                ending = np.flatnonzero(active)[can_end]
                self.log_prob[ending] += log_probs[ending, EOS_ID]
                self.generated[ending] += 1
                self.finished[ending] = True
            return None
        return self._processed(active)

    def _processed(self, rows: np.ndarray) -> np.ndarray:
        """The chain's log-probs for the ``rows`` (a mask) of the batch; with :class:`~tangpoet.decoding.rows.RowChains`
        each row through its own group's chain."""
        if isinstance(self.chain, RowChains):
            return self.chain.apply(self.history, self._log_probs, np.flatnonzero(rows))
        return self.chain(self.history[rows], self._log_probs[rows])

    def take(self, chosen) -> np.ndarray | None:
        """Second half of :meth:`advance`: the tokens chosen for the active rows → the tokens to feed, or ``None``."""
        log_probs, active = self._log_probs, self.active
        chosen = np.asarray(chosen, dtype=np.int64).reshape(-1)
        tokens = np.full(self.rows, PAD_ID, dtype=np.int64)
        tokens[active] = chosen
        self.log_prob[active] += log_probs[active, chosen]
        self.generated[active] += 1
        ended = active & (tokens == EOS_ID)
        self.finished |= ended
        active &= ~ended
        if not active.any():
            return None
        self._buffer[:, self._length] = tokens
        self._length += 1
        return tokens

    @property
    def history(self) -> np.ndarray:
        """``[rows, tokens so far]``: the prompt and every fed token (``<pad>`` after a row's end)."""
        return self._buffer[:, : self._length]

    def run(self, stepper) -> None:
        """Step this rollout to its end with ``stepper`` alone."""
        log_probs, state = stepper.prime(self.prefix, self.rows)
        while (tokens := self.advance(log_probs)) is not None:
            log_probs, state = stepper.step(tokens, state)

    def result(self, vocab) -> list[Candidate]:
        if not isinstance(self.chain, RowChains):
            return self.decoder.rank(vocab, self.history, self.log_prob, self.generated, self.finished)
        ranked: list[Candidate] = []  # each group's rows ranked as the decoder ranks, with the group's plan
        for group, plan in enumerate(self.chain.plans):
            rows = self.chain.groups == group
            if rows.any():
                mine = self.decoder.rank(vocab, self.history[rows], self.log_prob[rows], self.generated[rows], self.finished[rows])
                ranked += [dataclasses.replace(candidate, plan=plan) for candidate in mine]
        return sort_candidates(ranked)


def rows_can_differ(decoder) -> bool:
    """Whether ``decoder``'s rows are independent samples stepped by the shared loop (:class:`Rollout`), so each may be
    written under its own chain (:class:`~tangpoet.decoding.rows.RowChains`)."""
    return bool(getattr(decoder, "independent_rows", False)) and type(decoder).decode is Decoder.decode


def sort_candidates(candidates: list[Candidate]) -> list[Candidate]:
    """Best first; ties keep their order (stable), so the ranking is deterministic."""
    return sorted(candidates, key=lambda c: -c.score)


def _listed(names) -> list:
    """``names`` as parts of an :class:`~tangpoet.errors.OptionError`: each spelled by the front end, ``, ``-joined."""
    from tangpoet.limits import option_label

    parts: list = []
    for i, name in enumerate(names):
        parts += [", "] if i else []
        parts.append((str(name), option_label(str(name))))
    return parts


def check_positive(name: str, value, *, integer: bool = False, upper: float | None = None):
    if value is None:
        return None
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise DecoderOptionError(f"{name} must be a number, got {value!r}") from None
    if integer and number != value:
        raise DecoderOptionError(f"{name} must be a whole number, got {value!r}")
    if not number > 0 or (upper is not None and number > upper) or not np.isfinite(number):
        bound = f" and at most {upper}" if upper is not None else ""
        raise DecoderOptionError(f"{name} must be more than 0{bound}, got {value!r}")
    return number
