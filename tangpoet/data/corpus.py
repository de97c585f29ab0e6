"""Reading and cleaning a corpus of poems.

A corpus is one or more of:

* a text file of ``title:content`` lines (UTF-8; a BOM and CRLF line endings are tolerated; the
  separator is the first ``:`` or full-width ``：``; a line without one is all content, title ``""``;
  blank lines are skipped);
* a chinese-poetry JSON file (``poet.tang.0.json`` style: a list of objects with ``title`` and
  ``paragraphs``; the content is the paragraphs joined; a ci, ``ci.song.0.json`` style, has ``rhythmic`` instead of
  ``title``: its title is the tune, the first of its names joined by ``・``, and its ``kind`` is ``"ci"``);
* a folder: every ``poet.*.json`` and ``ci.*.json`` in it (sorted by name), or, if there are none, every ``*.txt``.

Cleaning removes all whitespace from the content, turns ASCII ``,.?!;:`` into their full-width
forms, and drops a poem that is empty, that has any character other than a CJK ideograph or one of
the poem marks ``，。？！；、：`` (placeholders such as ``□``, brackets, digits, ...), or whose length
is outside ``[min_len, max_len]``. :func:`read_corpus` returns the kept poems, in file order, and a
:class:`CorpusReport` that counts what was dropped and why.

Every problem with the input is raised as :class:`~tangpoet.errors.CorpusError` with a one-line
message.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tangpoet.errors import CorpusError

__all__ = [
    "Poem",
    "CorpusReport",
    "read_corpus",
    "clean_content",
    "normalise_text",
    "clean",
    "is_allowed_char",
    "REASONS",
    "EMPTY",
    "BAD_CHARACTERS",
    "TOO_SHORT",
    "TOO_LONG",
    "DUPLICATE",
    "UNDECODABLE_LINE",
    "PUNCTUATION",
    "DEFAULT_MIN_LEN",
    "DEFAULT_MAX_LEN",
]

# Reasons a poem is dropped; the keys of CorpusReport.dropped, in the order reports list them.
EMPTY = "empty"
BAD_CHARACTERS = "bad characters"
TOO_SHORT = "too short"
TOO_LONG = "too long"
DUPLICATE = "duplicate"
UNDECODABLE_LINE = "undecodable line"
REASONS = (EMPTY, BAD_CHARACTERS, TOO_SHORT, TOO_LONG, DUPLICATE, UNDECODABLE_LINE)

DEFAULT_MIN_LEN = 5
DEFAULT_MAX_LEN = 200

# The punctuation a kept poem may contain, and the ASCII marks normalised to it.
PUNCTUATION = "，。？！；、："
_ASCII_TO_FULL_WIDTH = str.maketrans({",": "，", ".": "。", "?": "？", "!": "！", ";": "；", ":": "："})

# CJK Unified Ideographs, Extension A, Compatibility Ideographs.
_IDEOGRAPH_RANGES = "\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff"
_BAD_CHAR = re.compile(f"[^{_IDEOGRAPH_RANGES}{PUNCTUATION}]")
_ALLOWED_CHAR = re.compile(f"[{_IDEOGRAPH_RANGES}{PUNCTUATION}]")

_SKIP_HINT = "use --skip-bad-lines to skip such lines"


def is_allowed_char(char: str) -> bool:
    """Whether ``char`` may appear in a cleaned poem: a CJK ideograph or one of :data:`PUNCTUATION`."""
    return len(char) == 1 and _ALLOWED_CHAR.fullmatch(char) is not None


@dataclass(frozen=True)
class Poem:
    title: str
    content: str
    kind: str = "shi"  # "ci": a Song ci read from chinese-poetry JSON, its title the tune (词牌)


@dataclass
class CorpusReport:
    """What :func:`read_corpus` read, kept and dropped."""

    files: list[str] = field(default_factory=list)
    read: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    characters: int = 0
    script: str | None = None  # "simplified" / "traditional" when converted (fit --script), or as detected

    def to_dict(self) -> dict:
        """A JSON-serialisable dict; :meth:`from_dict` turns it back into an equal report."""
        d = {
            "files": list(self.files),
            "read": self.read,
            "kept": self.kept,
            "dropped": dict(self.dropped),
            "characters": self.characters,
        }
        if self.script is not None:
            d["script"] = self.script
        return d

    @classmethod
    def from_dict(cls, d) -> CorpusReport:
        """The report :meth:`to_dict` gave; :class:`CorpusError` if ``d`` is not one."""
        if not isinstance(d, dict):
            raise CorpusError(f"not a corpus report: expected a dict, got {type(d).__name__}")
        missing = [key for key in ("files", "read", "kept", "dropped", "characters") if key not in d]
        if missing:
            raise CorpusError(f"not a corpus report: missing {', '.join(missing)}")
        files, dropped = d["files"], d["dropped"]
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise CorpusError("not a corpus report: 'files' must be a list of strings")
        for key in ("read", "kept", "characters"):
            if not _is_count(d[key]):
                raise CorpusError(f"not a corpus report: {key!r} must be a non-negative integer")
        if not isinstance(dropped, dict) or not all(
            isinstance(k, str) and _is_count(v) for k, v in dropped.items()
        ):
            raise CorpusError("not a corpus report: 'dropped' must map reasons to non-negative integers")
        script = d.get("script")
        if script is not None and not isinstance(script, str):
            raise CorpusError("not a corpus report: 'script' must be a string")
        return cls(
            files=list(files),
            read=d["read"],
            kept=d["kept"],
            dropped=dict(dropped),
            characters=d["characters"],
            script=script,
        )

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    def format(self) -> str:
        """A short human-readable summary, one fact per line."""
        n_files = len(self.files)
        lines = [
            f"read {self.read} {_plural(self.read, 'poem')} from {n_files} {_plural(n_files, 'file')}",
            f"kept {self.kept} ({self.characters:,} {_plural(self.characters, 'character')})",
            f"dropped: {_format_dropped(self.dropped)}",
        ]
        return "\n".join(lines)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def _format_dropped(dropped: dict[str, int]) -> str:
    parts = [f"{count} {reason}" for reason, count in dropped.items() if count]
    return ", ".join(parts) if parts else "none"


# --------------------------------------------------------------------------------------- cleaning


def normalise_text(text: str) -> str:
    """``text`` without whitespace and with ASCII ``,.?!;:`` made full-width: what cleaning does to every poem, and
    what ``write`` does to ``--begin`` / ``--acrostic`` so prompt text is read exactly like corpus text."""
    return "".join(text.split()).translate(_ASCII_TO_FULL_WIDTH)


_normalise = normalise_text


def _check(text: str, min_len: int, max_len: int) -> tuple[str | None, str | None]:
    """(cleaned content, None) or (None, reason)."""
    content = _normalise(text)
    if not content:
        return None, EMPTY
    if _BAD_CHAR.search(content):
        return None, BAD_CHARACTERS
    if len(content) < min_len:
        return None, TOO_SHORT
    if len(content) > max_len:
        return None, TOO_LONG
    return content, None


def clean_content(text: str) -> str | None:
    """``text`` without whitespace and with ASCII marks made full-width; ``None`` if that is empty or
    has a character that is not a CJK ideograph or poem punctuation. No length limits apply."""
    content = _normalise(text)
    if not content or _BAD_CHAR.search(content):
        return None
    return content


def clean(
    poem: Poem, *, min_len: int = DEFAULT_MIN_LEN, max_len: int = DEFAULT_MAX_LEN
) -> tuple[Poem | None, str | None]:
    """``(cleaned poem, None)``, or ``(None, reason)`` with a reason from :data:`REASONS`."""
    _validate_lengths(min_len, max_len)
    content, reason = _check(poem.content, min_len, max_len)
    if content is None:
        return None, reason
    return Poem(poem.title.strip(), content), None


def _validate_lengths(min_len, max_len) -> None:
    for name, value in (("min_len", min_len), ("max_len", max_len)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise CorpusError(f"{name} must be an integer, got {value!r}")
    if min_len < 1:
        raise CorpusError(f"min_len must be at least 1, got {min_len}")
    if max_len < min_len:
        raise CorpusError(f"max_len ({max_len}) must be at least min_len ({min_len})")


# ---------------------------------------------------------------------------------------- reading


class _Tally:
    def __init__(self):
        self.read = 0
        self.dropped = dict.fromkeys(REASONS, 0)


def _split_title(line: str) -> tuple[str, str]:
    i = line.find(":")
    j = line.find("：")
    if i < 0 or (0 <= j < i):
        i = j
    if i < 0:
        return "", line
    return line[:i], line[i + 1 :]


def _open_binary(path: Path):
    try:
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError:
        raise CorpusError(f"corpus file not found: {path}") from None
    except OSError as e:
        raise CorpusError(f"cannot read corpus file {path}: {e.strerror or e}") from None


def _read_bytes(path: Path) -> bytes:
    """A JSON corpus file whole, refused past :data:`~tangpoet.limits.MAX_JSON_CORPUS_BYTES` (never read whole: a
    device such as ``/dev/zero`` has no end)."""
    from tangpoet.limits import MAX_JSON_CORPUS_BYTES

    with _open_binary(path) as f:
        try:
            data = f.read(MAX_JSON_CORPUS_BYTES + 1)
        except OSError as e:
            raise CorpusError(f"cannot read corpus file {path}: {e.strerror or e}") from None
    if len(data) > MAX_JSON_CORPUS_BYTES:
        raise CorpusError(f"{path} is larger than {MAX_JSON_CORPUS_BYTES:,} bytes: too large for a JSON corpus file")
    return data


def bounded_lines(stream, name, limit: int | None = None, error=CorpusError) -> Iterator[list[bytes]]:
    """The lines of the binary ``stream`` (without their ``\\n``), a block's worth at a time (a list of lines): memory
    stays bounded whatever the stream (``/dev/zero``, a pipe), and a line longer than ``limit`` bytes (default
    :data:`~tangpoet.limits.MAX_LINE_BYTES`) is one ``error`` naming ``name`` and the line, not a file read whole."""
    from tangpoet.limits import MAX_LINE_BYTES

    limit = MAX_LINE_BYTES if limit is None else limit
    read = getattr(stream, "read1", stream.read)  # a pipe: what has come so far, not a wait for a full block
    pending = b""
    number = 0  # lines given so far
    while True:
        try:
            block = read(2**20)
        except OSError as e:
            raise error(f"cannot read {name}: {e.strerror or e}") from None
        lines = (pending + block).split(b"\n") if block else [pending]
        pending = lines.pop() if block else b""
        longest = max(map(len, lines), default=0)
        if longest > limit or len(pending) > limit:
            where = number + 1 + next((i for i, line in enumerate(lines) if len(line) > limit), len(lines))
            raise error(f"{name}:{where}: a line longer than {limit:,} bytes: not poems (a poem is a line, or a verse)")
        if lines and (block or lines[0]):
            number += len(lines)
            yield lines
        if not block:
            return


class _Replay:
    """A binary stream whose first read gives back ``head`` (already read from ``stream``), then reads ``stream``."""

    def __init__(self, head: bytes, stream):
        self.head, self.stream = head, stream

    def read(self, size: int) -> bytes:
        if self.head:
            head, self.head = self.head, b""
            return head
        return self.stream.read(size)


def _text_lines(path: Path, skip_bad_lines: bool, tally: _Tally) -> Iterator[str]:
    """The non-blank lines of a text file, decoded, without line endings or a leading BOM. Read as a stream (bounded
    memory whatever the file), each line at most :data:`~tangpoet.limits.MAX_LINE_BYTES`. With ``skip_bad_lines``
    a line that is not UTF-8 is counted and skipped, until such lines dominate (:func:`_check_bad_lines`): then the
    file is refused, so a binary file or a device such as ``/dev/urandom`` ends at once instead of never."""
    bad = 0  # this file's lines that are not UTF-8
    with _open_binary(path) as f:
        try:
            head = f.read(2**16)  # what UTF-16 is recognised by
        except OSError as e:
            raise CorpusError(f"cannot read corpus file {path}: {e.strerror or e}") from None
        number = 0
        for raw_lines in bounded_lines(_Replay(head, f), path):
            try:
                lines = b"\n".join(raw_lines).decode("utf-8").split("\n")
            except UnicodeDecodeError:
                lines = []
                for i, raw in enumerate(raw_lines):
                    try:
                        lines.append(raw.decode("utf-8"))
                    except UnicodeDecodeError as e:
                        if not skip_bad_lines:
                            raise _not_utf8(path, head, e, f" ({_SKIP_HINT})", number + i + 1) from None
                        bad += 1
                        _check_bad_lines(path, head, bad, number + i + 1)
                        tally.read += 1
                        tally.dropped[UNDECODABLE_LINE] += 1
            if number == 0 and lines and lines[0].startswith("\ufeff"):
                lines[0] = lines[0][1:]
            number += len(raw_lines)
            for line in lines:
                if line and not line.isspace():
                    yield line[:-1] if line.endswith("\r") else line


def _check_bad_lines(path: Path, head: bytes, bad: int, lines: int) -> None:
    """With ``--skip-bad-lines``: :class:`CorpusError` once ``bad`` of the first ``lines`` lines of ``path`` are not
    UTF-8 and they dominate (at least :data:`~tangpoet.limits.MIN_BAD_LINES_REFUSED`, and more than half): a binary
    file, another encoding or ``/dev/urandom`` (every line bad, no end) is not a corpus with a few bad lines. The work
    spent on bad lines stays below the work on good ones (plus that minimum), however long the file."""
    from tangpoet.limits import MIN_BAD_LINES_REFUSED

    if bad < MIN_BAD_LINES_REFUSED or 2 * bad <= lines:
        return
    if _looks_like_utf16(head[: len(head) // 2 * 2]):
        raise CorpusError(
            f"{path} is not valid UTF-8: it looks like UTF-16 (convert it to UTF-8, e.g. iconv -f UTF-16 -t UTF-8)"
        )
    raise CorpusError(
        f"{path} is not a UTF-8 text corpus: {bad:,} of its first {lines:,} lines are not valid UTF-8"
        " (--skip-bad-lines skips a few bad lines, not a binary file or another encoding)"
    )


def _looks_like_utf16(data: bytes) -> bool:
    """A UTF-16 byte-order mark, or UTF-16 line ends (``\\n`` next to a NUL byte) in text that decodes as UTF-16."""
    for bom, encoding in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            try:
                data[2:].decode(encoding)
            except UnicodeDecodeError:
                return False
            return True
    if b"\n\x00" not in data and b"\x00\n" not in data or len(data) % 2:
        return False
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\n" in text:
            return True
    return False


def _not_utf8(path: Path, data: bytes, error: UnicodeDecodeError, hint: str = "", line: int | None = None) -> CorpusError:
    """``data``: the file, or its first bytes (then ``line`` says where ``error`` is)."""
    if _looks_like_utf16(data if line is None else data[: len(data) // 2 * 2]):
        return CorpusError(
            f"{path} is not valid UTF-8: it looks like UTF-16 (convert it to UTF-8, e.g. iconv -f UTF-16 -t UTF-8)"
        )
    line_no = data.count(b"\n", 0, error.start) + 1 if line is None else line
    return CorpusError(f"{path}:{line_no}: not valid UTF-8{hint}")


def untitled_files(files: Sequence[str | os.PathLike], lines: int = 2000) -> list[str]:
    """The text files (not chinese-poetry JSON) among ``files`` none of whose first ``lines`` lines has a
    ``title:content`` separator: a CSV or a list of bare poems, where every whole line becomes one poem's content
    (``fit`` warns: titles, authors and other columns would be learnt as verses)."""
    found = []
    for name in files:
        path = Path(name)
        if _is_json(path):
            continue
        try:
            seen = 0
            for line in _text_lines(path, True, _Tally()):
                if ":" in line or "：" in line:
                    break
                seen += 1
                if seen >= lines:
                    found.append(str(name))
                    break
            else:
                found.append(str(name))
        except CorpusError:
            continue
    return found


def _text_poems(path: Path, skip_bad_lines: bool, tally: _Tally) -> Iterator[tuple[str, str, str]]:
    for line in _text_lines(path, skip_bad_lines, tally):
        yield (*_split_title(line), "shi")


def _json_poems(path: Path) -> Iterator[tuple[str, str, str]]:
    data = _read_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _not_utf8(path, data, e) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise CorpusError(f"{path}: not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
    except (ValueError, RecursionError) as e:  # e.g. nesting too deep
        raise CorpusError(f"{path}: not valid JSON: {type(e).__name__}") from None
    shape = 'a JSON list of poems (objects with "title" and "paragraphs")'
    if not isinstance(value, list):
        raise CorpusError(f"{path}: expected {shape}, got {_json_type(value)}")
    for number, entry in enumerate(value, 1):
        if not isinstance(entry, dict):
            raise CorpusError(f"{path}: poem {number} is {_json_type(entry)}, expected an object; {shape}")
        paragraphs = entry.get("paragraphs")
        if not isinstance(paragraphs, list) or not all(isinstance(p, str) for p in paragraphs):
            raise CorpusError(f'{path}: poem {number} has no "paragraphs" list of strings; expected {shape}')
        kind, title = "shi", entry.get("title", "")
        if not title and "rhythmic" in entry:
            kind, title = "ci", entry["rhythmic"]  # a ci (全宋词): the tune is its title (titles.tune_title)
        if title is None:
            title = ""
        if not isinstance(title, str):
            raise CorpusError(f'{path}: poem {number} has a "{"rhythmic" if kind == "ci" else "title"}" that is not a string')
        if kind == "ci":
            from tangpoet.data.titles import tune_title

            title = tune_title(title)
        yield title, "".join(paragraphs), kind


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _is_json(path: Path) -> bool:
    return path.suffix.lower() == ".json"


def _expand(path: Path) -> list[Path]:
    """The files to read for one argument."""
    if path.is_dir():
        try:
            children = sorted((p for p in path.iterdir() if p.is_file()), key=lambda p: p.name)
        except OSError as e:
            raise CorpusError(f"cannot list corpus folder {path}: {e.strerror or e}") from None
        found = [p for p in children if p.name.startswith(("poet.", "ci.")) and _is_json(p)]
        if not found:
            found = [p for p in children if p.suffix.lower() == ".txt"]
        if not found:
            raise CorpusError(f"{path}: folder has no poet.*.json, ci.*.json or *.txt files to read")
        return found
    if not path.exists():
        raise CorpusError(f"corpus file not found: {path}")
    return [path]


def _as_paths(paths) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    if isinstance(paths, (bytes, bytearray)) or not isinstance(paths, Sequence):
        raise CorpusError(f"corpus paths must be a path or a list of paths, got {type(paths).__name__}")
    result = []
    for p in paths:
        if not isinstance(p, (str, os.PathLike)):
            raise CorpusError(f"corpus paths must be paths, got {type(p).__name__}")
        result.append(Path(p))
    if not result:
        raise CorpusError("no corpus files given")
    return result


def describe_files(files: list[str]) -> str:
    """``a.txt, b.txt`` — or ``a.txt, b.txt and 3 more files`` past three."""
    if len(files) <= 3:
        return ", ".join(files)
    return f"{', '.join(files[:2])} and {len(files) - 2} more files"


def read_corpus(
    paths,
    *,
    min_len: int = DEFAULT_MIN_LEN,
    max_len: int = DEFAULT_MAX_LEN,
    skip_bad_lines: bool = False,
    dedupe: bool = False,
    script: str = "keep",
) -> tuple[list[Poem], CorpusReport]:
    """Read, clean and count the poems in ``paths`` (a path, or a sequence of paths).

    Returns the kept poems in file order and a :class:`CorpusReport`. With ``skip_bad_lines`` a
    text line that is not valid UTF-8 is counted as read and dropped (``"undecodable line"``)
    instead of raising. With ``dedupe`` a poem whose cleaned content equals an earlier kept poem's
    is dropped (``"duplicate"``). With ``script`` ``"simplified"`` or ``"traditional"`` every poem (title and
    content) is converted to that script with OpenCC (:mod:`tangpoet.data.script`) and the report records it. Raises :class:`CorpusError` for a missing or unreadable file, a
    malformed file, or when no poem is left.
    """
    _validate_lengths(min_len, max_len)
    from tangpoet.data import script as scripts

    scripts.check_script(script, keep=True)
    convert = None
    if script != scripts.KEEP:
        scripts.convert("", script)  # OpenCC missing: one line before reading anything
        convert = functools.partial(scripts.convert, to=script)
    files = [f for p in _as_paths(paths) for f in _expand(p)]
    tally = _Tally()
    dropped = tally.dropped
    poems: list[Poem] = []
    seen: set[str] = set()
    characters = 0
    for path in files:
        source = _json_poems(path) if _is_json(path) else _text_poems(path, skip_bad_lines, tally)
        for title, raw, kind in source:
            tally.read += 1
            if convert is not None:
                title, raw = convert(title), convert(raw)
            content, reason = _check(raw, min_len, max_len)
            if content is None:
                dropped[reason] += 1
                continue
            if dedupe:
                if content in seen:
                    dropped[DUPLICATE] += 1
                    continue
                seen.add(content)
            poems.append(Poem(title.strip(), content, kind))
            characters += len(content)
    report = CorpusReport(
        files=[str(f) for f in files],
        read=tally.read,
        kept=len(poems),
        dropped={reason: n for reason, n in dropped.items() if n},
        characters=characters,
        script=None if convert is None else script,
    )
    if not poems:
        raise CorpusError(
            f"no poems left in {describe_files(report.files)} after cleaning "
            f"(read {report.read}; dropped: {_format_dropped(report.dropped)})"
        )
    return poems, report
