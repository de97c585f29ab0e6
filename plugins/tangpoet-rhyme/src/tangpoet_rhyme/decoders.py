"""``rhyme-beam`` and ``rhyme-sample``: retired decoders, kept so that their names give a one-line pointer.

Rhyme is now a constraint that composes with every decoder: ``--decoder beam --constraint rhyme`` replaces
``rhyme-beam``, ``--decoder top-p --constraint rhyme`` replaces ``rhyme-sample``, and ``--constraint regulated``
(格律) adds the tone patterns. Asking for either name is refused in one line before anything is loaded.
"""

from __future__ import annotations

from tangpoet.decoding.base import Decoder
from tangpoet.errors import DecoderOptionError


class _Retired(Decoder):
    replacement = ""

    def __init__(self, **options):
        raise DecoderOptionError(
            f"decoder {self.name!r} is retired: use {self.replacement} --constraint rhyme "
            f"(or --constraint regulated for rhyme and tones)"
        )


class RhymeBeamDecoder(_Retired):
    """Retired: ``--decoder beam --constraint rhyme``."""

    name = "rhyme-beam"
    replacement = "--decoder beam"
    retired = "use --decoder beam --constraint rhyme"  # shown by `tangpoet plugins`; left out of the server's list


class RhymeSampleDecoder(_Retired):
    """Retired: ``--decoder top-p --constraint rhyme``."""

    name = "rhyme-sample"
    replacement = "--decoder top-p"
    retired = "use --decoder top-p --constraint rhyme"
