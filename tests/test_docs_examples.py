"""Every console example in README.md and docs/*.md runs and prints what the page shows (issue 37: docs that cannot
drift). The pages are read by Sybil (the documentation-testing library: its Markdown lexer finds the fenced blocks,
its skip directive marks what is not run); this file only says how a ``$ command`` is run and compared.

How a page's examples are read:

- a ```` ```console ```` block holds ``$ command`` lines, each followed by the output it prints (its standard output;
  an output that begins with ``error:`` is its standard error, exit status 2). ``bash`` blocks are not run here (the
  README's install and test commands are checked against CI by tests/test_readme.py);
- ``…`` in an output matches any text on its line, and a line that is only ``…`` matches any number of lines;
- a command runs in bash in a fresh HOME with ``tangpoet`` on the PATH (this interpreter's), from an empty folder;
  ``tangpoet check`` whose output shows problems must exit 1;
- ``curl … localhost:8000/…`` runs against a real ``tangpoet serve`` of the bundled model, started for the page;
- a command that is neither ``tangpoet`` nor ``curl`` must be skipped with a reason, and so must anything slow
  (``fit``) or needing files the page made (``--model my.keras``):

      <!-- skip: next "fit takes minutes; tests/test_readme.py runs it on a tiny corpus" -->

  before the block of a single command (or ``<!-- skip: start "reason" -->`` … ``<!-- skip: end -->`` around
  several blocks). A skip without a reason fails this test.

Runs on whatever backend KERAS_BACKEND selects (tox runs it under each): the examples print the same on all three.
Examples that need the prosody plugin (``regulated``, ``tangpoet check``) are skipped without it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from unittest import SkipTest

import pytest

sybil = pytest.importorskip("sybil")

from sybil import Document, Region, Sybil  # noqa: E402
from sybil.parsers.markdown import SkipParser  # noqa: E402
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]  # every page, new ones included
SKIP_DIRECTIVE = re.compile(r"<!--+\s*skip:\s*(start|next)(.*?)-->")

# The examples print the same on all three backends: shown once, compared on each.
pytestmark = []


class Command:
    """One ``$ command`` of a console block and the output shown after it."""

    def __init__(self, line: str, expected: str, number: int):
        self.line = line
        self.expected = expected
        self.number = number

    def __repr__(self) -> str:
        return f"line {self.number}: $ {self.line}"


def parse_console(document: Document):
    """A Sybil parser: one region per ``$ command`` of each ``console`` block."""
    for block in FencedCodeBlockLexer("console")(document):
        source = block.lexemes["source"]
        start = block.start + source.offset if hasattr(source, "offset") else block.start
        body = str(source)
        first_line = document.text.count("\n", 0, block.start) + 2
        lines = body.split("\n")
        commands = []
        for i, line in enumerate(lines):
            if line.startswith("$ "):
                commands.append([i, line[2:].strip(), []])
            elif commands:
                commands[-1][2].append(line)
        for n, (i, line, output) in enumerate(commands):
            # regions may not overlap: the first command's region is the block's start, the others' their own line
            offset = sum(len(x) + 1 for x in lines[:i])
            region_start = block.start if n == 0 else start + offset
            region_end = (start + sum(len(x) + 1 for x in lines[: commands[n + 1][0]]) - 1) if n + 1 < len(commands) else block.end
            expected = "\n".join(output).rstrip("\n")
            yield Region(region_start, region_end, Command(line, expected, first_line + i), evaluate)


def evaluate(example) -> str | None:
    command: Command = example.parsed
    runner = example.namespace["runner"]
    return runner.run(command)


# ------------------------------------------------------------------ comparing
def matches(expected: str, actual: str) -> bool:
    """``actual`` is ``expected`` line by line (trailing spaces ignored), ``…`` matching any text."""
    pattern = []
    for line in expected.rstrip("\n").split("\n"):
        line = line.rstrip()
        if line == "…":
            pattern.append(r"(?:[^\n]*\n)*?")  # any number of whole lines
        else:
            pattern.append(".*?".join(re.escape(part) for part in line.split("…")) + r"[ \t]*\n")
    text = "\n".join(line.rstrip() for line in actual.rstrip("\n").split("\n")) + "\n"
    return re.fullmatch("".join(pattern), text) is not None


def test_matching_with_an_ellipsis():
    assert matches("a\n…\nd", "a\nb\nc\nd")
    assert matches("model …/tang.keras (19 MB)", "model /x/y/tang.keras (19 MB)")
    assert not matches("a\nb", "a\nc")
    assert not matches("a", "a\nb")


# ------------------------------------------------------------------ running
def needs_prosody(line: str) -> bool:
    return "regulated" in line or "格律" in line or re.search(r"(^|\|\s*)tangpoet check\b", line) is not None


class Runner:
    """Runs a page's commands as a user would: bash, a fresh HOME, ``tangpoet`` on the PATH, an empty folder."""

    def __init__(self, home: Path):
        self.home = home
        self.cwd = home / "work"
        self.cwd.mkdir(parents=True, exist_ok=True)
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
        env.pop("COLUMNS", None)
        return env

    def run(self, command: Command) -> str | None:
        words = shlex.split(command.line.split("|")[0])
        if needs_prosody(command.line) and importlib.util.find_spec("tangpoet_rhyme") is None:
            raise SkipTest("needs the prosody plugin: pip install -e plugins/tangpoet-rhyme")
        line = command.line
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
            return f"{command!r} printed\n{shown}\n--- the page shows\n{command.expected}"
        return None

    def serve(self) -> str:
        if self.server is None:
            from _serve_helpers import Server

            from tangpoet.pretrained import default_model_path

            self.server = Server(default_model_path(), env={"HOME": str(self.home)})
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
    return str(path.relative_to(ROOT))


def test_every_skip_says_why():
    bare = []
    for page in PAGES:
        for found in SKIP_DIRECTIVE.finditer(page.read_text(encoding="utf-8")):
            if not found.group(2).strip():
                bare.append(f"{page_id(page)}: {found.group(0)}")
    assert not bare, "a skipped example must say why (<!-- skip: next \"reason\" -->):\n" + "\n".join(bare)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_console_examples(page: Path, tmp_path):
    document = PARSER.parse(page)
    runner = Runner(tmp_path / "home")
    document.namespace["runner"] = runner
    failures, ran, skipped = [], 0, []
    try:
        for example in document.examples():
            try:
                example.evaluate()
            except SkipTest as skip:
                skipped.append(f"{example.parsed!r}: {skip}" if isinstance(example.parsed, Command) else str(skip))
                continue
            except Exception as exc:  # noqa: BLE001 - a failed example: reported with the others
                failures.append(str(exc))
                continue
            if isinstance(example.parsed, Command):
                ran += 1
    finally:
        runner.close()
    assert not failures, f"{page_id(page)}: {len(failures)} example(s) differ from the page:\n\n" + "\n\n".join(failures)
    if ran == 0 and not skipped:
        pytest.skip(f"{page_id(page)} has no console example")
