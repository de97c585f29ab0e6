"""Checking finished poems against the installed constraints: what ``tangpoet check`` prints.

A learner pastes a poem (``title:content`` or bare text, simplified or traditional, one verse per line or all on one
line) and gets back the form its shape matches, per verse the 平/仄 of each character and the rhyme group at its end
(from the constraints' :meth:`~tangpoet.decoding.constraints.Constraint.annotate`), and every rule it breaks (their
:meth:`~tangpoet.decoding.constraints.Constraint.check`: the same rules that mask the writing). The command line
only parses and prints.
"""

from __future__ import annotations

import itertools
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tangpoet.decoding.constraints import (
    CONSTRAINTS,
    Constraint,
    FormConstraint,
    VerseConstraint,
    Violation,
    detect_form,
    parse_spec,
    split_verses,
    to_constraint,
)
from tangpoet.decoding.forms import LINE_END, Form, get_form
from tangpoet.errors import PoemInputError

DEFAULT_PROSODY = "regulated"  # checked by default when a plugin provides it
_ASCII_MARKS = str.maketrans({",": "，", ".": "。", ";": "；", "?": "？", "!": "！"})
_TITLE = re.compile(r"^\s*([^:：\n]{1,40}?)\s*[:：]\s*(\S.*)$", re.S)
_TITLED_LINE = re.compile(r"^\s*([^:：\n]+?)\s*[:：]\s*(\S.*)$", re.S)  # a line of a title:content file
TONE_MARKS = {"平": "平", "仄": "仄", "平仄": "通", "仄平": "通"}  # 通: a character with both readings


@dataclass
class Poem:
    """One poem as read: its title (or None), its text in simplified characters, and the text as given."""

    title: str | None
    text: str
    original: str

    @property
    def converted(self) -> bool:
        return self.text != _body(self.original)


@dataclass
class PoemReport:
    poem: Poem
    form: Form | None
    constraints: list[str]
    violations: list[Violation] = field(default_factory=list)
    annotation: dict | None = None
    couplets: list = field(default_factory=list)  # CoupletReport per couplet that must be parallel (对仗)
    chongzi: list = field(default_factory=list)  # (char, [(line, col)]) per character written twice (重字)
    suggestions: list | None = None  # --suggest: a tangpoet.revision.Mend per violation at a character

    @property
    def passed(self) -> bool:
        return not self.violations

    @property
    def stanza_break(self) -> int | None:
        """A ci of two stanzas (阕): the index in :meth:`lines` of the second stanza's first verse, from the tune
        variant it was checked against (None for shi, one-stanza tunes, or a poem too short to reach the break)."""
        at = getattr(self.form, "stanza_break", None) if self.form is not None and self.form.is_ci else None
        return at if at and len(self.lines()) > at else None

    def to_dict(self) -> dict[str, Any]:
        out = self._dict()
        if self.suggestions is not None:
            out["suggestions"] = [mend.to_dict() for mend in self.suggestions]
        return out

    def _dict(self) -> dict[str, Any]:
        return {
            "title": self.poem.title,
            "poem": self.poem.text,
            "original": self.poem.original,
            "form": self.form.name if self.form else None,
            "variant": self.form.variant if self.form is not None and self.form.is_ci else None,
            "stanza_break": self.stanza_break,
            "pass": self.passed,
            "constraints": self.constraints,
            "lines": self.lines(),
            "pattern_name": (self.annotation or {}).get("pattern_name"),
            "violations": [v.to_dict() for v in self.violations],
            "couplets": [c.to_dict() for c in self.couplets],
            "chongzi": [{"char": char, "places": [[line + 1, col + 1] for line, col in places]}
                        for char, places in self.chongzi],
        }

    def lines(self) -> list[dict]:
        from tangpoet.decoding.forms import CI_VERSE_END

        verses = split_verses(self.poem.text, CI_VERSE_END if self.form is not None and self.form.is_ci else LINE_END)
        notes = (self.annotation or {}).get("lines") or []
        out = []
        for i, verse in enumerate(verses):
            note = notes[i] if i < len(notes) and isinstance(notes[i], dict) else {}
            out.append(
                {
                    "text": verse,
                    "chars": note.get("chars") or [c for c in verse if c not in LINE_END],
                    "tones": note.get("tones"),
                    "rhyme": note.get("rhyme"),
                    "pattern": note.get("pattern"),
                }
            )
        return out


