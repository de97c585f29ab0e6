"""Every command in README.md is exercised (issue 21): the `tangpoet` commands are run as a user runs them — a
subprocess, a fresh HOME — and their output is compared with the README's copy (by tests/test_docs_examples.py, which
runs every console example of README.md and every page under docs/ with Sybil; this file runs the own-corpus `fit`); the install and test commands
(`pip install …`, `tox`, `mkdocs build`) are checked against what pyproject.toml, tox.ini and .ci/run do (.ci/run
runs them). A command this file does not know how to exercise fails the test, so a new one cannot slip in untested.

Also: the README stays short (≤ 250 lines) and every link in it points to a file that exists (docs pages included,
with their anchors).

Runs on whatever backend KERAS_BACKEND selects (tox runs it under each). The README's examples print the same on all
three backends; the ones that need the prosody plugin (tangpoet-rhyme, installed in every tox env) skip without it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_LINES = 250

# A corpus for the README's "your own corpus" commands: small enough to train in seconds with the defaults, and
# holding each of 春夏秋冬 in two poems, so in the training split whichever poem is held out.
CORPUS = """静夜思:床前明月光，疑是地上霜。举头望明月，低头思故乡。
春晓:春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。
登鹳雀楼:白日依山尽，黄河入海流。欲穷千里目，更上一层楼。
相思:红豆生南国，春来发几枝。愿君多采撷，此物最相思。
江雪:千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。
鹿柴:空山不见人，但闻人语响。返景入深林，复照青苔上。
枫桥夜泊:月落乌啼霜满天，江枫渔火对愁眠。姑苏城外寒山寺，夜半钟声到客船。
早发白帝城:朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。
山亭夏日:绿树阴浓夏日长，楼台倒影入池塘。水晶帘动微风起，满架蔷薇一院香。
秋词:自古逢秋悲寂寥，我言秋日胜春朝。晴空一鹤排云上，便引诗情到碧霄。
四时:春水满四泽，夏云多奇峰。秋月扬明辉，冬岭秀孤松。
邯郸冬至夜思家:邯郸驿里逢冬至，抱膝灯前影伴身。想得家中夜深坐，还应说着远行人。
逢雪宿芙蓉山主人:日暮苍山远，天寒白屋贫。柴门闻犬吠，风雪夜归人。
夜雪:已讶衾枕冷，复见窗户明。夜深知雪重，时闻折竹声。
"""


@dataclass(frozen=True)
class Command:
    line: str  # as written in the README
    expected: str | None  # the output shown after it ($ blocks), or None (bash blocks: no output shown)
    number: int  # its line in the README


def readme_commands() -> list[Command]:
    """Every command in README.md's code blocks, found by Sybil's Markdown lexer: ``console`` blocks hold
    ``$ command`` lines, each followed by its output; ``bash`` / ``sh`` blocks hold one command per line (``#``
    comments dropped). Other blocks hold no commands (the pipeline diagram)."""
    from sybil import Document
    from sybil.parsers.markdown.lexers import FencedCodeBlockLexer

    text = README.read_text(encoding="utf-8")
    document = Document(text, str(README))
    commands: list[Command] = []
    for language in ("console", "bash", "sh", "shell"):
        for block in FencedCodeBlockLexer(language)(document):
            first = text.count("\n", 0, block.start) + 2  # the line after the fence
            body = str(block.lexemes["source"]).split("\n")
            if language == "console":
                current, output, at = None, [], 0
                for offset, line in enumerate(body):
                    if line.startswith("$ "):
                        if current is not None:
                            commands.append(Command(current, "\n".join(output).rstrip("\n"), at))
                        current, output, at = line[2:].strip(), [], first + offset
                    else:
                        output.append(line)
                if current is not None:
                    commands.append(Command(current, "\n".join(output).rstrip("\n"), at))
            else:
                for offset, line in enumerate(body):
                    line = re.sub(r"\s+#.*$", "", line).strip()
                    if line and not line.startswith("#"):
                        commands.append(Command(line, None, first + offset))
    return sorted(commands, key=lambda c: c.number)


COMMANDS = readme_commands()


def kind(command: Command) -> str:
    """How a command is exercised: "run" (executed, output compared), "fit" (run on a small corpus), or a check of
    what pyproject.toml / tox.ini / .ci/run do."""
    words = shlex.split(command.line)
    if words[0] == "tangpoet" and words[1] != "serve":  # a server never ends: not run here
        return "fit" if words[1] == "fit" or "--model" in words else "run"
    if words[:2] == ["pip", "install"]:
        return "pip"
    if words[0] == "tox":
        return "tox"
    if words[0] == "mkdocs":
        return "mkdocs"
    return "unknown"


def ids(commands):
    return [f"line {c.number}: {c.line[:60]}" for c in commands]


RUN = [c for c in COMMANDS if kind(c) == "run"]
FIT = [c for c in COMMANDS if kind(c) == "fit"]
CHECKED = [c for c in COMMANDS if kind(c) in ("pip", "tox", "mkdocs")]


# ------------------------------------------------------------------ the README itself
def test_the_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_LINES, f"README.md has {len(lines)} lines; move text into docs/ (at most {MAX_LINES})"


def test_every_command_is_exercised():
    unknown = [f"line {c.number}: {c.line}" for c in COMMANDS if kind(c) == "unknown"]
    assert not unknown, "README commands this test does not exercise (teach tests/test_readme.py how):\n" + "\n".join(unknown)
    assert len(RUN) >= 5 and FIT, "the README's examples went missing"


def slug(heading: str) -> str:
    """The anchor MkDocs gives a heading (Python-Markdown's toc slugify), or its explicit ``{ #id }``."""
    explicit = re.search(r"\{\s*#([\w-]+)\s*\}\s*$", heading)
    if explicit:
        return explicit.group(1)
    import unicodedata

    text = re.sub(r"`", "", heading)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    found = set()
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (heading := re.match(r"^#{1,6}\s+(.*)$", line)):
            found.add(slug(heading.group(1)))
    return found


def test_every_link_points_to_a_file_that_exists():
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert any(link.startswith("docs/") for link in links), "the README links to no docs page"
    broken = []
    for link in links:
        if re.match(r"^[a-z]+://", link):
            continue
        path, _, anchor = link.partition("#")
        target = ROOT / path
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif path.startswith("docs/") and target.suffix != ".md":
            broken.append(f"{link}: not a docs page")
        elif anchor and anchor not in anchors(target):
            broken.append(f"{link}: no heading #{anchor} in {path}")
    assert not broken, "\n".join(broken)


def test_every_docs_page_linked_from_the_readme_is_in_the_docs_site():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = {link.partition("#")[0] for link in re.findall(r"\]\((docs/[^)\s]+)\)", README.read_text(encoding="utf-8"))}
    missing = sorted(p for p in pages if p.removeprefix("docs/") not in nav)
    assert not missing, f"linked from the README but not in mkdocs.yml's nav: {missing}"


# ------------------------------------------------------------------ the tangpoet commands, run
def user_env(home: Path) -> dict[str, str]:
    """A user's shell: a fresh HOME, `tangpoet` on the PATH (this interpreter's), the backend under test."""
    shim = home / "bin"
    shim.mkdir(parents=True, exist_ok=True)
    script = shim / "tangpoet"
    script.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m tangpoet "$@"\n', encoding="utf-8")
    script.chmod(0o755)
    env = dict(os.environ)
    env["HOME"] = str(home)
    env["PATH"] = f"{shim}{os.pathsep}{env.get('PATH', '')}"
    env.pop("COLUMNS", None)
    return env


def run_shell(line: str, home: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", line],
        capture_output=True,
        text=True,
        env=user_env(home),
        cwd=cwd,
        timeout=600,
    )


def lines_of(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip("\n").splitlines()]


@pytest.mark.slow
def test_readme_your_own_corpus(tmp_path):
    """`tangpoet fit corpus.txt --out my.keras`, then the write with that model, as the README shows them."""
    assert FIT and any(shlex.split(c.line)[1] == "fit" for c in FIT), "the README's own-corpus commands went missing"
    (tmp_path / "corpus.txt").write_text(CORPUS, encoding="utf-8")
    for command in FIT:  # in README order: fit first
        result = run_shell(command.line, tmp_path / "home", tmp_path)
        assert result.returncode == 0, f"README.md line {command.number}: `{command.line}`\n{result.stdout}{result.stderr}"
        assert "Traceback" not in result.stderr, result.stderr
        if shlex.split(command.line)[1] == "write":
            lines = lines_of(result.stdout)
            assert len(lines) == 4 and all(len(line) == 8 for line in lines), result.stdout  # a 七言绝句
            assert "".join(line[0] for line in lines) == acrostic_of(command.line)


def acrostic_of(line: str) -> str:
    words = shlex.split(line)
    return words[words.index("--acrostic") + 1]


# ------------------------------------------------------------------ install and test commands: what CI does
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def ci_script() -> str:
    return (ROOT / ".ci" / "run").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", CHECKED, ids=ids(CHECKED))
def test_readme_install_and_test_commands_match_ci(command: Command):
    words = shlex.split(command.line)
    extras = set(pyproject()["project"]["optional-dependencies"])
    if words[0] == "pip":
        index = words[words.index("--index-url") + 1] if "--index-url" in words else None
        targets = [w for w in words[2:] if not w.startswith("-") and w != index]
        for target in targets:
            if index is not None:
                continue  # the index's URL, checked below
            spec = re.fullmatch(r"\.\[([\w,-]+)\]", target)
            if spec:  # pip install -e ".[jax]": each extra exists
                unknown = set(spec.group(1).split(",")) - extras
                assert not unknown, f"README.md line {command.number}: no extra {sorted(unknown)} in pyproject.toml"
            elif target == "tox":  # CI installs tox the same way
                assert re.search(r"pip install .*\btox\b", ci_script()), ".ci/run does not install tox"
            elif (ROOT / target / "pyproject.toml").exists():  # a plugin package: tox installs it the same way
                assert f"{{toxinidir}}/{target}" in (ROOT / "tox.ini").read_text(encoding="utf-8"), target
            else:
                pytest.fail(f"README.md line {command.number}: don't know how to check `pip install {target}`")
        if index is not None:
            assert targets == ["torch"] and index == "https://download.pytorch.org/whl/cpu", command.line
            assert "torch" in extras
    elif words[0] == "tox":
        tox_ini = (ROOT / "tox.ini").read_text(encoding="utf-8")
        if words == ["tox"]:
            assert re.search(r"^python3 -m tox$", ci_script(), re.M), ".ci/run does not run plain tox"
        elif words[1:2] == ["-p"]:  # the CPU envs in parallel, as CI runs them
            pattern = rf"^python3 -m tox -p {words[2]}( --parallel-no-spinner)?$"
            assert len(words) == 3 and re.search(pattern, ci_script(), re.M), ".ci/run does not run " + command.line
        else:
            assert words[1:2] == ["-m"] and re.search(rf"^\s+{words[2]} = ", tox_ini, re.M), command.line
    elif words[0] == "mkdocs":
        assert words[1] == "build" and "mkdocs build --strict" in ci_script(), ".ci/run does not build the docs"
        assert "docs" in extras
