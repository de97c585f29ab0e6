"""Masks over a model's vocabulary for the rules of :mod:`tangpoet_rhyme.rules`: static ones for the planner
(``restrict``) and the logits processors that apply the rest while decoding, with look-ahead so that no row is ever
left without an allowed token.

Positions: under a form of ``L`` characters per line, token ``t`` of the poem (prompt included, no ``<bos>``) is
column ``t % (L + 1)`` of line ``t // (L + 1)``; column ``L`` is the line's mark, which the form places.
"""

from __future__ import annotations

import numpy as np

from tangpoet.decoding.constraints.base import NEG_INF, LogitsProcessor
from tangpoet_rhyme import rules
from tangpoet_rhyme.table import RhymeTable, rhyme_table


class VocabProsody:
    """Per token of a vocabulary: its tone class and its 平声 groups (cached per vocabulary)."""

    def __init__(self, vocab, classes, table: RhymeTable | None = None):
        table = table if table is not None else rhyme_table()
        self.table = table
        self.size = len(vocab)
        self.char = np.asarray(classes.char, dtype=bool)
        self.cls = np.full(self.size, rules.UNKNOWN, dtype=np.int8)
        self.groups = table.level_groups
        self.member = np.zeros((self.size, len(self.groups)), dtype=bool)  # member[token, group]: 平声 of the group
        index = {name: g for g, name in enumerate(self.groups)}
        for i, token in enumerate(vocab.tokens):
            if not self.char[i]:
                continue
            self.cls[i] = rules.tone_class(table.tone(token))
            for name in table.level(token):
                self.member[i, index[name]] = True
        self.by_class = [self.char & (self.cls == c) for c in rules.CLASSES]
        # How a reader of the traditional text sees each character: OpenCC s2t (one character) looked up in the data
        # alone. A simplified character that merges traditional ones of other tones (干 = 乾 幹, 宁 = 寧 宁) or whose
        # usual traditional form the data lacks (峰 → 峯) reads differently from its table entry.
        from tangpoet_rhyme.table import traditional

        self.reader_cls = np.full(self.size, rules.UNKNOWN, dtype=np.int8)
        self.stable_rhyme = np.zeros(self.size, dtype=bool)
        for i, token in enumerate(vocab.tokens):
            if not self.char[i]:
                continue
            read = traditional(token)
            if len(read) != 1:
                continue
            self.reader_cls[i] = rules.tone_class(table.data_tone(read))
            level = table.data_groups(read) & frozenset(table.level_groups)
            self.stable_rhyme[i] = bool(level) and level == table.level(token)

        # Every reading: OpenCC converts by phrase (吁 alone is 籲 七遇, in 长吁 it stays 吁 七虞; 香烟 becomes 香菸), so
        # a reader may see any character of the data the simplified one stands for, or any traditional form OpenCC
        # knows for it (one the data lacks reads as unknown), besides its own s2t form. A token is safe where a tone
        # decides when *every* such reading fits; ``cores`` holds every group core any of them has.
        from tangpoet_rhyme.table import traditional_forms

        forms = traditional_forms()
        core_names = sorted({name.split("聲")[-1] for name in table.group_names})
        core_index = {name: k for k, name in enumerate(core_names)}
        self.cores = np.zeros((self.size, len(core_names)), dtype=bool)
        self._every: dict[str, np.ndarray] = {t: np.zeros(self.size, dtype=bool) for t in (rules.PING_TONE, rules.ZE_TONE)}
        self.every_ze = np.zeros(self.size, dtype=bool)  # every reading in the data, and 仄 only
        self.every_stable = np.zeros(self.size, dtype=bool)  # every reading has exactly the token's 平声 groups
        for i, token in enumerate(vocab.tokens):
            if not self.char[i]:
                continue
            readings = set(table.variants(token)) | set(forms.get(token, ())) | (
                {traditional(token)} if len(traditional(token)) == 1 else set()
            )
            if not readings:
                continue
            groups = [table.data_groups(r) for r in readings]
            for names in [*groups, table.groups(token)]:
                for name in names:
                    self.cores[i, core_index[name.split("聲")[-1]]] = True
            classes = [rules.tone_class(table.data_tone(r)) for r in readings]
            for tone, mask in self._every.items():
                mask[i] = all(rules.fits(c, tone) for c in classes)
            self.every_ze[i] = all(c == rules.ZE for c in classes)
            level = table.level(token)
            self.every_stable[i] = bool(level) and all(g & frozenset(table.level_groups) == level for g in groups)

    def every_fits(self, tone: str) -> np.ndarray:
        """Characters every reading of which (see ``cores``) fits ``tone``."""
        return self._every[tone]

    def safe_rhyme(self) -> np.ndarray:
        """Where a line rhymes: every reading 平 (or either) and in the very 平声 groups of the character."""
        return self.every_stable & self.every_fits(rules.PING_TONE)

    def safe_plain_end(self) -> np.ndarray:
        """Where a line must not rhyme: every reading in the data and 仄 only (no reader hears a rhyme there)."""
        return self.every_ze & (self.cls == rules.ZE)

    def reader_fits(self, tone: str) -> np.ndarray:
        """Characters whose reading in traditional characters fits ``tone`` (see ``reader_cls``)."""
        return self.char & np.isin(self.reader_cls, [c for c in rules.CLASSES if rules.fits(c, tone)])

    def class_mask(self, classes) -> np.ndarray:
        mask = np.zeros(self.size, dtype=bool)
        for c in classes:
            mask |= self.by_class[c]
        return mask

    def fits_mask(self, tone: str) -> np.ndarray:
        return self.class_mask([c for c in rules.CLASSES if rules.fits(c, tone)])

    def avail(self, allowed_row: np.ndarray) -> tuple[frozenset, ...]:
        """``allowed_row`` ``[cols, V]`` → per column, the classes that have an allowed token."""
        return tuple(frozenset(int(c) for c in rules.CLASSES if (allowed_row[col] & self.by_class[c]).any())
                     for col in range(allowed_row.shape[0]))


