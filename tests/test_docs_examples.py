"""Every console example in README.md and in every page under docs/ (docs/**/*.md, the plugin guides included) runs
and prints what the page shows (issue 37: docs that cannot drift). The pages are read by Sybil (the
documentation-testing library: its Markdown lexer finds the fenced blocks, its skip directive marks what is not run);
this file only says how a ``$ command`` is run and compared.

How a page's examples are read:

- a ```` ```console ```` block holds ``$ command`` lines, each followed by the output it prints (its standard output;
  an output that begins with ``error:`` is its standard error, exit status 2). ``bash`` blocks are not run here (the
  README's install and test commands are checked against CI by tests/test_readme.py);
- ``…`` in an output matches any text on its line, and a line that is only ``…`` matches any number of lines;
- a command runs in bash in a fresh HOME with ``tangpoet`` on the PATH (this interpreter's), from an empty folder;
  ``tangpoet check`` whose output shows problems must exit 1;
- ``curl … localhost:8000/…`` runs against a real ``tangpoet serve`` of the bundled model, started for the page;
- ``pip install -e DIR`` installs the package the page builds (each block right after a line that is a path in
  backticks and a colon is written to ``DIR/path``: a plugin guide's ``pyproject.toml`` and modules) with pip,
  offline, into a folder on the PYTHONPATH of the page's later commands (never into this interpreter's environment),
  so the guide's code is what its examples run;
- a command that is neither ``tangpoet`` nor ``curl`` must be skipped with a reason, and so must anything slow
  (``fit``) or needing files the page made (``--model my.keras``):

      <!-- skip: next "fit takes minutes; tests/test_readme.py runs it on a tiny corpus" -->

  before the block (it skips the block's first command only, e.g. a ``pip install`` before the commands it
  enables), or ``<!-- skip: start "reason" -->`` … ``<!-- skip: end -->`` around whole blocks. A skip without a
  reason fails this test. The other code blocks of a page (``python``, ``toml``) are not run, except as the package
  that a ``pip install -e`` example builds from them.

Runs on whatever backend KERAS_BACKEND selects (tox runs it under each): the examples print the same on all three.
The plugin guides (docs/plugins/) run on PyTorch only: they show the plugin machinery, which no backend changes, and
most of their two dozen commands start Python and load the model (minutes a backend); that the bundled model writes
the same on every backend is what the other pages' examples check.
Examples that need the prosody plugin (``regulated``, ``tangpoet check``) are skipped without it, and so are those
whose output lists an example plugin (``tangpoet-mingru``, ``tangpoet-rhyme``) that is not installed.

**Refreshing the pages** (after the bundled model is retrained, every poem shown changes)::

    TANGPOET_UPDATE_DOCS=1 KERAS_BACKEND=torch python -m pytest tests/test_docs_examples.py

With ``TANGPOET_UPDATE_DOCS=1`` an example whose command ran (right exit status, no traceback) but printed something
else has its output rewritten in the page, in place, and the test passes: the ``$ command`` lines stay, a line with
``…`` stays where it still matches (a ``…`` inside a line is kept where the text around it is still there, e.g.
``"score":…,``; a number cut short, ``-2.91…``, keeps as many characters of the new one; ``[…]`` stands for the
whole bracketed value), every other line becomes what the command printed. Each page is rewritten once, after all its
examples ran, from its last block to its first, into a temporary file moved over the page (``os.replace``). Without
the variable nothing is ever written. Review the result with ``git diff`` and run the test once more without it on
another backend (a line that differs between backends needs a ``…`` by hand). tests/test_docs_update.py tests this.
"""


from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from unittest import SkipTest

import pytest

sybil = pytest.importorskip("sybil")

from sybil import Document, Region, Sybil  # noqa: E402
from sybil.parsers.markdown import SkipParser  # noqa: E402
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]  # every page, new ones and sub-folders included
SKIP_DIRECTIVE = re.compile(r"<!--+\s*skip:\s*(start|next)(.*?)-->")
UPDATE_VARIABLE = "TANGPOET_UPDATE_DOCS"
# a block captioned with the file it holds: "`src/tangpoet_minp/__init__.py`:" on its own line, then the block
CAPTIONED = re.compile(r"^`([\w./-]+)`:\n\n(`{3,})[\w-]*\n(.*?)^\2$", re.M | re.S)
# example plugins whose rows a page's output may show: such an example is skipped where the plugin is not installed
EXAMPLE_PLUGINS = {"tangpoet-mingru": "tangpoet_mingru", "tangpoet-rhyme": "tangpoet_rhyme"}

