"""Checking a finished poem against the rules of :mod:`tangpoet_rhyme.rules` — the same functions the masks use.

:func:`check_poem` tries every poem pattern the options allow (平起/仄起 × 首句入韵 or not) and keeps the one the poem
breaks least; :func:`violations` turns its faults into :class:`~tangpoet.decoding.constraints.base.Violation` s (one
readable line each, Chinese and English); :func:`annotate` gives the per-character marks ``tangpoet check`` prints.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from tangpoet_rhyme import rules
from tangpoet_rhyme.table import core, rhyme_table

LINE_END = "，。？！；"
_DROP = LINE_END + "、：:,.!?;「」『』“”‘’（）() \t\r\n"
_FORMS = {(4, 5): "五言绝句", (4, 7): "七言绝句", (8, 5): "五言律诗", (8, 7): "七言律诗"}
ORDINAL_EN = {1: "st", 2: "nd", 3: "rd"}


def split_verses(text: str) -> list[str]:
    """The verses of ``text`` (split after ``，。？！；`` and at line breaks), without punctuation or spaces."""
    verses, current = [], []
    for char in unicodedata.normalize("NFC", text):  # CJK compatibility ideographs → their unified characters
        if char in LINE_END or char == "\n":
            verses.append("".join(current))
            current = []
        elif char not in _DROP:
            current.append(char)
    verses.append("".join(current))
    return [verse for verse in verses if verse]


def shape_form(verses: list[str]) -> str | None:
    lengths = {len(v) for v in verses}
    return _FORMS.get((len(verses), lengths.pop())) if len(lengths) == 1 else None


@dataclass
class Result:
    """The outcome of checking one poem under its best-fitting pattern."""

    verses: list[str]
    form: str | None
    pattern: rules.PoemPattern | None = None
    line_patterns: tuple[str, ...] = ()
    faults: list[tuple[str, int | None, int | None, str]] = field(default_factory=list)  # rule, line, col, detail
    group: str | None = None
    strict: bool = False

    @property
    def ok(self) -> bool:
        return not self.faults


def _tone_faults(classes, patterns, strict: bool, ends: bool):
    out = []
    for line, (cls, pattern) in enumerate(zip(classes, patterns)):
        for rule, col in rules.line_faults(cls, pattern, strict, ends):
            out.append((rule, line, col, pattern))
    return out


def check_poem(text: str, *, tones: bool = True, rhyme: bool = True, strict: bool = False,
               qi: str | None = None, first_rhymes: bool | None = None, group: str | None = None,
               form=None) -> Result:
    """Check ``text`` (simplified or traditional, punctuation optional between verses)."""
    table = rhyme_table()
    verses = split_verses(text)
    found = shape_form(verses)
    expected = getattr(form, "name", form)
    if found is None or (expected and found != expected):
        shape = "+".join(str(len(v)) for v in verses) or "0"
        want = expected or "a regulated form (4 or 8 lines of 5 or 7 characters)"
        detail = f"{len(verses)} lines of {shape} characters; the tone and rhyme rules need {want}"
        return Result(verses, found, faults=[("length", None, None, detail)])
    chars = len(verses[0])
    classes = [tuple(rules.tone_class(table.tone(c)) for c in v) for v in verses]
    ends = [v[-1] for v in verses]
    best: Result | None = None
    for pattern in rules.patterns_for(qi, first_rhymes if rhyme or tones else None):
        patterns = pattern.line_patterns(len(verses), chars)
        faults = _tone_faults(classes, patterns, strict, ends=not rhyme) if tones else []
        chosen = None
        if rhyme:
            found_faults, chosen = rules.rhyme_faults(ends, pattern.rhyme_lines(len(verses)), table)
            if group is not None and chosen != group and chosen is not None:
                found_faults.append(("rhyme-group", None, chosen))
            faults += [(rule, line, len(verses[line]) - 1 if line is not None else None, detail)
                       for rule, line, detail in found_faults]
        result = Result(verses, found, pattern, patterns, faults, chosen, strict)
        if best is None or len(result.faults) < len(best.faults):
            best = result
    return best


def _where(line: int, col: int | None) -> tuple[str, str]:
    if col is None:
        return f"第{line + 1}句", f"line {line + 1}"
    return f"第{line + 1}句第{col + 1}字", f"line {line + 1}, char {col + 1}"


def violations(result: Result):
    """The result's faults as Violations; 对/粘 faults are named so (``dui``/``nian``) at the 2nd/4th/6th character."""
    from tangpoet.decoding.constraints.base import Violation

    out = []
    table = rhyme_table()
    for rule, line, col, detail in result.faults:
        if line is None:
            if rule == "rhyme-group":
                out.append(Violation("rhyme", None, None, f"韵部是{core(detail)}，不是所要求的韵部 (the rhyme group is {detail})"))
            else:
                out.append(Violation(rule, None, None, detail))
            continue
        char = result.verses[line][col]
        zh, en = _where(line, col)
        fixed = col in rules.fixed_cols(len(result.verses[line]), result.strict)
        if rule in ("tone", "unknown-tone") and col != len(result.verses[line]) - 1 and fixed:
            want = detail[col]
            if rule == "unknown-tone":
                out.append(Violation(rule, line, col, f"{zh}「{char}」不在平水韵中，此处应{want} ({en}: {char} has no tone in the 平水韵 data; {want} required)"))
                continue
            if line > 0 and col % 2 == 1 and col < len(detail) - 1:
                rule = "dui" if line % 2 == 1 else "nian"
                name = "对" if rule == "dui" else "粘"
                reason = "与上句相对" if rule == "dui" else "与上句相粘"
                out.append(Violation(rule, line, col, f"{zh}「{char}」应{want}（{name}：{reason}，{detail}）({en} should be {want}: {rule})"))
            else:
                out.append(Violation("tone", line, col, f"{zh}「{char}」应{want}（{detail}）({en} should be {want})"))
        elif rule == "tone":  # the last column, tones without rhyme
            want = detail[col]
            out.append(Violation("tone", line, col, f"{zh}「{char}」应{want}（{detail}）({en} should be {want})"))
        elif rule == "unknown-tone" and col == len(result.verses[line]) - 1:
            out.append(Violation(rule, line, col, f"{zh}「{char}」不在平水韵中 ({en}: {char} is not in the 平水韵 data)"))
        elif rule == "unknown-tone":  # a free position whose tone decides 孤平 / 三平尾
            out.append(Violation(rule, line, col, f"{zh}「{char}」不在平水韵中，无从判断孤平/三平尾（{detail}）({en}: {char} is not in the 平水韵 data; 孤平/三平尾 cannot be ruled out)"))
        elif rule == "gu-ping":
            out.append(Violation(rule, line, col, f"{zh}犯孤平：{result.verses[line]}（{detail}）({en}: 孤平, only one 平 besides the rhyme)"))
        elif rule == "san-ping-wei":
            out.append(Violation(rule, line, col, f"{zh}起三平尾：{result.verses[line]}（{detail}）({en}: 三平尾, the last three characters are all 平)"))
        elif rule == "rhyme":
            groups = "、".join(core(g) for g in sorted(table.groups(char))) or "?"
            if detail == "仄声":
                out.append(Violation(rule, line, col, f"{zh}「{char}」是仄声（{groups}），韵脚应平声 ({en}: the rhyme must be 平)"))
            elif detail == "other group":
                out.append(Violation(rule, line, col, f"{zh}「{char}」（{groups}）不押{core(result.group)}韵 ({en}: does not rhyme in {result.group})"))
            else:
                out.append(Violation(rule, line, col, f"{zh}「{char}」是平声（{groups}），不入韵句应仄收 ({en}: a line that does not rhyme ends in 仄)"))
        elif rule == "rhyme-repeat":
            out.append(Violation(rule, line, col, f"{zh}韵脚「{char}」与第{int(detail) + 1}句重复 ({en}: rhyme character used twice)"))
        else:
            out.append(Violation(rule, line, col, f"{zh}: {detail}"))
    return out


def annotate(result: Result) -> dict:
    """``{"lines": [{"chars", "tones", "rhyme", "pattern"}], "pattern_name"}`` (the contract's shape)."""
    table = rhyme_table()
    rhyme_lines = set(result.pattern.rhyme_lines(len(result.verses))) if result.pattern else set()
    lines = []
    for i, verse in enumerate(result.verses):
        end = verse[-1] if verse else ""
        if i in rhyme_lines and result.group and result.group in table.groups(end):
            rhyme = core(result.group)
        else:
            rhyme = "/".join(core(g) for g in sorted(table.groups(end), key=table.group_names.index)) or None
        lines.append({
            "chars": list(verse),
            "tones": [rules.CLASS_MARK[rules.tone_class(table.tone(c))] for c in verse],
            "rhyme": rhyme,
            "pattern": result.line_patterns[i] if i < len(result.line_patterns) else None,
        })
    return {"lines": lines, "pattern_name": result.pattern.name if result.pattern else None}