_CACHE: dict[int, tuple[object, VocabProsody]] = {}


def prosody_of(vocab, classes) -> VocabProsody:
    """The :class:`VocabProsody` of ``vocab`` (one per vocabulary object, kept while it lives)."""
    hit = _CACHE.get(id(vocab))
    if hit is not None and hit[0] is vocab:
        return hit[1]
    made = VocabProsody(vocab, classes)
    if len(_CACHE) > 8:
        _CACHE.clear()
    _CACHE[id(vocab)] = (vocab, made)
    return made


def _mask_rows(log_probs: np.ndarray, keys: np.ndarray, key: tuple, keep: np.ndarray) -> None:
    """Forbid the tokens outside ``keep`` in the rows whose ``keys`` row equals ``key``."""
    banned = np.flatnonzero(~keep)
    match = (keys == np.asarray(key, dtype=keys.dtype).reshape(1, -1)).all(axis=1)
    if match.all():
        log_probs[:, banned] = NEG_INF
    else:
        log_probs[np.ix_(np.flatnonzero(match), banned)] = NEG_INF


def _position(t: int, chars: int) -> tuple[int, int]:
    return divmod(t, chars + 1)


# ------------------------------------------------------------------------------------------------ tones
def tone_restrict(allowed: np.ndarray, pros: VocabProsody, patterns, strict: bool) -> str | None:
    """AND into ``allowed`` ``[lines, cols, V]`` the classes each position may take in a rule-free line; a reason
    (one line) where some line can have none."""
    for line, pattern in enumerate(patterns):
        per_col = rules.column_classes(pattern, strict, pros.avail(allowed[line]))
        if not all(per_col):
            return f"line {line + 1} cannot follow the tone pattern {pattern} with the characters it must or may hold"
        for col, classes in enumerate(per_col):
            allowed[line, col] &= pros.class_mask(classes)
    return None


