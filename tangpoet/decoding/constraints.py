"""Constraints: logits processors that mask log-probabilities before a decoder chooses.

A processor is called with the tokens generated so far for each row (``history``: int array ``[rows, t]``, the poem's
ids without ``<bos>``, the prompt included) and the log-probs ``[rows, vocab]`` (numpy float32) and returns them with
forbidden tokens set to ``-inf``. Masking only ever writes ``-inf``, so an allowed token keeps the model's
log-probability and scores stay comparable.

Processors compose into a :class:`ConstraintChain`. *Hard* processors (form, acrostic, forced prefix, banned
tokens, end rule) always apply: they make the form exact by construction. *Soft* ones (no-repeat) are dropped for a
row where they would leave nothing allowed, so they can never make a hard constraint unsatisfiable.
:func:`build_constraints` checks everything that can be checked before decoding starts — unknown characters, an
acrostic that does not match the form, a begin text the constraints forbid, a max length too short — and raises a
one-line :class:`~tangpoet.errors.ConstraintError` / :class:`~tangpoet.errors.VocabularyError`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tangpoet.decoding.forms import COMMA, FULL_STOP, LINE_END, SENTENCE_END, Form, get_form
from tangpoet.errors import ConstraintError, VocabularyError
from tangpoet.vocab import BOS_ID, EOS_ID, PAD_ID, SPECIALS, UNK_ID, Vocabulary

NEG_INF = np.float32(-np.inf)
DEFAULT_MAX_LEN = 128
# Line lengths an acrostic may take when no form is given (the first line decides, the others follow).
FREE_ACROSTIC_LENGTHS = (5, 7)


def is_punctuation(char: str) -> bool:
    return char in LINE_END or unicodedata.category(char).startswith("P")


class TokenClasses:
    """Which ids of a vocabulary are characters, punctuation, line ends."""

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab
        self.size = len(vocab)
        self.char = np.zeros(self.size, dtype=bool)
        self.line_end = np.zeros(self.size, dtype=bool)
        self.sentence_end = np.zeros(self.size, dtype=bool)
        for i, token in enumerate(vocab.tokens):
            if i < len(SPECIALS):
                continue
            if is_punctuation(token):
                self.line_end[i] = token in LINE_END
                self.sentence_end[i] = token in SENTENCE_END
            else:
                self.char[i] = True
        self.comma = vocab.id(COMMA) if COMMA in vocab else None
        self.full_stop = vocab.id(FULL_STOP) if FULL_STOP in vocab else None

    def line_positions(self, history: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row of ``history`` ``[rows, t]``: the line index, the characters so far in that line, and the length of
        the first line (``-1`` while the first line is not finished)."""
        rows, t = history.shape
        if t == 0:
            zeros = np.zeros(rows, dtype=np.int64)
            return zeros, zeros, zeros - 1
        ends = self.line_end[history]
        ended = ends.any(axis=1)
        line = ends.sum(axis=1)
        last = np.where(ended, t - 1 - ends[:, ::-1].argmax(axis=1), -1)
        first = np.where(ended, ends.argmax(axis=1), -1)
        return line, t - 1 - last, first

    def line_position(self, row: np.ndarray) -> tuple[int, int, int | None]:
        """:meth:`line_positions` for one row, with ``None`` for an unfinished first line."""
        line, count, first = (int(a[0]) for a in self.line_positions(np.asarray(row, dtype=np.int64).reshape(1, -1)))
        return line, count, (None if first < 0 else first)


