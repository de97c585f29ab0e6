"""``parallel`` (``对仗``): while the second line of a couplet that must be parallel is written (a 律诗's lines 4 and 6),
each position prefers characters that pair with the first line's character there.

The pairing is the table's (:mod:`tangpoet.decoding.couplets`, learned from real 律诗):

- **soft** (default): every character's log-probability gains ``strength × score(a, ·)`` — the pair's log-ratio to
  chance in nats (clipped to ±4), so ``strength=1`` weighs the model's distribution by how much likelier each
  character is opposite ``a`` in a real couplet; the same character as ``a`` gets no gain;
- **strict**: only characters the table reads as paired with ``a`` (seen or classed pairs scoring at least the
  table's threshold) are allowed, and the soft preference orders them. The rule is a soft mask: dropped for a row
  where the hard rules (tones, rhyme, a placed character) leave no paired character, so it never leaves a row with
  nothing allowed.

A 叠字 answers a 叠字 (萧萧 / 滚滚): where the first line doubles a character, the second line's doubling its own is
preferred (strict: required, whatever the character), and a 叠字 the first line does not write is avoided (strict:
not allowed).

Options: ``strength=X`` (0–10, default 1), ``strict``, ``table=PATH`` (a table built by ``tools/build_pair_table.py``).
"""

from __future__ import annotations

import math

import numpy as np

from tangpoet.decoding.constraints.base import NEG_INF, Constraint, LogitsProcessor, Violation
from tangpoet.decoding.couplets.measure import couplet_reports, parallel_couplets
from tangpoet.decoding.couplets.table import PairTable, load_table, vocab_index
from tangpoet.errors import ConstraintError

DEFAULT_STRENGTH = 1.0
#: The gain (nats, times the strength) of answering the first line's 叠字 with one (萧萧 / 滚滚).
DOUBLING_GAIN = 2.0
MAX_STRENGTH = 10.0
_TRUE = {"1", "true", "yes", "on", "y", "是"}
_FALSE = {"0", "false", "no", "off", "n", "否"}


class PairScores:
    """Per first-line token of a vocabulary, the table's scores against every token (cached): what the two
    processors read."""

    def __init__(self, table: PairTable, vocab):
        self.table = table
        self.index = vocab_index(table, vocab.tokens)
        self.known = self.index >= 0
        self._rows: dict[int, np.ndarray] = {}

    def scores(self, token: int) -> np.ndarray | None:
        """``score(token, v)`` for every token ``v`` (0 where ``v`` is not in the table; ``token`` against itself
        at most 0); None when ``token`` is not in the table."""
        i = int(self.index[token])
        if i < 0:
            return None
        hit = self._rows.get(token)
        if hit is None:
            hit = np.zeros(len(self.index), dtype=np.float32)
            hit[self.known] = self.table.row(i)[self.index[self.known]]
            hit[token] = min(hit[token], 0.0)
            self._rows[token] = hit
        return hit


def flat_sources(form) -> dict[int, int]:
    """Flat position of each character of a second line → that of the first line's character opposite it."""
    step = form.chars + 1
    return {j * step + c: i * step + c for i, j in parallel_couplets(form) for c in range(form.chars)}