class TonePattern(LogitsProcessor):
    """Hard: each line follows its pattern at the fixed positions and has neither 孤平 nor 三平尾; a free position
    takes only classes after which the line can still finish rule-free (look-ahead over the static masks)."""

    def __init__(self, pros: VocabProsody, allowed: np.ndarray, patterns, chars: int, strict: bool, name: str):
        self.pros, self.patterns, self.chars, self.strict, self.name = pros, tuple(patterns), chars, strict, name
        self.avail = [pros.avail(allowed[line]) for line in range(len(self.patterns))]
        self._masks: dict[frozenset, np.ndarray] = {}

    def _mask(self, classes: frozenset) -> np.ndarray:
        mask = self._masks.get(classes)
        if mask is None:
            mask = self._masks[classes] = self.pros.class_mask(classes)
        return mask

    def __call__(self, history, log_probs):
        line, col = _position(history.shape[1], self.chars)
        if col >= self.chars or line >= len(self.patterns):
            return log_probs
        start = line * (self.chars + 1)
        prefixes = self.pros.cls[history[:, start:]]
        for key in {tuple(int(c) for c in row) for row in prefixes}:
            options = rules.next_classes(self.patterns[line], self.strict, self.avail[line], key)
            _mask_rows(log_probs, prefixes, key, self._mask(options))
        return log_probs

    def describe(self) -> str:
        return f"the tone pattern {self.name}"


# ------------------------------------------------------------------------------------------------ rhyme
def rhyme_sets(allowed: np.ndarray, pros: VocabProsody, positions, group: int, used=()) -> list[set]:
    """Per rhyme position, the allowed tokens of ``group`` not in ``used``."""
    used = set(used)
    return [set(np.flatnonzero(allowed[line, col] & pros.member[:, group]).tolist()) - used for line, col in positions]


def viable_groups(allowed: np.ndarray, pros: VocabProsody, positions, groups=None) -> list[int]:
    """The 平声 groups that can give every rhyme position a different allowed character."""
    candidates = range(len(pros.groups)) if groups is None else groups
    return [g for g in candidates if rules.distinct_choice(rhyme_sets(allowed, pros, positions, g))]


def _prefer(allowed: np.ndarray, line: int, col: int, mask: np.ndarray) -> None:
    """AND ``mask`` into the position unless that leaves it nothing (a begin text or a keyword placed a character)."""
    narrowed = allowed[line, col] & mask
    if narrowed.any():
        allowed[line, col] = narrowed


def rhyme_restrict(allowed: np.ndarray, pros: VocabProsody, positions, other_ends, groups=None, safe: bool = False) -> list[int]:
    """AND into ``allowed``: rhyme positions → characters of a viable group; the other line ends → a 仄 reading.
    With ``safe``, line ends read the same to every reader (:meth:`VocabProsody.safe_rhyme`, ``safe_plain_end``)
    wherever that leaves the position something and the rhyme a group. Returns the viable groups (empty: the rhyme
    cannot be met)."""
    for line, col in other_ends:
        allowed[line, col] &= pros.fits_mask(rules.ZE_TONE)
        if safe:
            _prefer(allowed, line, col, pros.safe_plain_end())
    if safe:
        trial = allowed.copy()
        for line, col in positions:
            _prefer(trial, line, col, pros.safe_rhyme())
        if viable_groups(trial, pros, positions, groups):
            allowed[...] = trial
    viable = viable_groups(allowed, pros, positions, groups)
    keep = pros.member[:, viable].any(axis=1) if viable else np.zeros(pros.size, dtype=bool)
    for line, col in positions:
        allowed[line, col] &= keep
    return viable


class Rhyme(LogitsProcessor):
    """Hard: every rhyme position takes a 平声 character of one group shared with the row's earlier rhyme characters,
    none twice, and only where every later rhyme position can still get a different allowed character of that group.
    """

    def __init__(self, pros: VocabProsody, allowed: np.ndarray, positions, groups, chars: int, name: str):
        self.pros, self.chars, self.name = pros, chars, name
        self.positions = list(positions)
        self.flat = [line * (chars + 1) + col for line, col in self.positions]
        self.groups = list(groups)
        self.allowed = allowed[[p[0] for p in self.positions], [p[1] for p in self.positions]].copy()  # [k, V]
        self._cache: dict[tuple, np.ndarray] = {}

    def allowed_after(self, used: tuple[int, ...]) -> np.ndarray:
        """Tokens allowed at rhyme position ``len(used)`` after the rhyme characters ``used``."""
        hit = self._cache.get(used)
        if hit is not None:
            return hit
        k = len(used)
        mask = np.zeros(self.pros.size, dtype=bool)
        for g in self.groups:
            if used and not self.pros.member[list(used), g].all():
                continue
            member = self.pros.member[:, g]
            here = set(np.flatnonzero(self.allowed[k] & member).tolist()) - set(used)
            later = [set(np.flatnonzero(self.allowed[j] & member).tolist()) - set(used)
                     for j in range(k + 1, len(self.positions))]
            if not rules.distinct_choice(later):
                continue
            risky = set().union(*[s for s in later if len(s) <= len(later)]) if later else set()
            ok = [c for c in here if c not in risky or rules.distinct_choice([s - {c} for s in later])]
            mask[ok] = True
        self._cache[used] = mask
        return mask

    def __call__(self, history, log_probs):
        t = history.shape[1]
        if t not in self.flat:
            return log_probs
        k = self.flat.index(t)
        earlier = history[:, self.flat[:k]]
        for key in {tuple(int(x) for x in row) for row in earlier}:
            _mask_rows(log_probs, earlier, key, self.allowed_after(key))
        return log_probs

    def describe(self) -> str:
        return f"the rhyme ({self.name})"


