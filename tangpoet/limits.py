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
from dataclasses import dataclass
from numbers import Integral, Real

from tangpoet.errors import DecoderOptionError, OptionError

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

# -- serving (tangpoet serve) -------------------------------------------------------------------------------------
MAX_HTTP_POEMS = 16  # poems one HTTP request may ask for (the library allows more; a server shares its batch)
MAX_CHECK_CHARS = 2000  # POST /check: the characters of the one poem it checks
CLIENT_TIMEOUT = 10.0  # seconds a client has to send a request's headers, then its body (--client-timeout)

# -- model files (untrusted input) --------------------------------------------------------------------------------
MAX_CONFIG_BYTES = 32 * 2**20  # config.json / metadata.json: the vocabulary and training history fit in far less
MAX_MEMBER_BYTES = 4 * 2**30  # any other member (the weights)
MAX_MEMBERS = 64  # a .keras file holds three
MAX_LAYERS = 64
MAX_WIDTH = 65_536  # units and embedding width
MAX_VOCABULARY = 1_000_000
WEIGHTS_BYTES_PER_PARAMETER = 8  # the weights member holds at most float64 per weight the architecture has …
WEIGHTS_OVERHEAD_BYTES = 4 * 2**20  # … plus HDF5's own structure (names, attributes: kilobytes per layer)
PLUGIN_CELL_WEIGHTS = 16  # a plugin cell's weights: at most this many times the least any cell has (sizes unknown)
MAX_CONFIG_DEPTH = 64  # JSON nesting in config.json / state.json (a model's is 6 deep)

# -- files read as streams (corpora, poems to check: untrusted input) ---------------------------------------------
MAX_LINE_BYTES = 2**20  # one line of a corpus or of a poem file: a kept poem is 200 characters (600 bytes) by default
MAX_JSON_CORPUS_BYTES = 256 * 2**20  # one chinese-poetry JSON file (theirs are 1-4 MB each)
MAX_CHECK_POEM_CHARS = 100_000  # check: one poem (the lines between blank lines); the longest regulated one is 56
# --skip-bad-lines: a file is refused once this many of its lines, and more than half of those read so far, are not
# UTF-8 (/dev/urandom: after ~1,010 lines, 0.6 s; tang.txt with 5,000 random-byte lines scattered, or 999 at its top:
# read, each counted; tests/test_faults37_corpus.py)
MIN_BAD_LINES_REFUSED = 1000

# -- checkpoints (fit --resume) and theme tables (write --theme-table): untrusted input like model files -----------
MAX_STATE_BYTES = 64 * 2**20  # a checkpoint's state.json: history and lineage, kilobytes in practice
MAX_EPOCHS = 1_000_000  # fit --epochs, and the epoch a checkpoint may say it reached
MAX_OPTIMIZER_FACTOR = 4  # optimizer variables: at most this many times the model's weights (Adam holds 2×) …
MAX_TABLE_BYTES = 256 * 2**20  # a theme table's arrays together (the bundled one is a few MB)


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


@dataclass(frozen=True)
class DecoderOption:
    """One decoder option: the one table that ``tangpoet write``'s options, the HTTP API's fields and their schema,
    the decoders' defaults and the bounds below are all made from (:data:`DECODER_OPTIONS`)."""

    name: str  # the keyword of write() and the field of the HTTP API: top_k
    label: str  # how the library's messages name it: top-k (the command line's flag is --top-k)
    kind: type  # int or float
    low: float
    high: float
    default: float  # the built-in decoders' default
    help: str  # one line: `tangpoet write --help` and the API's schema
    above_low: bool = False  # (low, high]: low itself is refused

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def value(self, given):
        """``given`` checked (``None``: the default)."""
        return self.default if given is None else self.check(given)

    def check(self, value):
        """``value`` as ``kind`` within the bounds, or an :class:`~tangpoet.errors.OptionError` naming this option."""
        me = (self.name, self.label)
        whole = self.kind is int
        if isinstance(value, bool) or not isinstance(value, Integral if whole else Real):
            raise OptionError(me, f" must be a {'whole number' if whole else 'number'}, got {_shown(repr(value))}")
        number = int(value) if whole else float(value)
        if whole:
            inside = self.low <= number <= self.high
            bounds = f"from {self.low:,} to {self.high:,}"
        else:
            above = self.low < number if self.above_low else self.low <= number
            inside = math.isfinite(number) and above and number <= self.high
            bounds = f"more than {self.low:g} and at most {self.high:g}" if self.above_low else f"from {self.low:g} to {self.high:g}"
        if not inside:
            raise OptionError(me, f" must be {bounds}, got {_shown(f'{value:,}' if whole else repr(value))}")
        return number


def _shown(text: str, most: int = 40) -> str:
    """``text`` cut to ``most`` characters (a value quoted in a message: a 4,000-digit number is not shown whole)."""
    return text if len(text) <= most else text[: most - 1] + "…"


