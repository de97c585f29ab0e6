"""The rules of regulated verse (近体诗) — one source of truth for masking while writing and for checking a poem.

Pure Python, no NumPy: tone classes, the four line patterns, the four poem patterns, and the rule functions
(:func:`line_faults`, :func:`rhyme_faults`). The logits processors (:mod:`tangpoet_rhyme.masks`) allow exactly the
characters for which these functions can still report no fault; the checker (:mod:`tangpoet_rhyme.checking`) turns
the faults they report into readable violations.

Tone classes of a character (from the 平水韵 data, :mod:`tangpoet_rhyme.table`):

- ``PING`` (平), ``ZE`` (仄): one tone only;
- ``BOTH`` (多音字 with a 平 and a 仄 reading): fits either tone wherever a tone is required;
- ``UNKNOWN``: not in the data — never fits a position whose tone is fixed; where the tone of a free position
  matters (孤平, 三平尾) it counts against the line.

The four line patterns (五言; 七言 puts two characters of the opposite tone in front):
仄仄平平仄, 平平仄仄平, 平平平仄仄, 仄仄仄平平. A line's pattern follows from the tone of its 2nd character and of its
last one. A poem pattern (平起/仄起 = the tone of the 1st line's 2nd character; 首句入韵 or not) fixes every line's
pattern: within a couplet the 2nd line is opposite (对) and ends in the rhyme (平), the next couplet's 1st line has
the same 2nd-character tone as the line before it (粘) and ends in 仄 — except the 1st line of a 首句入韵 poem, which
ends in the rhyme.

Fixed positions (二四六分明): characters 2, 4 and the last (五言), 2, 4, 6 and the last (七言); the others are free
(一三五不论) except that a line ending in 平 must not have 孤平 (the last five characters hold, besides the rhyme, at
most one 平 and it is not the one right before the rhyme: 仄平仄仄平) nor 三平尾 (its last three characters all 平).
``strict`` fixes every position.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

PING_TONE, ZE_TONE = "平", "仄"
PING, ZE, BOTH, UNKNOWN = 0, 1, 2, 3
CLASSES = (PING, ZE, BOTH, UNKNOWN)
CLASS_MARK = ("平", "仄", "平仄", "?")  # how annotate() prints a class

_FIVE = {  # (tone of the 2nd character, tone of the last) -> the 五言 line pattern
    (ZE_TONE, ZE_TONE): "仄仄平平仄",
    (ZE_TONE, PING_TONE): "仄仄仄平平",
    (PING_TONE, ZE_TONE): "平平平仄仄",
    (PING_TONE, PING_TONE): "平平仄仄平",
}
LINE_PATTERNS = {5: tuple(_FIVE.values()), 7: None}  # 7 filled below


def opposite(tone: str) -> str:
    return ZE_TONE if tone == PING_TONE else PING_TONE


def line_pattern(chars: int, second: str, end: str) -> str:
    """The line pattern of a ``chars``-character line (5 or 7) whose 2nd character is ``second`` and last ``end``."""
    if chars == 5:
        return _FIVE[(second, end)]
    if chars == 7:
        five = _FIVE[(opposite(second), end)]
        return opposite(five[0]) * 2 + five
    raise ValueError(f"regulated verse has lines of 5 or 7 characters, not {chars}")


LINE_PATTERNS[7] = tuple(line_pattern(7, s, e) for s in (ZE_TONE, PING_TONE) for e in (ZE_TONE, PING_TONE))


def fits(cls: int, tone: str) -> bool:
    """A character of class ``cls`` may stand where ``tone`` is required (多音字 fit either; unknown never)."""
    return cls == BOTH or (cls == PING and tone == PING_TONE) or (cls == ZE and tone == ZE_TONE)


def tone_class(mark: str) -> int:
    """``平 仄 中 ?`` (:meth:`RhymeTable.tone`) → a class."""
    return {"平": PING, "仄": ZE, "中": BOTH}.get(mark, UNKNOWN)


@dataclass(frozen=True)
class PoemPattern:
    """平起/仄起 (``qi``: the tone of the 1st line's 2nd character) and 首句入韵 (``first_rhymes``)."""

    qi: str
    first_rhymes: bool

    @property
    def name(self) -> str:
        return f"{self.qi}起首句{'入韵' if self.first_rhymes else '不入韵'}"

    def line_patterns(self, lines: int, chars: int) -> tuple[str, ...]:
        """The pattern of every line: 对 within a couplet, 粘 between couplets, even lines end in the rhyme (平)."""
        seconds, ends = [self.qi], [PING_TONE if self.first_rhymes else ZE_TONE]
        for i in range(1, lines):
            seconds.append(opposite(seconds[-1]) if i % 2 else seconds[-1])
            ends.append(PING_TONE if i % 2 else ZE_TONE)
        return tuple(line_pattern(chars, s, e) for s, e in zip(seconds, ends))

    def rhyme_lines(self, lines: int) -> tuple[int, ...]:
        """The lines (0-based) that end in the rhyme: the even lines, and the 1st when 首句入韵."""
        return ((0,) if self.first_rhymes else ()) + tuple(range(1, lines, 2))

    def __str__(self) -> str:
        return self.name


ALL_PATTERNS = tuple(PoemPattern(qi, first) for qi in (PING_TONE, ZE_TONE) for first in (True, False))


def patterns_for(qi: str | None = None, first_rhymes: bool | None = None) -> tuple[PoemPattern, ...]:
    return tuple(
        p for p in ALL_PATTERNS if (qi is None or p.qi == qi) and (first_rhymes is None or p.first_rhymes == first_rhymes)
    )


def fixed_cols(chars: int, strict: bool = False) -> tuple[int, ...]:
    """0-based columns whose tone the pattern fixes: 2, 4 (6) and the last; every column when ``strict``."""
    if strict:
        return tuple(range(chars))
    return tuple(range(1, chars - 1, 2)) + (chars - 1,)


def _reads_ping(cls: int, col: int, pattern: str, fixed: Sequence[int], *, avoid_ping: bool,
                unknown_faults: bool = True) -> bool:
    """How a character counts for 孤平 / 三平尾: at a fixed column that it fits, the pattern's tone; elsewhere its
    own tone, a 多音字 taking the reading that avoids the fault, and an unknown character the one that makes it
    (``unknown_faults``) or the one that avoids it."""
    if col in fixed and fits(cls, pattern[col]):
        return pattern[col] == PING_TONE
    if cls == PING:
        return True
    if cls == ZE:
        return False
    if cls == BOTH:
        return not avoid_ping
    return avoid_ping if unknown_faults else not avoid_ping


def gu_ping(classes: Sequence[int], pattern: str, fixed: Sequence[int], unknown_faults: bool = True) -> bool:
    """孤平: a line ending in 平 whose last five characters hold, besides the rhyme, at most one 平 and not the 4th."""
    if pattern[-1] != PING_TONE:
        return False
    n = len(pattern)
    tail = range(n - 5, n - 1)
    ping = [_reads_ping(classes[c], c, pattern, fixed, avoid_ping=False, unknown_faults=unknown_faults) for c in tail]
    return sum(ping) == 0 or (sum(ping) == 1 and not ping[3])


def san_ping_wei(classes: Sequence[int], pattern: str, fixed: Sequence[int], unknown_faults: bool = True) -> bool:
    """三平尾: a line ending in 平 whose last three characters are all 平."""
    if pattern[-1] != PING_TONE:
        return False
    n = len(pattern)
    return all(_reads_ping(classes[c], c, pattern, fixed, avoid_ping=True, unknown_faults=unknown_faults)
               for c in range(n - 3, n))


def line_faults(classes: Sequence[int], pattern: str, strict: bool = False, ends: bool = True) -> list[tuple[str, int]]:
    """Every tone rule ``classes`` (one line, one class per character) breaks under ``pattern``: ``(rule, col)``.

    Rules: ``unknown-tone`` / ``tone`` at a fixed column (``ends=False`` leaves the last column to the rhyme rules),
    ``gu-ping`` (col: the 1st of the last five), ``san-ping-wei`` (col: the 3rd from the end); where only a character
    missing from the data could make 孤平 / 三平尾, ``unknown-tone`` at that character.
    """
    n = len(pattern)
    if len(classes) != n:
        raise ValueError(f"a line of {len(classes)} characters under a pattern of {n}")
    fixed = fixed_cols(n, strict)
    out = []
    for c in fixed:
        if c == n - 1 and not ends:
            continue
        if classes[c] == UNKNOWN:
            out.append(("unknown-tone", c))
        elif not fits(classes[c], pattern[c]):
            out.append(("tone", c))
    # 孤平 / 三平尾 that only an unknown character's missing tone could cause are that character's fault
    # (unknown-tone), not the line's: the line is refused either way.
    for rule, test, cols in (("gu-ping", gu_ping, range(n - 5, n - 1)), ("san-ping-wei", san_ping_wei, range(n - 3, n))):
        if not test(classes, pattern, fixed):
            continue
        if test(classes, pattern, fixed, unknown_faults=False):
            out.append((rule, n - 5 if rule == "gu-ping" else n - 3))
        else:
            out += [("unknown-tone", c) for c in cols if classes[c] == UNKNOWN and ("unknown-tone", c) not in out]
    return out


def line_ok(classes: Sequence[int], pattern: str, strict: bool = False) -> bool:
    return not line_faults(classes, pattern, strict)


def _completions(pattern: str, strict: bool, avail: tuple[frozenset, ...], start: int) -> Iterable[tuple[int, ...]]:
    """Assignments of classes to columns ``start..`` (each from ``avail``), fixed columns only with fitting ones."""
    fixed = fixed_cols(len(pattern), strict)
    choices = []
    for col in range(start, len(pattern)):
        options = sorted(avail[col])
        if col in fixed:
            options = [c for c in options if fits(c, pattern[col])]
        choices.append(options)
    return itertools.product(*choices)


@lru_cache(maxsize=65536)
def next_classes(pattern: str, strict: bool, avail: tuple[frozenset, ...], prefix: tuple[int, ...]) -> frozenset:
    """The classes the next column (``len(prefix)``) may take so that the line can still end rule-free, each later
    column taking a class from ``avail`` (the classes the static masks leave there)."""
    col = len(prefix)
    found = set()
    for cls in avail[col]:
        for rest in _completions(pattern, strict, avail, col + 1):
            if line_ok((*prefix, cls, *rest), pattern, strict):
                found.add(cls)
                break
    return frozenset(found)


@lru_cache(maxsize=4096)
def column_classes(pattern: str, strict: bool, avail: tuple[frozenset, ...]) -> tuple[frozenset, ...]:
    """Per column, the classes that take part in some rule-free line (every column from ``avail``)."""
    per_col = [set() for _ in pattern]
    for line in _completions(pattern, strict, avail, 0):
        if line_ok(line, pattern, strict):
            for col, cls in enumerate(line):
                per_col[col].add(cls)
    return tuple(frozenset(s) for s in per_col)


# ------------------------------------------------------------------------------------------------ rhyme
def distinct_choice(sets: Sequence[set | frozenset]) -> bool:
    """Can every set give a different element (a system of distinct representatives)? Sets with at least as many
    elements as there are sets can always be served last, so only the small ones need a search."""
    k = len(sets)
    small = [s for s in sets if len(s) < k]
    if not small:
        return True
    small.sort(key=len)

    def search(i: int, used: frozenset) -> bool:
        if i == len(small):
            return True
        return any(search(i + 1, used | {x}) for x in small[i] if x not in used)

    return search(0, frozenset())


def rhyme_faults(ends: Sequence[str], rhyme_lines: Sequence[int], table) -> tuple[list[tuple[str, int, str]], str | None]:
    """The rhyme rules on a poem's line ends: ``([(rule, line, detail)], the rhyme group or None)``.

    Rhyme lines end in a 平声 character, all of one 平水韵 group (the group most of them share), none twice; the
    other lines end in a character with a 仄 reading.
    """
    faults: list[tuple[str, int, str]] = []
    rhyme_set = set(rhyme_lines)
    counts: dict[str, int] = {}
    for i in rhyme_lines:
        for group in table.level(ends[i]):
            counts[group] = counts.get(group, 0) + 1
    order = {name: k for k, name in enumerate(table.level_groups)}
    second = table.level(ends[1]) if len(ends) > 1 else frozenset()  # ties go to the group of the 2nd line's end
    group = min(counts, key=lambda g: (-counts[g], g not in second, order[g])) if counts else None
    seen: dict[str, int] = {}
    for i in rhyme_lines:
        char = ends[i]
        if char not in table:
            faults.append(("unknown-tone", i, "not in the 平水韵 data"))
        elif not table.level(char):
            faults.append(("rhyme", i, "仄声"))
        elif group not in table.level(char):
            faults.append(("rhyme", i, "other group"))
        if char in seen:
            faults.append(("rhyme-repeat", i, str(seen[char])))
        seen.setdefault(char, i)
    for i, char in enumerate(ends):
        if i in rhyme_set:
            continue
        if char not in table:
            faults.append(("unknown-tone", i, "not in the 平水韵 data"))
        elif not fits(tone_class(table.tone(char)), ZE_TONE):
            faults.append(("rhyme", i, "平声 on a line that does not rhyme"))
    return faults, group