class LogitsProcessor:
    """Base class: ``__call__(history, log_probs) -> log_probs`` with forbidden tokens at ``-inf``.

    A processor may write into ``log_probs`` (the chain hands each one an array it owns). ``hard = False`` marks a
    soft processor, dropped for a row where it would leave nothing allowed.
    """

    hard = True

    def __call__(self, history: np.ndarray, log_probs: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        return type(self).__name__


class BannedTokens(LogitsProcessor):
    """Tokens that are never emitted (by default ``<pad>``, ``<unk>``, ``<bos>``)."""

    def __init__(self, ids: Sequence[int] = (PAD_ID, UNK_ID, BOS_ID), reason: str = "special tokens"):
        self.ids = np.asarray(list(ids), dtype=np.int64)
        self.reason = reason

    def __call__(self, history, log_probs):
        log_probs[:, self.ids] = NEG_INF
        return log_probs

    def describe(self) -> str:
        return self.reason


class FreeEnd(LogitsProcessor):
    """Without a form, ``<eos>`` is allowed only right after ``。？！``."""

    def __init__(self, classes: TokenClasses):
        self.classes = classes

    def __call__(self, history, log_probs):
        if history.shape[1] == 0:
            log_probs[:, EOS_ID] = NEG_INF
        else:
            log_probs[~self.classes.sentence_end[history[:, -1]], EOS_ID] = NEG_INF
        return log_probs

    def describe(self) -> str:
        return "the end rule (a poem ends after 。？！)"


class LineForm(LogitsProcessor):
    """``lines`` lines of ``L`` characters, ``L`` in ``lengths`` (the first line decides); ``，`` after the odd
    lines, ``。`` after the even ones and after the last; then ``<eos>``."""

    def __init__(self, classes: TokenClasses, lines: int, lengths: Sequence[int], name: str):
        self.classes = classes
        self.lines = int(lines)
        self.lengths = tuple(sorted(set(int(n) for n in lengths)))
        self.name = name
        self.char_ids = np.flatnonzero(classes.char)
        self._masks: dict[tuple[int, int, int], np.ndarray] = {}

    def mark(self, line: int) -> int:
        if line % 2 == 0 and line != self.lines - 1:
            return self.classes.comma
        return self.classes.full_stop

    def allowed(self, line: int, count: int, first: int) -> np.ndarray:
        """Ids allowed in line ``line`` after ``count`` characters (``first``: the first line's length, or -1)."""
        if line >= self.lines:
            return np.array([EOS_ID])
        if first >= 0:
            if count < first:
                return self.char_ids
            return np.array([self.mark(line)] if count == first else [], dtype=np.int64)
        if count < self.lengths[0] or (count not in self.lengths and count < self.lengths[-1]):
            return self.char_ids
        if count in self.lengths and count < self.lengths[-1]:
            return np.append(self.char_ids, self.mark(line))
        return np.array([self.mark(line)] if count == self.lengths[-1] else [], dtype=np.int64)

    def keep(self, key: tuple[int, int, int]) -> np.ndarray:
        """Boolean mask over the vocabulary for a position ``(line, count, first)`` (cached: forms have few)."""
        mask = self._masks.get(key)
        if mask is None:
            mask = np.zeros(self.classes.size, dtype=bool)
            mask[self.allowed(*key)] = True
            self._masks[key] = mask
        return mask

    def __call__(self, history, log_probs):
        line, count, first = self.classes.line_positions(history)
        keys = np.stack([line, count, first], axis=1)
        if (keys == keys[:1]).all():  # the usual case: every row (all beams, under a form) at the same position
            log_probs[:, ~self.keep(tuple(int(k) for k in keys[0]))] = NEG_INF
            return log_probs
        for key in np.unique(keys, axis=0):
            rows = np.flatnonzero((keys == key).all(axis=1))
            log_probs[rows[:, None], ~self.keep(tuple(int(k) for k in key))] = NEG_INF
        return log_probs

    def describe(self) -> str:
        return self.name

    @property
    def max_length(self) -> int:
        return self.lines * (self.lengths[-1] + 1)

    @property
    def min_length(self) -> int:
        return self.lines * (self.lengths[0] + 1)


class Acrostic(LogitsProcessor):
    """藏头诗: line ``i`` starts with ``heads[i]``; after the last head's line the poem ends."""

    def __init__(self, classes: TokenClasses, heads: Sequence[int], text: str):
        self.classes = classes
        self.heads = [int(h) for h in heads]
        self.text = text

    def __call__(self, history, log_probs):
        line, count, _ = self.classes.line_positions(history)
        rows = np.flatnonzero(count == 0)
        if rows.size:
            heads = np.append(self.heads, EOS_ID)  # after the last head's line: the end
            forced = heads[np.minimum(line[rows], len(self.heads))]
            kept = log_probs[rows, forced]
            log_probs[rows] = NEG_INF
            log_probs[rows, forced] = kept
        return log_probs

    def describe(self) -> str:
        return f"the acrostic {self.text}"


class ForcedPrefix(LogitsProcessor):
    """The poem starts with ``ids`` (``--begin``)."""

    def __init__(self, ids: Sequence[int], text: str = ""):
        self.ids = [int(i) for i in ids]
        self.text = text

    def __call__(self, history, log_probs):
        t = history.shape[1]
        if t < len(self.ids):
            keep = log_probs[:, self.ids[t]].copy()
            log_probs[:] = NEG_INF
            log_probs[:, self.ids[t]] = keep
        return log_probs

    def describe(self) -> str:
        return f"the begin text {self.text}"


class NoRepeat(LogitsProcessor):
    """Soft: no token more than ``max_run`` times in a row (default: no character three times in a row)."""

    hard = False

    def __init__(self, max_run: int = 2):
        if max_run < 1:
            raise ValueError("max_run must be at least 1")
        self.max_run = int(max_run)

    def __call__(self, history, log_probs):
        if history.shape[1] < self.max_run:
            return log_probs
        tail = history[:, -self.max_run :]
        same = (tail == tail[:, :1]).all(axis=1)
        rows = np.flatnonzero(same)
        log_probs[rows, tail[rows, 0]] = NEG_INF
        return log_probs

    def describe(self) -> str:
        return f"no token {self.max_run + 1} times in a row"


class NoRepeatNGram(LogitsProcessor):
    """Soft: no n-gram of size ``n`` twice in a poem (a token that would repeat one is masked)."""

    hard = False

    def __init__(self, n: int):
        if n < 1:
            raise ValueError("the no-repeat n-gram size must be at least 1")
        self.n = int(n)

    def __call__(self, history, log_probs):
        n, t = self.n, history.shape[1]
        if t < n - 1:
            return log_probs
        for r in range(history.shape[0]):
            row = history[r].tolist()
            context = tuple(row[t - n + 1 :]) if n > 1 else ()
            banned = [row[i + n - 1] for i in range(t - n + 1) if tuple(row[i : i + n - 1]) == context]
            if banned:
                log_probs[r, banned] = NEG_INF
        return log_probs

    def describe(self) -> str:
        return f"no repeated {self.n}-gram"


class ConstraintChain:
    """Processors applied in order: the hard ones, then each soft one where it leaves something allowed."""

    def __init__(self, processors: Sequence[LogitsProcessor] = ()):
        self.processors = list(processors)

    def __iter__(self):
        return iter(self.processors)

    def __len__(self) -> int:
        return len(self.processors)

    def apply_hard(self, history: np.ndarray, log_probs: np.ndarray) -> np.ndarray:
        out = np.array(log_probs, dtype=np.float32, copy=True)
        for processor in self.processors:
            if processor.hard:
                out = processor(history, out)
        return out

    def __call__(self, history, log_probs) -> np.ndarray:
        history = np.asarray(history, dtype=np.int64).reshape(np.shape(log_probs)[0], -1)
        out = self.apply_hard(history, log_probs)
        dead = ~np.isfinite(out).any(axis=1)
        if dead.any():
            raise ConstraintError(
                "no token satisfies "
                + " and ".join(p.describe() for p in self.processors if p.hard)
                + f" after {history.shape[1]} tokens"
            )
        for processor in self.processors:
            if not processor.hard:
                masked = processor(history, out.copy())
                ok = np.isfinite(masked).any(axis=1)
                out = np.where(ok[:, None], masked, out)
        return out

    def blocker(self, history: np.ndarray, token: int, vocab_size: int) -> LogitsProcessor | None:
        """The first hard processor that forbids ``token`` after ``history`` (one row), or None."""
        history = np.asarray(history, dtype=np.int64).reshape(1, -1)
        for processor in self.processors:
            if processor.hard:
                probe = np.zeros((1, vocab_size), dtype=np.float32)
                if not np.isfinite(processor(history, probe)[0, token]):
                    return processor
        return None


@dataclass
class Constraints:
    """What :func:`build_constraints` checked and assembled: the prompt ids, the chain and the max length."""

    prompt: np.ndarray  # ids of the begin text (no <bos>)
    chain: ConstraintChain
    max_len: int  # most characters in a poem, punctuation included, <eos> not counted
    form: Form | None
    acrostic: str
    begin: str


def check_text(label: str, text: str) -> str:
    """``text`` itself; a one-line error if it holds lone surrogates (bytes that were not valid UTF-8)."""
    if any(0xD800 <= ord(char) <= 0xDFFF for char in text):
        raise ConstraintError(
            f"{label} is not valid UTF-8 text (check your terminal's encoding, e.g. LANG=C.UTF-8)"
        )
    return text


def _unknown_error(vocab: Vocabulary, label: str, text: str) -> None:
    unknown = vocab.unknown(text)
    if unknown:
        listed = "".join(unknown)
        raise VocabularyError(f"the model does not know {listed!r} (in {label} {text!r})")


def build_constraints(
    vocab: Vocabulary,
    *,
    begin: str = "",
    acrostic: str = "",
    form: str | Form | None = None,
    max_len: int | None = None,
    no_repeat: bool = True,
    no_repeat_ngram: int = 0,
) -> Constraints:
    """Check the request against the vocabulary and assemble the constraint chain; errors before any decoding."""
    begin = check_text("begin", begin or "")
    acrostic = check_text("acrostic", acrostic or "")
    form = get_form(form) if form else None
    if max_len is not None and max_len < 1:
        raise ConstraintError(f"max length must be at least 1, got {max_len}")
    if no_repeat_ngram < 0:
        raise ConstraintError(f"the no-repeat n-gram size must be 0 (off) or more, got {no_repeat_ngram}")
    _unknown_error(vocab, "begin", begin)
    _unknown_error(vocab, "acrostic", acrostic)
    if any(is_punctuation(char) for char in acrostic):
        raise ConstraintError(f"an acrostic is characters only, without punctuation: {acrostic!r}")
    if form is not None and acrostic and len(acrostic) != form.lines:
        relation = "longer than" if len(acrostic) > form.lines else "shorter than"
        raise ConstraintError(
            f"acrostic {acrostic!r} has {len(acrostic)} characters, {relation} {form.name}'s {form.lines} lines"
        )

    classes = TokenClasses(vocab)
    processors: list[LogitsProcessor] = [BannedTokens()]
    structure: LineForm | None = None
    if form is not None:
        structure = LineForm(classes, form.lines, (form.chars,), f"the form {form.name}")
    elif acrostic:
        lengths = FREE_ACROSTIC_LENGTHS
        if max_len is not None:
            lengths = tuple(n for n in lengths if len(acrostic) * (n + 1) <= max_len) or lengths[:1]
        structure = LineForm(classes, len(acrostic), lengths, f"a {len(acrostic)}-line acrostic poem")
    if structure is not None:
        needed = [COMMA] if structure.lines > 1 else []
        missing = [mark for mark in (*needed, FULL_STOP) if mark not in vocab]
        if missing:
            raise ConstraintError(f"{structure.describe()} needs {''.join(missing)!r}, which the model does not know")
        if not classes.char.any():
            raise ConstraintError("the model's vocabulary has no characters to write with")
        processors.append(structure)
        if max_len is None:
            max_len = structure.max_length
        elif max_len < structure.min_length:
            raise ConstraintError(
                f"max length {max_len} is too short for {structure.describe()} ({structure.min_length} characters)"
            )
    else:
        processors.append(FreeEnd(classes))
        if max_len is None:
            max_len = max(DEFAULT_MAX_LEN, len(begin))
    if acrostic:
        processors.append(Acrostic(classes, [vocab.id(char) for char in acrostic], acrostic))
    prompt = vocab.encode(begin, strict=True) if begin else np.zeros(0, dtype=np.int32)
    if len(prompt) > max_len:
        raise ConstraintError(f"begin {begin!r} is longer than the max length {max_len}")
    if len(prompt):
        processors.append(ForcedPrefix(prompt, begin))
    if no_repeat:
        processors.append(NoRepeat())
    if no_repeat_ngram:
        processors.append(NoRepeatNGram(no_repeat_ngram))
    chain = ConstraintChain(processors)
    constraints = Constraints(prompt.astype(np.int32), chain, int(max_len), form, acrostic, begin)
    validate(constraints, vocab)
    return constraints


def validate(constraints: Constraints, vocab: Vocabulary) -> None:
    """The prompt obeys the hard constraints, and some poem completes it within the max length (a dry run)."""
    chain, prompt = constraints.chain, constraints.prompt
    size = len(vocab)
    for t in range(len(prompt)):
        history = prompt[:t].reshape(1, -1)
        out = chain.apply_hard(history, np.zeros((1, size), dtype=np.float32))
        if not np.isfinite(out[0, prompt[t]]):
            blocker = chain.blocker(history, int(prompt[t]), size)
            why = blocker.describe() if blocker is not None else "the constraints"
            raise ConstraintError(
                f"begin {constraints.begin!r} does not fit {why}: {vocab.tokens[prompt[t]]!r} cannot be character {t + 1}"
            )
    # Dry run: follow the lowest allowed id until <eos> or the max length; a dead end means the request cannot be met.
    history = list(prompt)
    while len(history) < constraints.max_len:
        out = chain.apply_hard(np.asarray(history, dtype=np.int64).reshape(1, -1), np.zeros((1, size), np.float32))
        allowed = np.flatnonzero(np.isfinite(out[0]))
        if allowed.size == 0:
            raise ConstraintError(
                "the constraints cannot all be met: nothing may follow "
                f"{vocab.decode(history)!r} under " + " and ".join(p.describe() for p in chain if p.hard)
            )
        if allowed[0] == EOS_ID:
            return
        history.append(int(allowed[0]))
    if any(isinstance(p, LineForm) for p in chain):
        out = chain.apply_hard(np.asarray(history, dtype=np.int64).reshape(1, -1), np.zeros((1, size), np.float32))
        if not np.isfinite(out[0, EOS_ID]):
            raise ConstraintError(f"max length {constraints.max_len} is too short for the requested poem")
