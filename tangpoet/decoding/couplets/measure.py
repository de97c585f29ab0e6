"""How parallel a poem's couplets are, position by position, and its 重字 (characters written twice).

A 律诗 (eight lines) must make its middle couplets parallel: 颔联 (lines 3–4) and 颈联 (lines 5–6); a longer
regulated poem (排律) every couplet but the first and the last; a 绝句 none. At each position of such a couplet the
first line's character and the second's form a :class:`Pair`, *paired* when the table reads them as parallel
(:meth:`~tangpoet.decoding.couplets.table.PairTable.paired`). A poem's **parallelism** is the share of paired
positions over the couplets that must be parallel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tangpoet.decoding.couplets.table import PairTable, load_table

_MARKS = re.compile("[，。？！；]")


def verses_of(text: str) -> list[str]:
    return [v for v in _MARKS.split(text) if v]


def parallel_couplets(form) -> list[tuple[int, int]]:
    """The couplets (0-based line pairs) of ``form`` that must be parallel: ``[(2, 3), (4, 5)]`` for a 律诗, ``[]``
    for a 绝句, a form without fixed lines of 5 or 7 characters, or ``None``."""
    lines, chars = getattr(form, "lines", None), getattr(form, "chars", None)
    if "律" not in str(getattr(form, "name", "")) or not isinstance(lines, int) or chars not in (5, 7) or lines < 8 \
            or lines % 2:
        return []
    return [(i, i + 1) for i in range(2, lines - 2, 2)]


@dataclass
class Pair:
    col: int
    first: str
    second: str
    score: float | None  # nats (None: a character the table does not know)
    paired: bool

    def to_dict(self) -> dict:
        return {"col": self.col, "first": self.first, "second": self.second,
                "score": None if self.score is None else round(self.score, 3), "paired": self.paired}


@dataclass
class CoupletReport:
    lines: tuple[int, int]  # 0-based
    pairs: list[Pair] = field(default_factory=list)

    @property
    def paired(self) -> int:
        return sum(p.paired for p in self.pairs)

    @property
    def share(self) -> float:
        return self.paired / max(len(self.pairs), 1)

    def to_dict(self) -> dict:
        return {"lines": [self.lines[0] + 1, self.lines[1] + 1], "paired": self.paired, "positions": len(self.pairs),
                "share": round(self.share, 3), "pairs": [p.to_dict() for p in self.pairs]}


def couplet_reports(text: str, form, table: PairTable | None = None) -> list[CoupletReport]:
    """Per couplet of ``form`` that must be parallel, the pairs of ``text`` position by position."""
    table = load_table(table)
    verses = verses_of(text)
    out = []
    for i, j in parallel_couplets(form):
        if j >= len(verses):
            break
        report = CoupletReport((i, j))
        first, second = verses[i], verses[j]
        doubled, lone = reduplicated(first, second)
        for col, (a, b) in enumerate(zip(first, second)):
            paired = (table.paired(a, b) or col in doubled) and col not in lone
            report.pairs.append(Pair(col, a, b, table.score(a, b), paired))
        out.append(report)
    return out


def reduplicated(first: str, second: str) -> tuple[set[int], set[int]]:
    """``(both, lone)``: the columns where both lines write a 叠字 (萧萧 / 滚滚: paired whatever the characters, as a
    whole), and those where only one line does (never paired: a 叠字 answers only a 叠字)."""
    both: set[int] = set()
    lone: set[int] = set()
    for col in range(min(len(first), len(second)) - 1):
        one, two = first[col] == first[col + 1], second[col] == second[col + 1]
        if one and two and first[col] != second[col]:
            both |= {col, col + 1}
        elif one != two:
            lone |= {col, col + 1}
    return both, lone


def parallelism(text: str, form, table: PairTable | None = None) -> float | None:
    """The share of paired positions over ``text``'s couplets that must be parallel (None: ``form`` has none)."""
    reports = couplet_reports(text, form, table)
    positions = sum(len(r.pairs) for r in reports)
    return sum(r.paired for r in reports) / positions if positions else None


def chongzi(text: str) -> list[tuple[str, list[tuple[int, int]]]]:
    """重字: each character ``text`` writes more than once other than as one 叠字 (the same character twice in a
    row within a line, 萧萧), with its places ``(line, col)`` (0-based), in order of first appearance."""
    places: dict[str, list[tuple[int, int]]] = {}
    for line, verse in enumerate(verses_of(text)):
        for col, char in enumerate(verse):
            places.setdefault(char, []).append((line, col))
    out = []
    for char, where in places.items():
        if len(where) < 2:
            continue
        if len(where) == 2 and where[0][0] == where[1][0] and where[1][1] == where[0][1] + 1:
            continue  # 叠字
        out.append((char, where))
    return out
