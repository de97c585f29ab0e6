"""Regulated verse forms: 五言绝句 / 七言绝句 / 五言律诗 / 七言律诗, looked up by name or alias.

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
    name: str
    lines: int
    chars: int  # characters per line, punctuation not counted
    aliases: tuple[str, ...] = ()

    @property
    def length(self) -> int:
        """Characters in a poem of this form, punctuation included (``<eos>`` not counted)."""
        return self.lines * (self.chars + 1)

    def punctuation(self, line: int) -> str:
        """The mark that ends line ``line`` (0-based): ``，`` after odd lines, ``。`` after even ones."""
        return COMMA if line % 2 == 0 else FULL_STOP

    def __str__(self) -> str:
        return self.name


FORMS: tuple[Form, ...] = (
    Form("五言绝句", 4, 5, ("五绝", "wujue")),
    Form("七言绝句", 4, 7, ("七绝", "qijue")),
    Form("五言律诗", 8, 5, ("五律", "wulv")),
    Form("七言律诗", 8, 7, ("七律", "qilv")),
)

_BY_NAME = {key: form for form in FORMS for key in (form.name, *form.aliases)}


def form_names() -> list[str]:
    """Every accepted name: the full names first, then the aliases."""
    return [form.name for form in FORMS] + [alias for form in FORMS for alias in form.aliases]


def get_form(name: str | Form) -> Form:
    """The form called ``name`` (full name or alias; Latin aliases ignore case and ``-``/``_``/spaces)."""
    if isinstance(name, Form):
        return name
    key = str(name).strip()
    if key in _BY_NAME:
        return _BY_NAME[key]
    latin = key.lower().replace("-", "").replace("_", "").replace(" ", "")
    if latin in _BY_NAME:
        return _BY_NAME[latin]
    known = form_names()
    raise UnknownNameError(f"unknown form {name!r}{did_you_mean(key, known)}; available: {', '.join(known)}")
