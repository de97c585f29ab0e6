"""The Decoder contract.

Like keras-hub's samplers, a simple strategy overrides one method, :meth:`Decoder.choose` (pick the next token of
each row from processed log-probs); a search strategy (beam) overrides the whole loop, :meth:`Decoder.decode`.
Every decoder takes the step decoder, the prompt, the constraint chain, a max length and a seeded numpy generator,
and returns ranked :class:`Candidate` s. Keras is not imported here: log-probs arrive as numpy arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from tangpoet.errors import DecoderOptionError
from tangpoet.vocab import BOS_ID, EOS_ID, PAD_ID


@dataclass(frozen=True)
class Candidate:
    """One written poem."""

    text: str
    tokens: tuple[int, ...]  # the poem's ids, prompt included, without <bos>/<eos>
    score: float  # what candidates are ranked by (higher is better): log_prob / generated ** length_penalty
    log_prob: float  # summed model log-probability of the generated tokens (<eos> included, prompt not)
    finished: bool  # ended with <eos>; False when the max length cut it


def length_normalised(log_prob: float, generated: int, length_penalty: float) -> float:
    return float(log_prob) / (max(int(generated), 1) ** float(length_penalty))


class Decoder:
    """Base class for decoders; ``options`` names the keyword options a subclass accepts (with their checks)."""

    name: ClassVar[str] = "decoder"
    options: ClassVar[tuple[str, ...]] = ()
    #: ``score`` of sampled/greedy candidates is the mean log-probability per generated token.
    length_penalty: float = 1.0

    def __init__(self, **options: Any):
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            takes = ", ".join(o.replace("_", "-") for o in self.options) if self.options else "no options"
            raise DecoderOptionError(
                f"decoder {self.name!r} does not take {', '.join(u.replace('_', '-') for u in unknown)} (it takes {takes})"
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
        """``num`` rows stepped as one batch until each ends (``<eos>``) or reaches ``max_len`` tokens."""
        prompt = np.asarray(prompt, dtype=np.int64).reshape(-1)
        rows = int(num)
        history = np.tile(prompt, (rows, 1))
        log_prob = np.zeros(rows, dtype=np.float64)
        generated = np.zeros(rows, dtype=np.int64)
        active = np.ones(rows, dtype=bool)
        finished = np.zeros(rows, dtype=bool)
        log_probs, state = stepper.prime(np.concatenate([[BOS_ID], prompt]), rows)
        while history.shape[1] < max_len:
            processed = chain(history[active], log_probs[active])
            chosen = np.asarray(self.choose(processed, rng), dtype=np.int64).reshape(-1)
            tokens = np.full(rows, PAD_ID, dtype=np.int64)
            tokens[active] = chosen
            log_prob[active] += log_probs[active, chosen]
            generated[active] += 1
            ended = active & (tokens == EOS_ID)
            finished |= ended
            active &= ~ended
            if not active.any():
                break
            history = np.concatenate([history, tokens[:, None]], axis=1)
            log_probs, state = stepper.step(tokens, state)
        else:  # max length: <eos> does not count towards it, so a row that may end here ends; the others are cut
            if active.any():
                can_end = np.isfinite(chain(history[active], log_probs[active])[:, EOS_ID])
                ending = np.flatnonzero(active)[can_end]
                log_prob[ending] += log_probs[ending, EOS_ID]
                generated[ending] += 1
                finished[ending] = True
        return self.rank(stepper.vocab, history, log_prob, generated, finished)

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


def sort_candidates(candidates: list[Candidate]) -> list[Candidate]:
    """Best first; ties keep their order (stable), so the ranking is deterministic."""
    return sorted(candidates, key=lambda c: -c.score)


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
