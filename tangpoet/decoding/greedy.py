"""Greedy decoding: the most likely allowed token at every step."""

from __future__ import annotations

import numpy as np

from tangpoet.decoding.base import Decoder


class GreedyDecoder(Decoder):
    """Always the most likely allowed token (the lowest id on a tie). Deterministic: one poem whatever ``num``."""

    name = "greedy"

    def choose(self, log_probs, rng):
        return np.argmax(log_probs, axis=-1)

    def batch_key(self):
        return (GreedyDecoder,) if type(self).choose is GreedyDecoder.choose else None

    def choose_many(self, processed, rngs):
        if self.batch_key() is None:
            return super().choose_many(processed, rngs)
        chosen = np.argmax(np.concatenate(processed), axis=-1)
        return np.split(chosen, np.cumsum([len(p) for p in processed])[:-1])

    def decode(self, stepper, prompt, chain, max_len, rng, num=1):
        return super().decode(stepper, prompt, chain, max_len, rng, num=1)