# ------------------------------------------------------------------ reading
def _body(text: str) -> str:
    """``text`` without spaces, with ASCII marks made full-width; verses given one per line (or separated by
    spaces) without marks get ``，`` / ``。`` in turn."""
    text = unicodedata.normalize("NFC", text).translate(_ASCII_MARKS)
    parts = [p for p in re.split(r"\s+", text.strip()) if p]
    if len(parts) > 1 and not any(c in LINE_END for c in text):
        return "".join(p + ("，" if i % 2 == 0 and i != len(parts) - 1 else "。") for i, p in enumerate(parts))
    out = []
    marks = 0  # the verse marks so far (counted as it goes: a 40,000-verse line stays linear)
    for i, part in enumerate(parts):
        out.append(part)
        marks += sum(c in LINE_END for c in part)
        if i != len(parts) - 1 and part[-1] not in LINE_END:  # a verse whose line lost its mark
            out.append("，" if marks % 2 == 0 else "。")
            marks += 1
    return "".join(out)


def to_simplified(text: str) -> str:
    """``text`` in simplified characters (OpenCC via :mod:`tangpoet.data.script`); unchanged without OpenCC."""
    try:
        from tangpoet.data import script
    except ImportError:  # pragma: no cover - tangpoet.data.script ships with tangpoet
        return text
    if not text or not script.available():
        return text
    converted = script.convert(text, script.SIMPLIFIED)
    if len(converted) != len(text):  # a phrase conversion changed the length: one character at a time
        converted = "".join(script.convert(c, script.SIMPLIFIED) for c in text)
    return converted


def parse_poem(raw: str, *, line: bool = False) -> Poem | None:
    """One poem from ``raw`` (``title:content`` or bare text); None when it holds no character. ``line``: ``raw`` is
    one line of a ``title:content`` file, whose title may be of any length (:func:`split_poems`)."""
    raw = raw.strip()
    if not raw:
        return None
    title = None
    match = (_TITLED_LINE if line else _TITLE).match(raw)
    if match and not any(c in LINE_END for c in match.group(1)):
        title, raw = match.group(1).strip(), match.group(2)
    body = _body(raw)
    if not any(not unicodedata.category(c).startswith("P") for c in body):
        return None
    return Poem(title, to_simplified(body), raw.strip())


def _is_titled_line(line: str) -> bool:
    match = _TITLED_LINE.match(line)
    return bool(match) and not any(c in LINE_END for c in match.group(1))


def _block_poems(lines: list[str]) -> list[Poem]:
    """The poems of one block (non-blank lines between blank lines)."""
    if not lines:
        return []
    titled = sum(_is_titled_line(line) for line in lines)
    if len(lines) > 1 and (titled == len(lines) or titled >= 2 and 2 * titled > len(lines)):
        # a title:content file (a title of any length; a line without one is a poem of its own too)
        return [p for p in (parse_poem(line, line=True) for line in lines) if p is not None]
    poem = parse_poem("\n".join(lines))
    if poem is not None and poem.title is None and len(lines) > 2 and detect_form(poem.text) is None:
        rest = parse_poem("\n".join(lines[1:]))  # a first line that is the title: the rest has a form's shape
        if rest is not None and detect_form(rest.text) is not None and not any(c in LINE_END for c in lines[0]):
            poem = Poem(lines[0].strip(), rest.text, rest.original)
    return [poem] if poem is not None else []


def _chars(lines: Sequence[str]) -> int:
    """Characters in ``lines``, punctuation and spaces not counted."""
    return sum(not c.isspace() and not unicodedata.category(c).startswith("P") for line in lines for c in line)


def _has_form_shape(poem: Poem | None) -> bool:
    from tangpoet.decoding.constraints.form import ci_lengths

    form = detect_form(poem.text) if poem is not None else None
    return form is not None and tuple(form.lengths) == ci_lengths(poem.text)


