"""Shi forms: 五言绝句 / 七言绝句 / 五言律诗 / 七言律诗, looked up by name or alias; the :class:`Form` shape that ci
tunes (:mod:`tangpoet.decoding.forms.tunes`) share.

A form is a number of lines of a fixed number of characters; ``，`` ends the odd lines (1st, 3rd, …) and ``。``
the even ones, then the poem ends. A 七言律诗 is 8 × (7 + 1) = 64 characters.
"""

from __future__ import annotations

from dataclasses import dataclass

from tangpoet.errors import UnknownNameError
from tangpoet.registry.base import did_you_mean

COMMA = "，"
FULL_STOP = "。"
# Marks that end a line (a verse) when a poem is split for printing and when acrostic lines are counted.
LINE_END = "，。？！；"
# Marks after which a poem may end when no form is asked for.
SENTENCE_END = "。？！"


@dataclass(frozen=True)
class Form:
    """A shape of verses. Shi: ``lines`` verses of ``chars`` characters. A ci tune's variant (:mod:`.tunes`) also
    has per-verse lengths (``verse_lengths``; ``chars`` is then the longest), its marks, tone pattern and rhymes."""

    name: str
    lines: int
    chars: int  # characters per line, punctuation not counted (ci: the longest verse)
    aliases: tuple[str, ...] = ()
    verse_lengths: tuple[int, ...] = ()  # ci: the length of each verse
    marks: str = ""  # ci: the mark that ends each verse (，or 。)
    variant: int = 0  # ci: 1 = the tune's commonest shape, 2 = the next (又一体) …; 0: a shi form
    tones: tuple[str, ...] = ()  # ci: per verse, 平 / 仄 / 中 per character
    rhymes: tuple[tuple[tuple[int, ...], str], ...] = ()  # ci: rhyme sets, (verses whose end rhymes, tone)
    stanza_break: int | None = None  # ci: the first verse of the second stanza (阕), or None
    count: int = 0  # ci: Song ci of this shape in the corpus the table was mined from
    kind: str = ""  # ci: 平韵 / 仄韵 / 平仄通叶 / 换韵

    @property
    def is_ci(self) -> bool:
        return self.variant > 0

    @property
    def lengths(self) -> tuple[int, ...]:
        """The length of each verse."""
        return self.verse_lengths or (self.chars,) * self.lines

    @property
    def length(self) -> int:
        """Characters in a poem of this form, punctuation included (``<eos>`` not counted)."""
        return sum(n + 1 for n in self.lengths)

    @property
    def total_chars(self) -> int:
        """Characters in a poem of this form, punctuation not counted."""
        return sum(self.lengths)

    def punctuation(self, line: int) -> str:
        """The mark that ends line ``line`` (0-based): shi ``，`` after odd lines, ``。`` after even ones; a ci its
        tune's mark (always ``。`` after the last verse)."""
        if self.marks:
            return self.marks[line] if line < len(self.marks) else FULL_STOP
        return COMMA if line % 2 == 0 else FULL_STOP

    def position(self, t: int) -> tuple[int, int]:
        """Token ``t`` of a poem of this form (punctuation counted) as ``(verse, column)``; column ``len(verse)`` is
        the verse's mark. Past the end: ``(lines, 0)``."""
        if not self.verse_lengths:
            return divmod(t, self.chars + 1)
        for line, n in enumerate(self.verse_lengths):
            if t <= n:
                return line, t
            t -= n + 1
        return self.lines, 0

    def __str__(self) -> str:
        return self.name if not self.is_ci else f"{self.name} (variant {self.variant})"


FORMS: tuple[Form, ...] = (
    Form("五言绝句", 4, 5, ("五绝", "wujue")),
    Form("七言绝句", 4, 7, ("七绝", "qijue")),
    Form("五言律诗", 8, 5, ("五律", "wulv")),
    Form("七言律诗", 8, 7, ("七律", "qilv")),
)

SHI_BY_NAME = {key: form for form in FORMS for key in (form.name, *form.aliases)}
