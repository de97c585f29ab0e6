"""The docs' update mode (tests/test_docs_examples.py): with ``TANGPOET_UPDATE_DOCS=1`` a console example whose output
differs is rewritten in its page, in place (its ``$`` lines and the ``…`` that still match kept), and the test
passes; without it the test fails and nothing is written.

Backend-free (the pages here run ``tangpoet --version`` / ``--help`` / an unknown form, which load no model, and the
merging is text): PyTorch only.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("sybil")

from test_docs_examples import UPDATE_VARIABLE, refresh, refresh_line, run_page  # noqa: E402

pytestmark = pytest.mark.torch

STALE = """# A page

Some text, with `…` and a fence in prose: ```console.

```console
$ tangpoet --version
tangpoet, version 0.0.0
$ tangpoet --version
tangpoet, version …
```

Between the blocks.

```console
$ tangpoet --help | sed -n 1,4p
Usage: … [OPTIONS] COMMAND [ARGS]...
…
a line it no longer prints
$ tangpoet forms 不存在的词牌
error: no such form
$ tangpoet --help | sed -n 1p
Usage: an old usage line
```

The end.
"""


def printed(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tangpoet", *args], capture_output=True, text=True)


def refreshed() -> str:
    """STALE as the update mode must leave it, from what the commands print today."""
    usage = [line.rstrip() for line in printed("--help").stdout.splitlines()]
    return (
        STALE.replace("tangpoet, version 0.0.0", printed("--version").stdout.strip())
        .replace("a line it no longer prints", usage[3])  # "…" still stands for the lines between
        .replace("error: no such form", printed("forms", "不存在的词牌").stderr.strip())
        .replace("Usage: an old usage line", usage[0])
    )


def test_without_the_variable_a_stale_page_fails_and_is_not_written(tmp_path, monkeypatch):
    monkeypatch.delenv(UPDATE_VARIABLE, raising=False)
    page = tmp_path / "page.md"
    page.write_text(STALE, encoding="utf-8")
    before = page.stat().st_mtime_ns
    failures, ran, skipped = run_page(page, tmp_path / "home")
    assert len(failures) == 4, failures  # every stale output; the one that matches passes
    assert "line 6: $ tangpoet --version printed" in failures[0]
    assert page.read_text(encoding="utf-8") == STALE and page.stat().st_mtime_ns == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "page.md"]


def test_with_the_variable_the_page_is_rewritten_in_place_and_then_passes(tmp_path, monkeypatch):
    page = tmp_path / "page.md"
    page.write_text(STALE, encoding="utf-8")
    monkeypatch.setenv(UPDATE_VARIABLE, "1")
    failures, ran, skipped = run_page(page, tmp_path / "home")
    assert (failures, ran, skipped) == ([], 5, [])
    assert page.read_text(encoding="utf-8") == refreshed()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "page.md"]  # no temporary file left behind
    monkeypatch.delenv(UPDATE_VARIABLE)
    assert run_page(page, tmp_path / "home2")[0] == []  # the rewritten page passes as it is


def test_the_update_mode_never_rewrites_a_command_that_fails(tmp_path, monkeypatch):
    """A wrong exit status (here: an unknown form, exit 2, where the page shows a normal output) or a traceback is a
    broken example, not a stale output: it still fails and the page is left as it was."""
    page = tmp_path / "page.md"
    text = "```console\n$ tangpoet forms 不存在的词牌\n七言绝句\n```\n"
    page.write_text(text, encoding="utf-8")
    monkeypatch.setenv(UPDATE_VARIABLE, "1")
    failures, ran, skipped = run_page(page, tmp_path / "home")
    assert len(failures) == 1 and "exit status 2, not 0" in failures[0]
    assert page.read_text(encoding="utf-8") == text


def test_refresh_keeps_what_still_matches():
    # a line that still matches stays as the page shows it, "…" and all; a changed line becomes the new one
    assert refresh("model …/tang.keras\n寒食无穷客未休，", "model /x/tang.keras\n高斋无暇日无聊，") == (
        "model …/tang.keras\n高斋无暇日无聊，"
    )
    # a "…" line keeps standing for the lines between the lines kept
    assert refresh("saved\n…\nepoch 2: 5.0826", "saved\na\nb\nepoch 2: 4.9") == "saved\n…\nepoch 2: 4.9"
    # nothing of the page is left: what was printed, not a lone "…"
    assert refresh("…\nold", "new\nlines") == "new\nlines"
    # more and fewer lines than before
    assert refresh("a\nb", "a\nb2\nc") == "a\nb2\nc"
    assert refresh("a\nb\nc", "a") == "a"


def test_refresh_keeps_the_ellipses_of_a_line_where_the_text_around_them_is_still_there():
    page = '[{"poem":"东风","score":…,"backend":…,"model":"…/tang.keras"}]'
    printed = '[{"poem":"万里","score":-2.47,"backend":"torch","model":"tang.keras"}]'
    assert refresh_line(page, printed) == '[{"poem":"万里","score":…,"backend":…,"model":"tang.keras"}]'
    assert refresh(page, printed) == '[{"poem":"万里","score":…,"backend":…,"model":"tang.keras"}]'
    assert refresh_line("model …/tang.keras (19 MB)", "model /a/tang.keras (20 MB)") == "model …/tang.keras (20 MB)"
    # only spaces before it: nothing to find it by
    assert refresh_line("   …", "七言绝句: 1 problem") is None


def test_refresh_keeps_a_cut_number_and_a_bracketed_ellipsis_whole():
    """A number cut short (backend digits hidden) keeps as many characters of the new number — it was written out in
    full before, so the page failed on the other backends; a `[…]` stands for the whole list, not up to the first
    `]` inside it (which left the rest of the list, backend and all, on the page)."""
    page = 'data: {"char": "中", "logprob": -2.91…, "row": 0}'
    assert refresh_line(page, 'data: {"char": "中", "logprob": -2.753953456878662, "row": 0}') == (
        'data: {"char": "中", "logprob": -2.75…, "row": 0}'
    )
    page = '{"poem": "甲", "seed": 3, …, "streamed": "chars", "poems": […]}'
    printed = '{"poem": "乙", "seed": 3, "backend": "torch", "streamed": "chars", "poems": [{"lines": ["乙"], "backend": "torch"}]}'
    assert refresh_line(page, printed) == '{"poem": "乙", "seed": 3, …, "streamed": "chars", "poems": […]}'
    assert refresh_line('{"score": -3.1…}', '{"score": -3}') is None  # fewer characters than the page kept: not cut