# The examples print the same on all three backends: shown once, compared on each.
pytestmark = []


def updating() -> bool:
    """Whether a differing output is written into the page (``TANGPOET_UPDATE_DOCS=1``) instead of failing."""
    return os.environ.get(UPDATE_VARIABLE) == "1"


class Command:
    """One ``$ command`` of a console block, the output shown after it and where that output sits in the page."""

    def __init__(self, line: str, expected: str, number: int, output_span: tuple[int, int] | None = None):
        self.line = line
        self.expected = expected
        self.number = number
        self.output_span = output_span  # [start, end) of its output lines in the page's text; None: not rewritable
        self.actual: str | None = None  # what it printed, when it ran as it should but printed something else

    def __repr__(self) -> str:
        return f"line {self.number}: $ {self.line}"


def parse_console(document: Document):
    """A Sybil parser: one region per ``$ command`` of each ``console`` block."""
    for block in FencedCodeBlockLexer("console")(document):
        source = block.lexemes["source"]
        start = block.start + source.offset if hasattr(source, "offset") else block.start
        body = str(source)
        # an indented block loses its indentation in ``source``: its output cannot be rewritten in place
        in_place = document.text[start : start + len(body)] == body
        first_line = document.text.count("\n", 0, block.start) + 2
        lines = body.split("\n")
        commands = []
        for i, line in enumerate(lines):
            if line.startswith("$ "):
                commands.append([i, line[2:].strip(), []])
            elif commands:
                commands[-1][2].append(line)

        def offset(i: int) -> int:  # where line i of the block starts in the page
            return start + sum(len(x) + 1 for x in lines[:i])

        for n, (i, line, output) in enumerate(commands):
            # regions may not overlap: the first command's region is the block's start, the others' their own line
            region_start = block.start if n == 0 else offset(i)
            region_end = (offset(commands[n + 1][0]) - 1) if n + 1 < len(commands) else block.end
            expected = "\n".join(output).rstrip("\n")
            output_end = offset(commands[n + 1][0]) if n + 1 < len(commands) else start + len(body)
            span = (min(offset(i + 1), output_end), output_end) if in_place else None
            yield Region(region_start, region_end, Command(line, expected, first_line + i, span), evaluate)


def evaluate(example) -> str | None:
    command: Command = example.parsed
    runner = example.namespace["runner"]
    return runner.run(command)


# ------------------------------------------------------------------ comparing
def line_pattern(line: str) -> str:
    return ".*?".join(re.escape(part) for part in line.rstrip().split("…"))


def matches(expected: str, actual: str) -> bool:
    """``actual`` is ``expected`` line by line (trailing spaces ignored), ``…`` matching any text."""
    pattern = []
    for line in expected.rstrip("\n").split("\n"):
        line = line.rstrip()
        if line == "…":
            pattern.append(r"(?:[^\n]*\n)*?")  # any number of whole lines
        else:
            pattern.append(line_pattern(line) + r"[ \t]*\n")
    text = "\n".join(line.rstrip() for line in actual.rstrip("\n").split("\n")) + "\n"
    return re.fullmatch("".join(pattern), text) is not None


def test_matching_with_an_ellipsis():
    assert matches("a\n…\nd", "a\nb\nc\nd")
    assert matches("model …/tang.keras (19 MB)", "model /x/y/tang.keras (19 MB)")
    assert not matches("a\nb", "a\nc")
    assert not matches("a", "a\nb")


# ------------------------------------------------------------------ refreshing a page (TANGPOET_UPDATE_DOCS=1)
_TAIL = re.compile(r"[^,{\[\s]*[,{\[\s]?$")  # the text just before a "…": from its last delimiter on
_HEAD = re.compile(r"[,}\]\s]|[^,}\]\s]+")  # the text just after it: up to its first delimiter


_NUMBER_CUT = re.compile(r"-?\d+\.\d*$")  # a number cut short before a "…" (``-2.91…``: its first digits shown)
_CLOSING = {"[": "]", "{": "}"}