def doubling(history: np.ndarray, t: int, source: int, sources: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``(token, wanted)`` per row: the token that would make a 叠字 of the second line here (its previous character
    again; -1 at a line's first position or right after a 叠字), and whether the first line writes a 叠字 here (then
    the second line's answers it, 萧萧 → 滚滚; else a 叠字 here would stand alone, which parallel lines avoid)."""
    rows = history.shape[0]
    token = np.full(rows, -1, dtype=np.int64)
    if sources.get(t - 1) != source - 1:  # the first position of a line
        return token, np.zeros(rows, dtype=bool)
    wanted = history[:, source] == history[:, source - 1]
    fresh = history[:, t - 1] != history[:, t - 2] if t >= 2 else np.ones(rows, dtype=bool)
    token[fresh] = history[fresh, t - 1]
    return token, wanted


class ParallelPreference(LogitsProcessor):
    """Soft: add ``strength × score(a, ·)`` at each position of a second line, ``a`` the first line's character."""

    hard = False

    def __init__(self, pairs: PairScores, form, strength: float):
        self.pairs, self.strength = pairs, float(strength)
        self.sources = flat_sources(form)

    def __call__(self, history, log_probs):
        source = self.sources.get(history.shape[1])
        if source is None or self.strength == 0:
            return log_probs
        firsts = history[:, source]
        for token in np.unique(firsts):
            scores = self.pairs.scores(int(token))
            if scores is not None:
                rows = np.flatnonzero(firsts == token)
                log_probs[rows] += self.strength * scores
        token, wanted = doubling(history, history.shape[1], source, self.sources)
        rows = np.flatnonzero(token >= 0)
        log_probs[rows, token[rows]] += self.strength * DOUBLING_GAIN * np.where(wanted[rows], 1.0, -1.0)
        return log_probs

    def describe(self) -> str:
        return f"parallel couplets (strength {self.strength:g})"


class ParallelStrict(LogitsProcessor):
    """Soft mask: at each position of a second line only characters paired with the first line's (see module)."""

    hard = False

    def __init__(self, pairs: PairScores, form):
        self.pairs = pairs
        self.sources = flat_sources(form)
        self.threshold = pairs.table.threshold
        self._masks: dict[int, np.ndarray] = {}

    def allowed(self, token: int) -> np.ndarray | None:
        """Tokens paired with ``token`` (None: ``token`` is not in the table, nothing is asked)."""
        hit = self._masks.get(token)
        if hit is None:
            scores = self.pairs.scores(token)
            if scores is None:
                return None
            hit = self.pairs.known & (scores >= self.threshold)
            hit[token] = False
            self._masks[token] = hit
        return hit

    def __call__(self, history, log_probs):
        source = self.sources.get(history.shape[1])
        if source is None:
            return log_probs
        firsts = history[:, source]
        double, wanted = doubling(history, history.shape[1], source, self.sources)
        answer = (double >= 0) & wanted
        keep = log_probs[np.flatnonzero(answer), double[answer]].copy()
        for token in np.unique(firsts):
            allowed = self.allowed(int(token))
            if allowed is not None:
                rows = np.flatnonzero(firsts == token)
                log_probs[np.ix_(rows, np.flatnonzero(~allowed))] = NEG_INF
        lone = np.flatnonzero((double >= 0) & ~wanted)
        log_probs[lone, double[lone]] = NEG_INF  # a 叠字 the first line does not write
        rows = np.flatnonzero(answer)  # one it does: answered by a 叠字, whatever its character, and only by one
        log_probs[rows] = NEG_INF
        log_probs[rows, double[answer]] = keep
        return log_probs

    def describe(self) -> str:
        return "parallel couplets (strict: paired characters only)"


def parse_strength(value, name: str = "parallel") -> float:
    """``strength`` as a number in ``[0, MAX_STRENGTH]``; one line for anything else."""
    if isinstance(value, bool):  # a spec reads strength=0 / strength=1 as no / yes
        return DEFAULT_STRENGTH if value else 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConstraintError(f"constraint {name!r}: strength must be a number from 0 to {MAX_STRENGTH:g}, "
                              f"got {str(value)[:40]!r}") from None
    if not (math.isfinite(number) and 0 <= number <= MAX_STRENGTH):
        raise ConstraintError(f"constraint {name!r}: strength must be from 0 to {MAX_STRENGTH:g}, got {value}")
    return number


def parse_flag(value, option: str, name: str = "parallel") -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConstraintError(f"constraint {name!r}: {option} must be yes or no, got {value!r}")


def parallel_processors(vocab, form, strength: float = DEFAULT_STRENGTH, strict: bool = False,
                        table: PairTable | str | None = None) -> list[LogitsProcessor]:
    """The processors of ``parallel`` for a request (none when ``form`` has no couplet that must be parallel)."""
    if not parallel_couplets(form):
        return []
    pairs = _pair_scores(load_table(table), vocab)
    out: list[LogitsProcessor] = [ParallelStrict(pairs, form)] if strict else []
    if strength:
        out.append(ParallelPreference(pairs, form, strength))
    return out


_SCORES: dict[tuple[int, int], tuple[object, object, PairScores]] = {}


def _pair_scores(table: PairTable, vocab) -> PairScores:
    """One :class:`PairScores` per (table, vocabulary) while both live (a server builds constraints per request)."""
    key = (id(table), id(vocab))
    hit = _SCORES.get(key)
    if hit is not None and hit[0] is table and hit[1] is vocab:
        return hit[2]
    made = PairScores(table, vocab)
    if len(_SCORES) > 8:
        _SCORES.clear()
    _SCORES[key] = (table, vocab, made)
    return made


class ParallelConstraint(Constraint):
    """``parallel`` (``对仗``, ``duizhang``): a 律诗's middle couplets prefer pairs the table reads as parallel."""

    name = "parallel"
    aliases = ("对仗", "duizhang")
    needs_form = True
    option_names = ("strength", "strict", "table")
    description = "对仗: the 2nd line of each middle couplet pairs with the 1st (strength=X soft, strict: paired only)"

    def __init__(self, **options):
        super().__init__(**options)
        self.strength = parse_strength(self.options.get("strength", DEFAULT_STRENGTH), self.name)
        self.strict = parse_flag(self.options.get("strict", False), "strict", self.name)
        self.table_path = self.text_option("table")

    def table(self) -> PairTable:
        return load_table(self.table_path)

    def feasible(self, ctx, variant) -> str | None:
        if not parallel_couplets(ctx.form):
            return f"{ctx.form.name} has no couplet that must be parallel (a 律诗's lines 3–4 and 5–6 do)"
        return None

    def processors(self, ctx, variant):
        return parallel_processors(ctx.vocab, ctx.form, self.strength, self.strict, self.table())

    def check(self, text: str, form) -> list[Violation]:
        """Strict: every position of the couplets that must be parallel is paired. Soft: nothing (a preference)."""
        if not self.strict:
            return []
        out = []
        for report in couplet_reports(text, form, self.table()):
            for pair in report.pairs:
                if not pair.paired:
                    out.append(Violation("parallel", report.lines[1], pair.col,
                                         f"「{pair.first}」/「{pair.second}」 (lines {report.lines[0] + 1}–"
                                         f"{report.lines[1] + 1}, char {pair.col + 1}) is not a parallel pair"))
        return out
