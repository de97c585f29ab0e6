"""Beam search: the ``beam_width`` best partial poems stepped together as one batch.

At each step every live beam is extended by every allowed token; the ``2 × width`` best extensions are kept in
order: one that ends the poem (``<eos>``) becomes a finished candidate if it ranks within the first ``width``, the
others fill the next live beams (up to ``width``). Finished poems are ranked by their *length-normalised* score,
``log_prob / generated ** length_penalty`` (default 1: the mean log-probability per character), so a short poem does
not win only because it has fewer characters to pay for. The search therefore does not stop when ``width`` poems have
finished (those are the shortest, not the best): it goes on while some live beam's normalised score still beats the
worst of the ``width`` best finished ones (Hugging Face's ``early_stopping=False`` rule), or to the max length, where
live beams are cut. Width 1 stops at its first finished poem: it is greedy search. Live beams are padded to ``width``
rows (a padding row scores ``-inf``), so the batch shape never changes.

Measured on the bundled model (the reader table, ``python benchmarks/poem_quality.py --tables reader``; the figures:
docs/benchmarks.md#reader): stopping at the first ``width`` finished poems made ``write --begin 山 --decoder beam`` a
two-line poem; the default soft rules (:mod:`~tangpoet.decoding.constraints.repeat`) keep a beam from writing its best
verse twice.
"""

from __future__ import annotations

import numpy as np

from tangpoet.decoding.base import Candidate, Decoder, length_normalised
from tangpoet.errors import DecoderOptionError
from tangpoet.limits import DECODER_OPTIONS
from tangpoet.data.vocab import BOS_ID, EOS_ID


def top_candidates(scores: np.ndarray, log_probs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` best finite extensions ``scores[b] + log_probs[b, t]``: ``(beams, tokens, totals)``, best first.

    Ties go to the lower ``(beam, token)``, so the result is deterministic (and width 1 picks what argmax picks).
    Each row's own ``k`` best are found first (a partition, not a sort of width × vocabulary scores).
    """
    size = log_probs.shape[1]
    per_row = min(k, size)
    kth = np.partition(log_probs, size - per_row, axis=1)[:, size - per_row : size - per_row + 1]  # row's k-th best
    kth = np.maximum(kth, np.finfo(np.float32).min)  # never -inf: forbidden tokens are not candidates
    kth[~np.isfinite(scores)] = np.inf  # padding beams give none
    beams, tokens = np.nonzero(log_probs >= kth)  # each row's k best, and any ties with its k-th
    totals = scores[beams] + log_probs[beams, tokens].astype(np.float64)
    order = np.lexsort((tokens, beams, -totals))[:k]
    return beams[order], tokens[order], totals[order]


class BeamDecoder(Decoder):
    """Beam search returning the ``num`` best of ``beam_width`` beams (``beam_width=1`` is greedy)."""

    name = "beam"
    options = ("beam_width", "length_penalty")

    def __init__(self, beam_width: int | None = None, length_penalty: float | None = None, **options):
        super().__init__(**options)
        self.beam_width = DECODER_OPTIONS["beam_width"].value(beam_width)
        self.length_penalty = DECODER_OPTIONS["length_penalty"].value(length_penalty)

    def _candidate(self, vocab, tokens, log_prob, generated, finished) -> Candidate:
        tokens = tuple(int(t) for t in tokens)
        return Candidate(
            text=vocab.decode(tokens),
            tokens=tokens,
            score=length_normalised(log_prob, generated, self.length_penalty),
            log_prob=float(log_prob),
            finished=finished,
        )

    def _may_improve(self, totals, generated: int, most: int, worst: Candidate) -> bool:
        """Whether a live beam (log-probabilities ``totals`` after ``generated`` tokens) may still finish better than
        ``worst``, the last of the ``width`` best finished poems. Exact: a beam's log-probability only falls as it
        grows, so the best it can reach is its total now divided by the largest length it may reach (``most``
        tokens, ``<eos>`` included) when the penalty is positive, by its length now otherwise (Hugging Face's
        ``early_stopping="never"``). The usual heuristic (its normalised score *now*) stopped ``write --begin 山``
        after two verses: a poem's later verses cost less per character than its first."""
        best = max(totals)
        length = most if self.length_penalty > 0 else generated
        return length_normalised(best, length, self.length_penalty) > worst.score

    def validate(self, num: int) -> None:
        if num > self.beam_width:
            raise DecoderOptionError(
                f"beam search returns at most beam-width poems: asked for {num}, width {self.beam_width}"
            )

    def decode(self, stepper, prompt, chain, max_len, rng, num=1):
        self.validate(num)
        width = self.beam_width
        vocab = stepper.vocab
        prompt = np.asarray(prompt, dtype=np.int64).reshape(-1)
        history = np.tile(prompt, (width, 1))
        scores = np.full(width, -np.inf)
        scores[0] = 0.0  # one real beam to start with; the padding rows never win
        log_probs, state = stepper.prime(np.concatenate([[BOS_ID], prompt]), width)
        finished: list[Candidate] = []
        generated = 0
        most = max(int(max_len) - prompt.shape[0], 0) + 1  # the most tokens a beam may generate, <eos> included
        while True:
            live = np.isfinite(scores)
            if live.all():
                processed = chain(history, log_probs)
            else:
                processed = np.full_like(log_probs, -np.inf)
                processed[live] = chain(history[live], log_probs[live])
            if history.shape[1] >= max_len:  # <eos> does not count towards the max length; nothing else may follow
                processed[:, np.arange(processed.shape[1]) != EOS_ID] = -np.inf
            generated += 1
            beams, tokens, new_scores = [], [], []
            for rank, (beam, token, total) in enumerate(zip(*top_candidates(scores, processed, 2 * width))):
                beam, token = int(beam), int(token)
                if token == EOS_ID:
                    if rank < width:
                        finished.append(self._candidate(vocab, history[beam], total, generated, True))
                    continue
                beams.append(beam)
                tokens.append(token)
                new_scores.append(float(total))
                if len(beams) == width:
                    break
            if not beams:
                break
            finished = sorted(finished, key=lambda c: -c.score)[:width]
            if len(finished) >= width and (width == 1 or not self._may_improve(new_scores, generated, most, finished[-1])):
                break
            pad = width - len(beams)
            beams += [beams[0]] * pad
            tokens += [tokens[0]] * pad
            scores = np.array(new_scores + [-np.inf] * pad)
            history = np.concatenate([history[beams], np.asarray(tokens)[:, None]], axis=1)
            state = stepper.reorder(state, beams)
            log_probs, state = stepper.step(np.asarray(tokens, dtype=np.int32), state)
        ranked = sorted(finished, key=lambda c: -c.score)[:num]
        if len(ranked) < num:  # the max length cut the search: the best live beams, unfinished, fill up
            done = {c.tokens for c in finished}
            cut = [
                self._candidate(vocab, history[b], scores[b], generated - 1, False)
                for b in range(history.shape[0])
                if np.isfinite(scores[b]) and tuple(int(t) for t in history[b]) not in done
            ]
            ranked += sorted(cut, key=lambda c: -c.score)[: num - len(ranked)]
        return ranked
