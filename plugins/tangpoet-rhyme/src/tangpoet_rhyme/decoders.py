"""``rhyme-beam`` and ``rhyme-sample``: tangpoet's beam search and sampling with the rhyme constraint added.

Both are tangpoet decoders (``tangpoet.decoding.base.Decoder``) registered under the entry-point group
``tangpoet.decoders``. They take the same options as the decoders they extend and change one thing: before decoding,
the constraint chain gets :class:`~tangpoet_rhyme.constraint.RhymeConstraint` (hard) and
:class:`~tangpoet_rhyme.constraint.NoRepeatRhyme` (soft) for the form read off the chain.
"""

from __future__ import annotations

from tangpoet.decoding.beam import BeamDecoder
from tangpoet.decoding.sampling import TopPDecoder
from tangpoet_rhyme.constraint import rhyme_chain


class RhymeMixin:
    """Adds the rhyme processors to the chain, then runs the parent decoder's own loop unchanged."""

    name = "rhyme"

    def decode(self, stepper, prompt, chain, max_len, rng, num=1):
        chain = rhyme_chain(stepper.vocab, chain, prompt, max_len, decoder=self.name)
        return super().decode(stepper, prompt, chain, max_len, rng, num=num)


class RhymeBeamDecoder(RhymeMixin, BeamDecoder):
    """Beam search (``beam_width``, ``length_penalty``) whose even lines end in one 平声 rhyme group."""

    name = "rhyme-beam"


class RhymeSampleDecoder(RhymeMixin, TopPDecoder):
    """Sampling (``temperature``; ``top_p`` for nucleus sampling, default 1 = the whole distribution) with rhyme."""

    name = "rhyme-sample"
    options = ("top_p", "temperature")

    def __init__(self, top_p: float = 1.0, temperature: float = 1.0, **options):
        super().__init__(top_p=1.0 if top_p is None else top_p, temperature=temperature, **options)

    def filter(self, scaled):
        return scaled if self.top_p >= 1.0 else super().filter(scaled)