def _matching(actual: str, begin: int, opener: str) -> int:
    """The index of the bracket closing the ``opener`` just before ``begin`` (nested brackets and JSON strings
    skipped), or -1."""
    depth, in_string, escaped = 1, False, False
    for index in range(begin, len(actual)):
        char = actual[index]
        if in_string:
            escaped, in_string = (not escaped and char == "\\"), in_string and (escaped or char != '"')
            continue
        if char == '"':
            in_string = True
        elif char == opener:
            depth += 1
        elif char == _CLOSING[opener]:
            depth -= 1
            if depth == 0:
                return index
    return -1


def refresh_line(expected: str, actual: str) -> str | None:
    """``actual`` with each ``…`` of ``expected`` kept where the text around it is still there; None if none is.
    A number cut short before it (``"logprob": -2.91…``) keeps as many characters of the new number; a ``[…]`` or
    ``{…}`` stands for the whole bracketed value (to its matching bracket)."""
    parts = expected.rstrip().split("…")
    pieces, position, kept = [], 0, 0
    for before, after in zip(parts, parts[1:]):
        tail = _TAIL.search(before).group(0)
        number = _NUMBER_CUT.search(tail)
        width = 0
        if number is not None and re.search(r"\w", tail[: number.start()] or before[: -len(tail)] or ""):
            width = len(number.group(0))  # find the text before the number, then keep that many characters of it
            tail = tail[: number.start()] or _TAIL.search(before[: -len(number.group(0))]).group(0)
        if re.search(r"\w", tail) is None:  # too little to find it by (spaces, a comma): the last part with a word
            chunk = re.search(r"[^,{\[]*\w[^,{\[]*[,{\[]?\s*$", before[: len(before) - width])
            tail = chunk.group(0) if chunk else before[: len(before) - width]
        head = _HEAD.match(after).group(0) if after else ""
        found = actual.find(tail, position)
        if found < 0:
            continue
        begin = found + len(tail)
        if width:
            shown = re.match(r"-?\d+(\.\d+)?", actual[begin:])
            if shown is None or len(shown.group(0)) <= width:
                continue
            begin += width
        if tail and tail[-1] in _CLOSING and head == _CLOSING[tail[-1]]:
            end = _matching(actual, begin, tail[-1])
        else:
            end = actual.find(head, begin) if head else len(actual)
        if end < 0:
            continue
        pieces += [actual[position:begin], "…"]
        position, kept = end, kept + 1
    line = "".join(pieces) + actual[position:]
    return line if kept and re.fullmatch(line_pattern(line) + r"[ \t]*", actual) else None


def refresh(expected: str, actual: str) -> str:
    """The output to show instead of ``expected``: ``actual``, keeping ``expected``'s ``…`` lines (and the ``…`` in a
    line) where they still match; every other line is what was printed.

    The lines are aligned as in a diff: a line of the page that still matches is kept as it is (4 points), a line
    whose ``…`` could be kept becomes the printed line with them (3), a line that changed becomes the printed line in
    its place (1: the page keeps its shape), a ``…`` line stands for the printed lines between the lines it stood
    between. Where nothing of the page is kept, the output is what was printed."""
    expected_lines = [line.rstrip() for line in expected.rstrip("\n").split("\n")] if expected.strip() else []
    actual_lines = [line.rstrip() for line in actual.rstrip("\n").split("\n")] if actual.strip() else []
    if matches(expected, actual):
        return expected

    @lru_cache(maxsize=None)
    def best(i: int, j: int) -> tuple[int, int, tuple[str, ...]]:
        """(points, lines of the page kept, the lines to show) for expected[i:] over actual[j:]."""
        if i == len(expected_lines):
            return 0, 0, tuple(actual_lines[j:])
        e = expected_lines[i]
        options = []

        def then(points: int, kept: int, line: str | None, i2: int, j2: int) -> None:
            score, count, shown = best(i2, j2)
            options.append((score + points, count + kept, shown if line is None else (line, *shown)))

        if e == "…":  # ties keep the "…": it takes the printed lines that no other line of the page takes
            if j < len(actual_lines):
                then(0, 0, None, i, j + 1)  # it takes one more printed line
            then(0, 0, "…", i + 1, j)  # it ends here
        elif j < len(actual_lines):
            a = actual_lines[j]
            if re.fullmatch(line_pattern(e) + r"[ \t]*", a):
                then(4, 1, e, i + 1, j + 1)
            merged = refresh_line(e, a)
            if merged is not None:
                then(3, 1, merged, i + 1, j + 1)
            then(1, 0, a, i + 1, j + 1)  # this line changed
        then(0, 0, None, i + 1, j)  # this line of the page is gone
        if j < len(actual_lines):
            then(0, 0, actual_lines[j], i, j + 1)  # a new printed line
        return max(options, key=lambda option: option[0])

    score, kept, shown = best(0, 0)
    result = "\n".join(shown)
    return result if kept and matches(result, actual) else "\n".join(actual_lines)


