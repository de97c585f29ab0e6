"""Per-character negative log-likelihood, bits per character and perplexity of a model on poems.

Every target token counts: each character (punctuation included) and the ``<eos>`` that ends each poem. Padding
never counts. Characters the model does not know are scored as ``<unk>`` and counted in ``unknown``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from tangpoet.backend import ensure_backend
from tangpoet.data.batching import Batches
from tangpoet.data.vocab import PAD_ID, UNK_ID

ensure_backend()
import keras  # noqa: E402
from keras import ops  # noqa: E402


@dataclass(frozen=True)
class Evaluation:
    nll: float  # nats per character
    bits_per_char: float
    perplexity: float
    characters: int  # scored target tokens (characters + one <eos> per poem)
    poems: int
    unknown: int  # characters scored as <unk>

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        return (
            f"NLL {self.nll:.4f} nats/char · {self.bits_per_char:.4f} bits/char · perplexity {self.perplexity:.2f}"
            f" · {self.characters} characters in {self.poems} poems"
            + (f" ({self.unknown} unknown to the model)" if self.unknown else "")
        )


class _SequenceNLL(keras.Model):
    """Wraps a PoemModel: ``[batch, 2, time]`` (inputs, targets) → ``[batch, 2]`` (summed NLL, real tokens).

    Reducing inside the compiled predict function keeps the ``[batch, time, vocab]`` logits on the device.
    """

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self.model = model

    def call(self, pairs):
        inputs, targets = pairs[:, 0, :], pairs[:, 1, :]
        logits = self.model(inputs, training=False)
        nll = ops.sparse_categorical_crossentropy(targets, logits, from_logits=True)
        mask = ops.cast(ops.not_equal(targets, PAD_ID), "float32")
        return ops.stack([ops.sum(nll * mask, axis=1), ops.sum(mask, axis=1)], axis=1)


class Scorer:
    """Reusable NLL scorer for one model (its compiled function is kept between calls)."""

    def __init__(self, model):
        self._wrapper = _SequenceNLL(model, name="sequence_nll")

    def __call__(self, batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> Evaluation:
        total, count, poems, unknown = 0.0, 0, 0, 0
        for inputs, targets in batches:
            sums = np.asarray(self._wrapper.predict_on_batch(np.stack([inputs, targets], axis=1)), dtype=np.float64)
            total += float(sums[:, 0].sum())
            count += int(round(float(sums[:, 1].sum())))
            poems += int(np.any(targets != PAD_ID, axis=1).sum())  # not the filler rows of a short batch
            unknown += int((targets == UNK_ID).sum())
        if count == 0:
            raise ValueError("nothing to evaluate")
        nll = total / count
        return Evaluation(nll, nll / math.log(2), math.exp(nll), count, poems, unknown)


def evaluate(model, sequences: Sequence[np.ndarray], batch_size: int = 64) -> Evaluation:
    """Score encoded poems (character ids without ``<bos>``/``<eos>``)."""
    return Scorer(model)(Batches(sequences, batch_size, shuffle=False))


def evaluate_titles(model, poems, batch_size: int = 64) -> tuple[Evaluation, Evaluation, int]:
    """A title-aware model (``fit --titles``) on ``poems`` (:class:`~tangpoet.data.corpus.Poem`): ``(given the
    title, without it, poems scored with their title)``. Both figures count the same tokens — each poem's content
    and its ``<eos>``, never a title's characters; a poem whose title cleans to nothing or is one the model was
    trained to see as generic (its file records them) is scored without its title in both."""
    from tangpoet.data.titles import ALWAYS_GENERIC, clean_title, encode_sequence

    recorded = (getattr(model, "metadata", None) or {}).get("titles") or {}
    generic = set(ALWAYS_GENERIC) | {t for t in recorded.get("generic", []) if isinstance(t, str)}
    vocab, scorer = model.vocab, Scorer(model)
    titles = [clean_title(p.title)[0] for p in poems]
    titles = ["" if t in generic else t for t in titles]
    given = [encode_sequence(vocab, t, p.content) for t, p in zip(titles, poems)]
    plain = [vocab.encode(p.content) for p in poems]
    with_title = scorer(Batches(given, batch_size, shuffle=False, started=True, content_only=True))
    without = scorer(Batches(plain, batch_size, shuffle=False))
    return with_title, without, sum(1 for t in titles if t)