def _two_stanzas(first: list[str], second: list[str]) -> Poem | None:
    """A ci pasted with a blank line between its stanzas (阕), as printed ci collections have it: the two blocks as
    one poem when together they are a tune's variant whose stanza break falls at the blank line (the tune named by
    the title, else found from the shape — not when each half alone has a form's shape: two 五绝 are not a 生查子)."""
    from tangpoet.decoding.constraints.form import ci_lengths
    from tangpoet.decoding.forms import find_tune
    from tangpoet.decoding.forms.tunes import stanza_splits, two_stanza_variant

    if not first or not second or _is_titled_line(second[0]):  # a title opens a poem of its own
        return None
    heads = {_chars(first), _chars(first[1:])}
    titled = _TITLE.match(first[0])
    if titled:
        heads.add(_chars(first) - _chars([titled.group(1)]))
    rest = _chars(second)
    if not any((head, head + rest) in stanza_splits() for head in heads):  # cheap: most pairs of blocks stop here
        return None
    joined, alone = _block_poems(first + second), _block_poems(first)
    if len(joined) != 1 or len(alone) != 1:
        return None
    poem, head = joined[0], alone[0]
    if poem.title is not None and head.title is None:  # a title line, read as one only with the second stanza
        head = parse_poem("\n".join(first[1:]))
    tune = find_tune(poem.title) if poem.title else None
    if head is None or tune is None and _has_form_shape(head) and _has_form_shape(parse_poem("\n".join(second))):
        return None  # two poems of a form each
    return poem if two_stanza_variant(ci_lengths(poem.text), sum(ci_lengths(head.text)), tune) else None


def _poems_of_blocks(blocks: Iterable[list[str] | Poem]) -> Iterator[Poem]:
    """The poems of blocks of non-blank lines (or of poems already read), a ci's two stanzas (:func:`_two_stanzas`)
    read as one poem: each block is held until the next one shows whether it opens a ci."""
    held: list[str] = []
    items = iter(blocks)
    while True:
        try:
            block = next(items)
        except StopIteration:
            break
        except PoemInputError:  # the input goes wrong further on: what came before is still reported first
            yield from _block_poems(held)
            raise
        if isinstance(block, Poem):
            yield from _block_poems(held)
            held = []
            yield block
            continue
        if not block:
            continue
        joined = _two_stanzas(held, block)
        if joined is not None:
            yield joined
            held = []
            continue
        yield from _block_poems(held)
        held = block
    yield from _block_poems(held)


def split_poems(text: str) -> list[Poem]:
    """The poems in a block of text: poems are separated by blank lines (but a ci's two stanzas, a blank line between
    them, are one poem); a line ``title:content`` is a poem of its own; the other lines of a block are the verses of
    one poem."""
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    return list(_poems_of_blocks([line for line in block.split("\n") if line.strip()] for block in blocks))


_SETTLE_LINES = 16  # a block's first lines that tell a title:content file (a poem a line) from one poem's verses


def stream_poems(lines: Iterable[str], name: str = "the input") -> Iterator[Poem]:
    """The poems of ``lines`` (a file's lines, read as a stream) as each ends, read like :func:`split_poems`: a
    ``title:content`` file without blank lines gives its poems one by one, and a poem longer than
    :data:`~tangpoet.limits.MAX_CHECK_POEM_CHARS` is one :class:`PoemInputError`, never a file held whole."""
    return _poems_of_blocks(_stream_blocks(lines, name))


def _stream_blocks(lines: Iterable[str], name: str) -> Iterator[list[str] | Poem]:
    """:func:`stream_poems`'s blocks of lines (or, in a ``title:content`` file, its poems one by one)."""
    from tangpoet.limits import MAX_CHECK_POEM_CHARS

    block: list[str] = []
    chars = 0
    one_a_line = False  # this block is title:content lines: each line is a poem
    for number, line in enumerate(lines, 1):
        if not line.strip():
            yield block
            block, chars, one_a_line = [], 0, False
        elif one_a_line:
            poem = parse_poem(line, line=True)
            if poem is not None:
                yield poem
        else:
            block.append(line)
            chars += len(line)
            if len(block) == _SETTLE_LINES and 2 * sum(_is_titled_line(b) for b in block) > len(block):
                yield block
                block, chars, one_a_line = [], 0, True
            elif chars > MAX_CHECK_POEM_CHARS:
                raise PoemInputError(
                    f"{name}:{number}: a poem longer than {MAX_CHECK_POEM_CHARS:,} characters (poems are separated by"
                    " blank lines)"
                )
    yield block


def text_lines(stream, name: str) -> Iterator[str]:
    """The lines of the binary ``stream`` (UTF-8, a BOM and CRLF tolerated), read a block at a time with each line
    bounded (:func:`tangpoet.data.corpus.bounded_lines`): ``/dev/zero`` is one line of error, not a full memory."""
    from tangpoet.data.corpus import bounded_lines

    first = True
    for raw in bounded_lines(stream, name, error=PoemInputError):
        try:
            text = b"\n".join(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise PoemInputError(f"{name} is not UTF-8 text") from None
        if first and text.startswith("\ufeff"):
            text = text[1:]
        first = False
        for line in text.split("\n"):
            yield line[:-1] if line.endswith("\r") else line


_EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,5}$")
_IDEOGRAPH = re.compile("[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]")