def rewrite_page(page: Path, text: str, commands: list[Command]) -> None:
    """Write each command's refreshed output into ``page`` (read as ``text``), atomically: a temporary file next to
    it, then ``os.replace``. The spans are offsets into ``text``, so they are applied from the last to the first."""
    if page.read_text(encoding="utf-8") != text:
        raise AssertionError(f"{page} changed while its examples ran: not rewritten; run the test again")
    for command in sorted(commands, key=lambda c: c.output_span[0], reverse=True):
        begin, end = command.output_span
        shown = refresh(command.expected, command.actual)
        text = text[:begin] + (shown + "\n" if shown else "") + text[end:]
    handle, temporary = tempfile.mkstemp(dir=page.parent, prefix=f".{page.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.chmod(temporary, page.stat().st_mode & 0o777)
        os.replace(temporary, page)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------ running
def needs_prosody(line: str) -> bool:
    return "regulated" in line or "格律" in line or re.search(r"(^|\|\s*)tangpoet check\b", line) is not None


class Runner:
    """Runs a page's commands as a user would: bash, a fresh HOME, ``tangpoet`` on the PATH, an empty folder."""

    def __init__(self, home: Path, page_text: str = ""):
        self.home = home
        self.cwd = home / "work"
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.site = home / "site-packages"  # where the page's own packages are installed (on PYTHONPATH)
        self.files = {found.group(1): found.group(3) for found in CAPTIONED.finditer(page_text)}
        self.server = None

    def env(self) -> dict[str, str]:
        shim = self.home / "bin"
        shim.mkdir(parents=True, exist_ok=True)
        script = shim / "tangpoet"
        script.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m tangpoet "$@"\n', encoding="utf-8")
        script.chmod(0o755)
        env = dict(os.environ)
        env["HOME"] = str(self.home)
        env["PATH"] = f"{shim}{os.pathsep}{env.get('PATH', '')}"
        if self.site.is_dir():
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.site), env.get("PYTHONPATH")) if p)
        env.pop("COLUMNS", None)
        env.pop(UPDATE_VARIABLE, None)
        return env

    def run(self, command: Command) -> str | None:
        words = shlex.split(command.line.split("|")[0])
        if needs_prosody(command.line) and importlib.util.find_spec("tangpoet_rhyme") is None:
            raise SkipTest("needs the prosody plugin: pip install -e plugins/tangpoet-rhyme")
        for distribution, module in EXAMPLE_PLUGINS.items():
            if distribution in command.expected and importlib.util.find_spec(module) is None:
                raise SkipTest(f"its output lists {distribution}, which is not installed")
        line = command.line
        if words[:3] == ["pip", "install", "-e"]:
            return self.pip_install(command, words)
        if words[0] == "curl":
            if shutil.which("curl") is None:
                raise SkipTest("curl is not installed")
            line = line.replace("localhost:8000", self.serve())
        elif words[0] != "tangpoet":
            return f"{command!r}: not a tangpoet or curl command: run it here or skip it with a reason"
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", line], capture_output=True, text=True, env=self.env(), cwd=self.cwd,
            timeout=600,
        )
        if "Traceback" in result.stderr:
            return f"{command!r}: a traceback\n{result.stderr}"
        is_error = command.expected.startswith("error:")
        shown = result.stderr if is_error else result.stdout
        want = 2 if is_error else expected_status(command)
        if result.returncode != want:
            return f"{command!r}: exit status {result.returncode}, not {want}\n{result.stdout}{result.stderr}"
        if not matches(command.expected, shown):
            command.actual = shown
            return f"{command!r} printed\n{shown}\n--- the page shows\n{command.expected}"
        return None

    def pip_install(self, command: Command, words: list[str]) -> str | None:
        """``pip install -e DIR`` of the package the page shows: built offline, installed into ``self.site``."""
        if len(words) != 4 or command.expected:
            return f"{command!r}: only 'pip install -e DIR' of one package the page shows, printing nothing"
        folder = words[3].rstrip("/")
        if "pyproject.toml" not in self.files:
            return f"{command!r}: the page shows no `pyproject.toml`: block to build {folder} from"
        for path, text in self.files.items():
            if ".." in Path(path).parts or Path(path).is_absolute():
                return f"{command!r}: the page's file {path} is outside {folder}"
            target = self.cwd / folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
             "--no-build-isolation", "--no-index", "--target", str(self.site), str(self.cwd / folder)],
            capture_output=True, text=True, env=self.env(), cwd=self.cwd, timeout=600,
        )
        if result.returncode != 0:
            return f"{command!r}: pip failed\n{result.stdout}{result.stderr}"
        return None

    def serve(self) -> str:
        if self.server is None:
            from _serve_helpers import Server

            from tangpoet.pretrained import default_model_path

            env = self.env()
            self.server = Server(default_model_path(), env={k: env[k] for k in ("HOME", "PYTHONPATH") if k in env})
        return self.server.url.removeprefix("http://")

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


