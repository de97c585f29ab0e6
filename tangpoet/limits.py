"""Upper bounds on what one request may ask for, and on what a model file may hold — in one place.

A request beyond a bound is refused in one line before any work starts (:func:`check_int` / :func:`check_float`
raise :class:`~tangpoet.errors.DecoderOptionError`); the library applies them, so the command line and any other
front end (an HTTP server) get the same checks. The bounds are far above any useful value and far below what
exhausts a machine: a beam of 64 rows steps a 5,657-way output layer at about the cost of one 64-poem batch.
A model file is untrusted input: its archive members and its architecture are checked against the bounds below
before anything is read into memory or built.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

from tangpoet.errors import DecoderOptionError

# -- writing ------------------------------------------------------------------------------------------------------
MAX_BEAM_WIDTH = 64  # beams stepped together as one batch (memory and time grow with it)
MAX_POEMS = 1000  # poems one request may write (--num)
POEM_BATCH = 64  # sampled poems are written this many at a time, so memory stays bounded for any --num
MAX_POEM_LENGTH = 1000  # characters per poem (--max-len); the longest kept training poem is 200 by default
MAX_TOP_K = 100_000  # top-k above the vocabulary size is the same as the whole vocabulary
MIN_TEMPERATURE = 1e-3  # below this, dividing log-probabilities overflows float64
MAX_TEMPERATURE = 100.0  # above this, every character is as likely as any other
MAX_NO_REPEAT_NGRAM = 64  # --no-repeat-ngram: n-gram size
MAX_LENGTH_PENALTY = 10.0  # |--length-penalty|: the score is log-prob / length ** this
MAX_SEED = 2**32 - 1  # seeds are 0 … 2**32 - 1 (what numpy's legacy seeding and most tools accept)

# -- model files (untrusted input) --------------------------------------------------------------------------------
MAX_CONFIG_BYTES = 32 * 2**20  # config.json / metadata.json: the vocabulary and training history fit in far less
MAX_MEMBER_BYTES = 4 * 2**30  # any other member (the weights)
MAX_MEMBERS = 64  # a .keras file holds three
MAX_LAYERS = 64
MAX_WIDTH = 65_536  # units and embedding width
MAX_VOCABULARY = 1_000_000


def check_int(option: str, value, low: int, high: int) -> int:
    """``value`` as an int in ``[low, high]``, or a one-line :class:`DecoderOptionError` naming ``option``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise DecoderOptionError(f"{option} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise DecoderOptionError(f"{option} must be from {low:,} to {high:,}, got {value:,}")
    return int(value)


def check_float(option: str, value, low: float, high: float) -> float:
    """``value`` as a finite float in ``[low, high]``, or a one-line :class:`DecoderOptionError` naming ``option``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise DecoderOptionError(f"{option} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise DecoderOptionError(f"{option} must be from {low:g} to {high:g}, got {value!r}")
    return number


# Bounds on decoder options, by option name: the built-in decoders' and any plugin's option of the same name.
OPTION_BOUNDS = {
    "beam_width": ("beam width", check_int, 1, MAX_BEAM_WIDTH),
    "top_k": ("top-k", check_int, 1, MAX_TOP_K),
    "temperature": ("temperature", check_float, MIN_TEMPERATURE, MAX_TEMPERATURE),
    "top_p": ("top-p", check_float, 0.0, 1.0),
    "length_penalty": ("length penalty", check_float, -MAX_LENGTH_PENALTY, MAX_LENGTH_PENALTY),
}


def check_request(*, num=1, max_len=None, no_repeat_ngram=0, options=None) -> None:
    """Refuse a writing request beyond the bounds, in one line, before any work starts."""
    check_int("the number of poems", num, 1, MAX_POEMS)
    if max_len is not None:
        check_int("max length", max_len, 1, MAX_POEM_LENGTH)
    check_int("the no-repeat n-gram size", no_repeat_ngram, 0, MAX_NO_REPEAT_NGRAM)
    for key, value in (options or {}).items():
        if value is not None and key in OPTION_BOUNDS:
            label, check, low, high = OPTION_BOUNDS[key]
            check(label, value, low, high)


def check_seed(seed) -> int:
    """``seed`` as an int in ``[0, MAX_SEED]``, or a one-line error."""
    return check_int("seed", seed, 0, MAX_SEED)