def looks_like_path(text: str) -> bool:
    """``text`` reads as a file name rather than a poem: one line, no Chinese character, and a path separator, a
    leading ``~`` or a file extension (``poem.txt``, ``./poems``, ``~/tang``)."""
    text = text.strip()
    if not text or "\n" in text or _IDEOGRAPH.search(text):
        return False
    return "/" in text or "\\" in text or text.startswith("~") or bool(_EXTENSION.search(text))


def sort_arguments(arguments: Sequence[str]) -> tuple[list[str], list[str], bool]:
    """``tangpoet check``'s positional arguments as ``(poem texts, files, stdin)``: an argument naming an existing
    file is that file, ``-`` is standard input, anything else is poem text — except text that looks like a path
    (:func:`looks_like_path`) but names no file: one line saying so, instead of checking the name as a poem."""
    texts: list[str] = []
    files: list[str] = []
    stdin = False
    for argument in arguments:
        if argument == "-":
            stdin = True
        elif os.path.isfile(argument):
            files.append(argument)
        elif os.path.isdir(argument):
            raise PoemInputError(f"{argument} is a directory: give a poem, a file of poems, or - for standard input")
        elif looks_like_path(argument):
            raise PoemInputError(
                f"no such file: {argument} (a poem to check is Chinese text; give a file that exists, or - to read "
                "standard input)"
            )
        else:
            texts.append(argument)
    return texts, files, stdin


def iter_poems(arguments: Sequence[str] = (), files: Sequence[str | Path] = (), stdin=None) -> Iterator[Poem]:
    """Poems from arguments (each one poem, or several separated by blank lines), files and standard input (text,
    or a binary stream read as it comes), each as it is read; files and streams are read a block at a time."""
    found = False
    for argument in arguments:
        for poem in split_poems(argument):
            found = True
            yield poem
    sources = [(Path(name), str(name)) for name in files]
    if stdin is not None:
        sources.append((stdin, "standard input"))
    for source, name in sources:
        if isinstance(source, str):
            poems = iter(split_poems(source))
        else:
            poems = _stream_file(source, name)
        for poem in poems:
            found = True
            yield poem
    if not found:
        raise PoemInputError("no poem to check: give poems as arguments, with --file PATH, or on standard input")