def expected_status(command: Command) -> int:
    """0, or 1 for a ``tangpoet check`` whose output shows a poem that breaks a rule."""
    words = shlex.split(command.line.split("|")[-1])
    if words[:2] == ["tangpoet", "check"] and re.search(r": \d+ problems?$", command.expected, re.M):
        return 1
    return 0


PARSER = Sybil(parsers=[parse_console, SkipParser()])


def page_id(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def run_page(page: Path, home: Path) -> tuple[list[str], int, list[str]]:
    """Run every example of ``page``: (failures, how many ran, skipped). With ``TANGPOET_UPDATE_DOCS=1`` the outputs
    that differ are written into the page instead of failing."""
    text = page.read_text(encoding="utf-8")
    document = PARSER.parse(page)
    runner = Runner(home, text)
    document.namespace["runner"] = runner
    failures, ran, skipped, stale = [], 0, [], []
    try:
        for example in document.examples():
            command = example.parsed if isinstance(example.parsed, Command) else None
            try:
                example.evaluate()
            except SkipTest as skip:
                skipped.append(f"{command!r}: {skip}" if command else str(skip))
                continue
            except Exception as exc:  # noqa: BLE001 - a failed example: reported with the others
                if updating() and command and command.actual is not None and command.output_span is not None:
                    stale.append(command)
                elif updating() and command and command.actual is not None:
                    failures.append(f"{exc}\n(not rewritten: an indented block; fix it by hand)")
                else:
                    failures.append(str(exc))
                continue
            if command:
                ran += 1
    finally:
        runner.close()
    if stale:
        rewrite_page(page, text, stale)
        ran += len(stale)
    return failures, ran, skipped


def test_every_skip_says_why():
    bare = []
    for page in PAGES:
        for found in SKIP_DIRECTIVE.finditer(page.read_text(encoding="utf-8")):
            if not found.group(2).strip():
                bare.append(f"{page_id(page)}: {found.group(0)}")
    assert not bare, "a skipped example must say why (<!-- skip: next \"reason\" -->):\n" + "\n".join(bare)


def page_param(page: Path):
    one_backend = page.is_relative_to(ROOT / "docs" / "plugins")  # see the module's docstring
    return pytest.param(page, marks=[pytest.mark.torch] if one_backend else [], id=page_id(page))


@pytest.mark.parametrize("page", [page_param(page) for page in PAGES])
def test_console_examples(page: Path, tmp_path):
    failures, ran, skipped = run_page(page, tmp_path / "home")
    assert not failures, f"{page_id(page)}: {len(failures)} example(s) differ from the page:\n\n" + "\n\n".join(failures)
    if ran == 0 and not skipped:
        pytest.skip(f"{page_id(page)} has no console example")