#: The decoder options tangpoet knows, by name: the built-in decoders' (each takes those its ``options`` lists) and any
#: plugin's option of the same name (bounded the same way).
DECODER_OPTIONS: dict[str, DecoderOption] = {
    option.name: option
    for option in (
        DecoderOption(
            "temperature", "temperature", float, MIN_TEMPERATURE, MAX_TEMPERATURE, 1.0,
            "Sampling temperature for sample, top-k, top-p: below 1 sharper, above 1 flatter",
        ),
        DecoderOption("top_k", "top-k", int, 1, MAX_TOP_K, 40, "top-k: sample among the k most likely"),
        DecoderOption(
            "top_p", "top-p", float, 0.0, 1.0, 0.9, "top-p: sample from the smallest set with this probability",
            above_low=True,
        ),
        DecoderOption("beam_width", "beam width", int, 1, MAX_BEAM_WIDTH, 5, "beam: beams searched together"),
        DecoderOption(
            "length_penalty", "length penalty", float, -MAX_LENGTH_PENALTY, MAX_LENGTH_PENALTY, 1.0,
            "beam: score = log-prob / length^this",
        ),
    )
}


def option_label(name: str) -> str:
    """How the library's messages name the decoder option ``name`` (a plugin's own: ``min_p`` → ``min-p``)."""
    known = DECODER_OPTIONS.get(name)
    return known.label if known is not None else name.replace("_", "-")


def check_request(*, num=1, max_len=None, no_repeat_ngram=0, options=None) -> None:
    """Refuse a writing request beyond the bounds, in one line, before any work starts."""
    check_int("the number of poems", num, 1, MAX_POEMS)
    if max_len is not None:
        check_int("max length", max_len, 1, MAX_POEM_LENGTH)
    check_int("the no-repeat n-gram size", no_repeat_ngram, 0, MAX_NO_REPEAT_NGRAM)
    for key, value in (options or {}).items():
        if value is not None and key in DECODER_OPTIONS:
            DECODER_OPTIONS[key].check(value)


def check_seed(seed) -> int:
    """``seed`` as an int in ``[0, MAX_SEED]``, or a one-line error."""
    return check_int("seed", seed, 0, MAX_SEED)


# -- what one poem can use: write() refuses more in one line before any work (the CLI and the server share it) -----
MAX_BEGIN_LENGTH = 200  # --begin characters: the longest poem `fit` keeps by default (its --max-len 200)
MAX_ACROSTIC_LENGTH = 32  # --acrostic characters, one per line: 32 lines of 7 + a mark = 256 characters
MAX_KEYWORD_CHARS = 32  # the keywords' characters together (each keyword is 1-4)
MAX_CONSTRAINTS = 16  # --constraint specs in one request (identical ones are planned once)
MAX_PLAN_STEPS = 256  # planner work per request: constraint restrict()/feasible() calls over all plans tried
# Free form (no --form, no --acrostic): the `verse` constraint's default verse lengths, characters without the mark —
# what classical verse uses (3-character to 11-character lines), when the model file records none of its corpus's.
VERSE_MIN_CHARS = 3
VERSE_MAX_CHARS = 11
MAX_VERSE_CHARS = 64  # the largest `verse:max=N` accepted
# -- best-of-N and theme planning (write --candidates / --theme) ----------------------------------------------------
MAX_CANDIDATES = POEM_BATCH  # --candidates: rows sampled and scored together, one batch
MAX_HTTP_CANDIDATES = MAX_HTTP_POEMS  # an HTTP request's candidates: its rows share the server's batch like its poems
THEME_PLANS = 8  # write --theme --candidates N: up to this many theme plans, the N candidate rows dealt among them
MAX_THEME_LENGTH = 8  # --theme characters: a word or a short phrase (each character's statistics are looked up)

# -- the work one request may ask for (write(): the CLI and the server both) ----------------------------------------
DEFAULT_MAX_LENGTH = 128  # a poem's characters when no max length (and no form) says otherwise: write --max-len
RANKING_STEPS = 4  # ranking candidates, at worst: model steps per candidate character (the coherence scorer's 4
#                    anchor poems for each shape; measured: 1,654 steps for 6 candidates at max length 60)
MAX_REQUEST_STEPS = 20_000  # model steps one request may take at worst: about a minute at 3 ms a step


def request_steps(rows: int, max_len: int | None, ranked: bool) -> int:
    """The model steps a request may take at worst: its rows written ``POEM_BATCH`` at a time, each step one
    character, and with candidates to rank :data:`RANKING_STEPS` per candidate character."""
    length = DEFAULT_MAX_LENGTH if max_len is None else max_len
    return -(-rows // POEM_BATCH) * length + (rows * length * RANKING_STEPS if ranked else 0)


def check_work(rows: int, max_len: int | None, ranked: bool) -> None:
    """Refuse, in one line saying the bound, a request that may take more than :data:`MAX_REQUEST_STEPS` model
    steps (e.g. 6 candidates of up to 1,000 characters, ranked: 25,000) — before any work."""
    steps = request_steps(rows, max_len, ranked)
    if steps <= MAX_REQUEST_STEPS:
        return
    length = DEFAULT_MAX_LENGTH if max_len is None else max_len
    how = (
        f"{rows:,} candidates × max length {length:,} × {RANKING_STEPS} to rank them, + writing them"
        if ranked
        else f"{rows:,} poems × max length {length:,}, {POEM_BATCH} at a time"
    )
    raise DecoderOptionError(
        f"this request may take {steps:,} model steps ({how}); a request may take at most {MAX_REQUEST_STEPS:,}:"
        f" ask for {'fewer candidates' if ranked else 'fewer poems'} or a shorter max length"
    )
