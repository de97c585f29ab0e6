"""Checking finished poems against the installed constraints: what ``tangpoet check`` prints.

A learner pastes a poem (``title:content`` or bare text, simplified or traditional, one verse per line or all on one
line) and gets back the form its shape matches, per verse the 平/仄 of each character and the rhyme group at its end
(from the constraints' :meth:`~tangpoet.decoding.constraints.Constraint.annotate`), and every rule it breaks (their
:meth:`~tangpoet.decoding.constraints.Constraint.check`: the same rules that mask the writing). The command line
only parses and prints.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
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

    @property
    def passed(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.poem.title,
            "poem": self.poem.text,
            "original": self.poem.original,
            "form": self.form.name if self.form else None,
            "pass": self.passed,
            "constraints": self.constraints,
            "lines": self.lines(),
            "pattern_name": (self.annotation or {}).get("pattern_name"),
            "violations": [v.to_dict() for v in self.violations],
        }

    def lines(self) -> list[dict]:
        verses = split_verses(self.poem.text)
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
    for i, part in enumerate(parts):
        out.append(part)
        if i != len(parts) - 1 and part[-1] not in LINE_END:  # a verse whose line lost its mark
            out.append("，" if sum(c in LINE_END for c in "".join(out)) % 2 == 0 else "。")
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


def parse_poem(raw: str) -> Poem | None:
    """One poem from ``raw`` (``title:content`` or bare text); None when it holds no character."""
    raw = raw.strip()
    if not raw:
        return None
    title = None
    match = _TITLE.match(raw)
    if match and not any(c in LINE_END for c in match.group(1)):
        title, raw = match.group(1).strip(), match.group(2)
    body = _body(raw)
    if not any(not unicodedata.category(c).startswith("P") for c in body):
        return None
    return Poem(title, to_simplified(body), raw.strip())


def split_poems(text: str) -> list[Poem]:
    """The poems in a block of text: poems are separated by blank lines; a line ``title:content`` is a poem of its
    own; the other lines of a block are the verses of one poem."""
    poems: list[Poem] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        titled = [bool(_TITLE.match(line)) for line in lines]
        if len(lines) > 1 and all(titled):
            poems += [p for p in (parse_poem(line) for line in lines) if p is not None]
            continue
        poem = parse_poem("\n".join(lines))
        if poem is not None and poem.title is None and len(lines) > 2 and detect_form(poem.text) is None:
            rest = parse_poem("\n".join(lines[1:]))  # a first line that is the title: the rest has a form's shape
            if rest is not None and detect_form(rest.text) is not None and not any(c in LINE_END for c in lines[0]):
                poem = Poem(lines[0].strip(), rest.text, rest.original)
        if poem is not None:
            poems.append(poem)
    return poems


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


def read_poems(arguments: Sequence[str] = (), files: Sequence[str | Path] = (), stdin: str | None = None) -> list[Poem]:
    """Poems from arguments (each one poem, or several separated by blank lines), files and standard input."""
    poems: list[Poem] = []
    for argument in arguments:
        poems += split_poems(argument)
    for name in files:
        path = Path(name)
        try:
            poems += split_poems(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise PoemInputError(f"{path} is not UTF-8 text") from None
        except OSError as exc:
            raise PoemInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if stdin is not None:
        poems += split_poems(stdin)
    if not poems:
        raise PoemInputError("no poem to check: give poems as arguments, with --file PATH, or on standard input")
    return poems


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
    return report


def check_poems(poems: Sequence[Poem], specs: Iterable[Any] = (), form: str | Form | None = None) -> list[PoemReport]:
    constraints = default_constraints(specs)
    return [check_poem(poem, constraints, form) for poem in poems]


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
    head += ": " + ("ok" if report.passed else f"{len(report.violations)} problem" + ("s" if len(report.violations) != 1 else ""))
    out = [head]
    for line in report.lines():
        rhyme = f"  [{line['rhyme']}]" if line.get("rhyme") else ""
        out.append(f"   {line['text']}{rhyme}")
        tones = line.get("tones")
        if tones:
            marks = "".join(_mark(t) for t in tones)
            wanted = f"   格 {line['pattern']}" if line.get("pattern") else ""
            out.append(f"   {marks}{wanted}")
    for violation in report.violations:
        out.append(f"   ✗ {violation.rule}: {violation.message}")
    return "\n".join(out)


def format_reports(reports: Sequence[PoemReport]) -> str:
    numbered = len(reports) > 1
    text = "\n\n".join(format_report(r, i + 1 if numbered else None) for i, r in enumerate(reports))
    if any(line.get("tones") for r in reports for line in r.lines()):
        text += "\n\n(平 level, 仄 oblique, 通 either reading, ？ not in the rhyme data; 格: the pattern)"
    return text