class NoEcho(LogitsProcessor):
    """Soft: a line end that must not rhyme shares no group — under any reading, any tone — with the row's rhyme
    characters so far (a reader who hears 識 as 寘 hears it rhyme with 思, which 寘 reads too). Dropped for a row
    where it would leave nothing (a placed character)."""

    hard = False

    def __init__(self, pros: VocabProsody, chars: int, rhymes, plain_ends):
        self.pros = pros
        flat = lambda line, col: line * (chars + 1) + col  # noqa: E731
        self.rhymes = sorted(flat(line, col) for line, col in rhymes)
        self.ends = {flat(line, col) for line, col in plain_ends}

    def __call__(self, history, log_probs):
        t = history.shape[1]
        earlier = [p for p in self.rhymes if p < t]
        if t not in self.ends or not earlier:
            return log_probs
        cores = self.pros.cores
        heard = cores[history[:, earlier]].any(axis=1)  # [rows, cores]: every group core of the rows' rhymes
        echo = (heard.astype(np.float32) @ cores.T.astype(np.float32)) > 0  # [rows, V]
        log_probs[echo] = NEG_INF
        return log_probs

    def describe(self) -> str:
        return "line ends that do not rhyme share no reading's group with the rhymes"


class ReaderSafe(LogitsProcessor):
    """Soft: where the rules fix a tone (or a rhyme), prefer characters that keep it when the poem is read in
    traditional characters — no merged simplified character of another tone (干 → 幹), none whose usual traditional
    form the data lacks (峰 → 峯), rhymes whose group does not change, and at a line end that does not rhyme a
    character with no 平 reading at all (so that no reader hears a rhyme there). Dropped for a row where it would
    leave nothing, so it never makes the hard rules harder."""

    hard = False

    def __init__(self, keep: dict[int, np.ndarray]):
        self.keep = keep  # flat position -> bool mask over the vocabulary

    def __call__(self, history, log_probs):
        keep = self.keep.get(history.shape[1])
        if keep is not None:
            log_probs[:, ~keep] = NEG_INF
        return log_probs

    def describe(self) -> str:
        return "tones and rhymes that read the same in traditional characters"


def reader_safe(pros: VocabProsody, chars: int, patterns=None, strict: bool = False, rhymes=(), plain_ends=()):
    """A :class:`ReaderSafe` for the tone ``patterns`` (fixed columns), the rhyme positions and the plain ends."""
    keep: dict[int, np.ndarray] = {}

    def need(line: int, col: int, mask: np.ndarray) -> None:
        t = line * (chars + 1) + col
        keep[t] = keep[t] & mask if t in keep else mask

    for line, pattern in enumerate(patterns or ()):
        for col in rules.fixed_cols(chars, strict):
            need(line, col, pros.reader_fits(pattern[col]) & pros.every_fits(pattern[col]))
    for line, col in rhymes:
        need(line, col, pros.stable_rhyme & pros.reader_fits(rules.PING_TONE) & pros.safe_rhyme())
    for line, col in plain_ends:
        need(line, col, pros.char & (pros.reader_cls == rules.ZE) & pros.safe_plain_end())
    return ReaderSafe(keep)