def _stream_file(source, name: str) -> Iterator[Poem]:
    if not isinstance(source, Path):
        yield from stream_poems(text_lines(source, name), name)
        return
    try:
        stream = open(source, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise PoemInputError(f"cannot read {source}: {exc.strerror or exc}") from None
    with stream:
        yield from stream_poems(text_lines(stream, name), name)


def read_poems(arguments: Sequence[str] = (), files: Sequence[str | Path] = (), stdin=None) -> list[Poem]:
    """Poems from arguments (each one poem, or several separated by blank lines), files and standard input."""
    return list(iter_poems(arguments, files, stdin))


# ------------------------------------------------------------------ checking
def default_constraints(specs: Iterable[Any] = ()) -> list[Constraint]:
    """``form`` and ``verse`` (what every poem has: no empty verse, verses of 3–11 characters, the end on ``。？！``)
    always, then ``specs`` (names, ``NAME:opt=val`` strings, pairs or instances) — or, given none, the prosody
    constraint ``regulated`` when a plugin provides it."""
    chosen = [to_constraint(parse_spec(s) if isinstance(s, str) else s) for s in specs]
    if not chosen and CONSTRAINTS.resolve(DEFAULT_PROSODY) is not None:
        chosen = [to_constraint((DEFAULT_PROSODY, {}))]
    if not any(isinstance(c, VerseConstraint) for c in chosen):
        chosen.insert(0, VerseConstraint())
    if not any(isinstance(c, FormConstraint) for c in chosen):
        chosen.insert(0, FormConstraint())
    return chosen


def check_poem(poem: Poem | str, constraints: Sequence[Constraint], form: str | Form | None = None) -> PoemReport:
    """Every violation of ``constraints`` in ``poem``; the form is ``form`` or the one its shape matches."""
    if isinstance(poem, str):
        parsed = parse_poem(poem)
        if parsed is None:
            raise PoemInputError("no poem to check: the text holds no character")
        poem = parsed
    shape = get_form(form) if form else None
    for constraint in constraints:
        if isinstance(constraint, FormConstraint) and constraint.form is not None:
            shape = shape or constraint.form
    shape = _ci_shape(poem, shape, named=isinstance(form, str) or shape is None)
    detected = shape or detect_form(poem.text)
    report = PoemReport(poem, detected, [c.name for c in constraints])
    for constraint in constraints:
        if constraint.needs_form and detected is None:
            continue  # the form's own violation says why
        if isinstance(constraint, FormConstraint):
            report.violations += constraint.check(poem.text, shape)
        else:
            report.violations += constraint.check(poem.text, detected)
        if report.annotation is None and (detected is not None or not constraint.needs_form):
            annotation = constraint.annotate(poem.text, detected)
            if annotation:
                report.annotation = annotation
    _couplets(report)
    return report


def _couplets(report: PoemReport) -> None:
    """对仗 per couplet that must be parallel (a 律诗's lines 3–4 and 5–6) and 重字, for a 绝句 or 律诗."""
    from tangpoet.decoding.couplets import chongzi, couplet_reports

    form = report.form
    if form is None or getattr(form, "is_ci", False) or not str(form.name).endswith(("绝句", "律诗")):
        return
    report.couplets = couplet_reports(report.poem.text, form)
    report.chongzi = chongzi(report.poem.text)


def iter_reports(poems: Iterable[Poem], specs: Iterable[Any] = (), form: str | Form | None = None) -> Iterator[PoemReport]:
    """:func:`check_poems`, a report as each poem is read (``tangpoet check`` prints them as they come)."""
    constraints = default_constraints(specs)
    for poem in poems:
        yield check_poem(poem, constraints, form)


def _ci_shape(poem: Poem, shape: Form | None, named: bool) -> Form | None:
    """A ci's variant: a tune named by the form asked for (by name: its variant nearest the poem's shape) or, with no
    form asked for, by the poem's title line (``浣溪沙:…``); else ``shape`` as it was."""
    from tangpoet.decoding.constraints.form import ci_lengths
    from tangpoet.decoding.forms import find_tune
    from tangpoet.decoding.forms.tunes import nearest_variant

    if shape is not None and shape.is_ci and named:
        return nearest_variant(find_tune(shape.name), ci_lengths(poem.text))
    if shape is None and poem.title:
        tune = find_tune(poem.title)
        if tune is not None:
            return nearest_variant(tune, ci_lengths(poem.text))
    return shape


def check_poems(poems: Sequence[Poem], specs: Iterable[Any] = (), form: str | Form | None = None) -> list[PoemReport]:
    return list(iter_reports(poems, specs, form))


# Rules whose fault a character's change may mend beyond the character named: the columns of the violation's line
# (counted from its end, the last excluded) that take part — 孤平 in the last five, 三平尾 in the last three.
_RULE_SCOPES = {"gu-ping": 5, "san-ping-wei": 3}


def broken_positions(report: PoemReport) -> list[tuple[Violation, list[tuple[int, int]]]]:
    """Each violation of ``report`` at a character, with the positions ``(line, col)`` (0-based, punctuation not
    counted) where changing one character may mend it: the character named, and for 孤平 / 三平尾 the other
    characters of the line's tail that decide it. Violations of the whole poem (its shape, a missing keyword) have
    no position and are left out. ``tangpoet check --suggest`` ranks replacements at these positions
    (:mod:`tangpoet.revision`)."""
    from tangpoet.decoding.constraints.form import verse_chars
    from tangpoet.decoding.forms import CI_VERSE_END

    ends = CI_VERSE_END if getattr(report.form, "is_ci", False) else LINE_END
    verses = [verse_chars(v) for v in split_verses(report.poem.text, ends)]
    out = []
    for violation in report.violations:
        line, col = violation.line, violation.col
        if line is None or col is None or not 0 <= line < len(verses) or not 0 <= col < len(verses[line]):
            continue
        width = len(verses[line])
        span = _RULE_SCOPES.get(violation.rule)
        cols = [col] if span is None else [col, *(c for c in range(max(0, width - span), width - 1) if c != col)]
        out.append((violation, [(line, c) for c in cols]))
    return out


# ------------------------------------------------------------------ printing
def _mark(tone: str | None) -> str:
    if tone is None:
        return "？"
    return TONE_MARKS.get(tone, "？")


def format_report(report: PoemReport, number: int | None = None) -> str:
    """A readable report: header, each verse with its tone marks under it and its rhyme group, the violations."""
    poem = report.poem
    head = f"{number}. " if number is not None else ""
    head += f"《{poem.title}》 " if poem.title else ""
    head += report.form.name if report.form else "no regulated form"
    pattern = (report.annotation or {}).get("pattern_name")
    if pattern:
        head += f" ({pattern})"
    head += ": " + ("ok" + (" (form only: tones and rhyme not checked)" if prosody_unchecked(report) else "")
                    if report.passed else f"{len(report.violations)} problem" + ("s" if len(report.violations) != 1 else ""))
    out = [head]
    stanza_break = report.stanza_break
    for i, line in enumerate(report.lines()):
        if i == stanza_break:
            out.append("   （下阕）")
        rhyme = f"  [{line['rhyme']}]" if line.get("rhyme") else ""
        out.append(f"   {line['text']}{rhyme}")
        tones = line.get("tones")
        if tones:
            marks = "".join(_mark(t) for t in tones)
            wanted = f"   格 {line['pattern']}" if line.get("pattern") else ""
            out.append(f"   {marks}{wanted}")
    out += _format_couplets(report)
    for violation in report.violations:
        out.append(f"   ✗ {violation.rule}: {violation.message}")
    for mend in report.suggestions or ():  # --suggest: tangpoet.revision.Mend.describe()
        out.append(f"   → {mend.describe()}")
    return "\n".join(out)


def _format_couplets(report: PoemReport) -> list[str]:
    """Each couplet that must be parallel, its two lines one above the other and 对 under each paired position;
    重字 unless a violation already says it."""
    out = []
    for couplet in report.couplets:
        first, second = (p.first for p in couplet.pairs), (p.second for p in couplet.pairs)
        out.append(f"   对仗 lines {couplet.lines[0] + 1}–{couplet.lines[1] + 1}: {couplet.paired}/{len(couplet.pairs)}"
                   " paired (对 paired, － not)")
        out += [f"     {''.join(first)}", f"     {''.join(second)}",
                "     " + "".join("对" if p.paired else "－" for p in couplet.pairs)]
    if report.chongzi and not any(v.rule == "chongzi" for v in report.violations):
        listed = "; ".join(f"{char} ×{len(places)} (lines {', '.join(str(line + 1) for line, _ in places)})"
                           for char, places in report.chongzi)
        out.append(f"   重字: {listed}")
    return out


def format_reports(reports: Sequence[PoemReport]) -> str:
    return "".join(stream_reports(reports))


LEGEND = "(平 level, 仄 oblique, 通 either reading, ？ not in the rhyme data; 格: the pattern)"
PROSODY_MISSING = (
    "(tones and rhyme were not checked: the prosody plugin is not installed; install it with"
    " pip install -e plugins/tangpoet-rhyme from a tangpoet checkout)"
)


def prosody_unchecked(report: PoemReport) -> bool:
    """A poem of a form checked without its tones and rhyme because the prosody plugin is not installed."""
    return (
        report.form is not None
        and DEFAULT_PROSODY not in report.constraints
        and CONSTRAINTS.resolve(DEFAULT_PROSODY) is None
    )


def stream_reports(reports: Iterable[PoemReport]) -> Iterator[str]:
    """:func:`format_reports`' text a report at a time, to print as each poem is checked (whether reports are
    numbered is known from the second one)."""
    reports = iter(reports)
    first = next(reports, None)
    if first is None:
        return
    second = next(reports, None)
    numbered = second is not None
    tones = unchecked = False
    ahead = [first] if second is None else [first, second]
    for i, report in enumerate(itertools.chain(ahead, reports)):
        tones = tones or any(line.get("tones") for line in report.lines())
        unchecked = unchecked or prosody_unchecked(report)
        yield ("\n\n" if i else "") + format_report(report, i + 1 if numbered else None)
    if tones:
        yield "\n\n" + LEGEND
    if unchecked:
        yield "\n\n" + PROSODY_MISSING


def stream_json(reports: Iterable[PoemReport]) -> Iterator[str]:
    """``json.dumps([report.to_dict(), ...])`` a report at a time."""
    import json

    i = -1
    for i, report in enumerate(reports):
        yield (", " if i else "[") + json.dumps(report.to_dict(), ensure_ascii=False)
    yield "]" if i >= 0 else "[]"
