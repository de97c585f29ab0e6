"""A ci's two stanzas (阕): written ci show the break the tune table has (`write`'s text, a blank line; its JSON and the
library's poems, `stanza_break`), shi print exactly as before, and `check` reads a ci pasted with a blank line
between its stanzas as one poem — from an argument and from a file, read as a stream."""

from __future__ import annotations

import json

import pytest
from _writing_helpers import tiny_model
from click.testing import CliRunner

from tangpoet.checking import read_poems, split_poems
from tangpoet.cli import main
from tangpoet.decoding.forms import get_form
from tangpoet.model.poem_model import save_model
from tangpoet.writing import split_stanzas, write

# 晏殊, 浣溪沙, as a printed ci collection sets it: the tune, the first stanza, a blank line, the second.
FIRST = "一曲新词酒一杯。\n去年天气旧亭台。\n夕阳西下几时回。"
SECOND = "无可奈何花落去，\n似曾相识燕归来。\n小园香径独徘徊。"
WHOLE = "一曲新词酒一杯。去年天气旧亭台。夕阳西下几时回。无可奈何花落去，似曾相识燕归来。小园香径独徘徊。"
JINGYE = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return str(save_model(tiny_model("gru", 2), tmp_path_factory.mktemp("stanzas") / "m.keras"))


def run(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def blocks(text: str) -> list[list[str]]:
    """The text's lines in blocks between blank lines."""
    out: list[list[str]] = [[]]
    for line in text.strip("\n").split("\n"):
        if line:
            out[-1].append(line)
        else:
            out.append([])
    return out


# -- writing -------------------------------------------------------------------------------------------------------
def test_write_prints_a_blank_line_where_the_tunes_second_stanza_begins(model_file):
    form = get_form("浣溪沙")
    assert form.stanza_break == 3  # 3 + 3 verses, as the table has it
    text = run("write", "--model", model_file, "--form", "浣溪沙", "--seed", "1")
    first, second = blocks(text)
    assert len(first) == form.stanza_break and len(first) + len(second) == form.lines
    assert [len(line) - 1 for line in first + second] == list(form.lengths)
    assert "".join(first + second).endswith("。")


def test_several_ci_are_two_blank_lines_apart_and_read_back_by_check(model_file, tmp_path):
    """`write -n 2 > file; check file`: each ci's stanzas one poem again, the two ci two poems."""
    form = get_form("菩萨蛮")
    text = run("write", "--model", model_file, "--form", "菩萨蛮", "--decoder", "top-p", "--num", "2", "--seed", "2")
    assert "\n\n\n" in text.strip("\n")  # a blank line between stanzas, two between ci
    assert [len(b) for b in blocks(text) if b] == [form.stanza_break, form.lines - form.stanza_break] * 2
    poems = split_poems(text)
    assert len(poems) == 2 and all(len(p.text) == form.length for p in poems)
    written = tmp_path / "ci.txt"
    written.write_text(text, encoding="utf-8")
    assert [p.text for p in read_poems(files=[written])] == [p.text for p in poems]  # a file: read as a stream


def test_the_json_and_the_library_carry_the_break(model_file):
    rows = json.loads(run("write", "--model", model_file, "--form", "浣溪纱", "--seed", "1", "--json"))  # an alias
    assert rows[0]["stanza_break"] == 3 and len(rows[0]["lines"]) == 6
    poem = write(tiny_model("gru", 2), form="水调歌头", variant=2, seed=1)[0]
    form = get_form("水调歌头", variant=2)
    assert poem.stanza_break == form.stanza_break
    first, second = split_stanzas(poem)
    assert (len(first), len(second)) == (form.stanza_break, form.lines - form.stanza_break)


def test_shi_print_as_before(model_file):
    text = run("write", "--model", model_file, "--form", "五言绝句", "--seed", "1", "--num", "2", "--decoder", "top-p")
    assert [len(b) for b in blocks(text)] == [4, 4]  # one blank line between poems, none inside
    rows = json.loads(run("write", "--model", model_file, "--form", "五言绝句", "--seed", "1", "--json"))
    assert "stanza_break" not in rows[0]
    assert write(tiny_model("gru", 2), form="七律", seed=1)[0].stanza_break is None


# -- checking (backend-free: one backend) --------------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize("pasted", [
    f"{FIRST}\n\n{SECOND}",  # no title: the tune from the shape
    f"浣溪沙：{FIRST}\n\n{SECOND}",  # title:content
    f"浣溪沙\n{FIRST}\n\n{SECOND}",  # the tune on a line of its own
])
def test_check_reads_a_ci_pasted_in_two_stanzas_as_one(pasted):
    result = CliRunner().invoke(main, ["check", "--json", pasted])
    rows = json.loads(result.stdout)
    assert len(rows) == 1, result.output
    assert (rows[0]["form"], rows[0]["variant"], rows[0]["poem"]) == ("浣溪沙", 1, WHOLE)
    assert result.exit_code == (0 if rows[0]["pass"] else 1)


@pytest.mark.torch
def test_checks_report_marks_the_stanza_break():
    """`check`'s report shows where the second stanza begins (text: a 下阕 line before its first verse; JSON:
    `stanza_break`, an index in `lines`); a shi has none."""
    text = CliRunner().invoke(main, ["check", WHOLE]).stdout.splitlines()
    assert text.count("   （下阕）") == 1
    assert text[text.index("   （下阕）") + 1].strip() == "无可奈何花落去，"  # right above the second stanza's first verse
    assert json.loads(CliRunner().invoke(main, ["check", "--json", WHOLE]).stdout)[0]["stanza_break"] == 3
    assert "下阕" not in CliRunner().invoke(main, ["check", JINGYE]).stdout
    assert json.loads(CliRunner().invoke(main, ["check", "--json", JINGYE]).stdout)[0]["stanza_break"] is None


@pytest.mark.torch
def test_blank_lines_still_separate_poems(tmp_path):
    """Two 五绝 are not one 生查子 (5555 + 5555); two whole ci stay two; a titled second block is a poem of its own."""
    assert len(split_poems(f"{JINGYE}\n\n{JINGYE}")) == 2
    assert len(split_poems(f"{WHOLE}\n\n{WHOLE}")) == 2
    assert len(split_poems(f"浣溪沙：{FIRST}\n\n浣溪沙：{SECOND}")) == 2
    assert [p.title for p in split_poems(f"生查子：{JINGYE}\n\n{JINGYE}")] == ["生查子"]  # named: one ci
    mixed = tmp_path / "mixed.txt"  # read as a stream: the same poems as the text whole
    text = f"{JINGYE}\n\n{FIRST}\n\n{SECOND}\n\n{JINGYE}\n\n菩萨蛮：哀筝一弄湘江曲。声声写尽湘波绿。纤指十三弦。细将幽恨传。\n\n" \
           "当筵秋水慢。玉柱斜飞雁。弹到断肠时。春山眉黛低。\n"
    mixed.write_text(text, encoding="utf-8")
    streamed = read_poems(files=[mixed])
    assert [p.text for p in streamed] == [p.text for p in split_poems(text)]
    assert [len(p.text) for p in streamed] == [24, 48, 24, 52]  # 五绝, 浣溪沙, 五绝, 菩萨蛮


@pytest.mark.torch
def test_a_traditional_tune_title_names_the_tune():
    from tangpoet.data import script

    if not script.available():
        pytest.skip("reading traditional characters needs OpenCC (tangpoet[script])")
    poems = split_poems("菩薩蠻：哀箏一弄湘江曲。聲聲寫盡湘波綠。纖指十三弦。細將幽恨傳。\n\n當筵秋水慢。玉柱斜飛雁。彈到斷腸時。春山眉黛低。")
    assert len(poems) == 1
    result = CliRunner().invoke(main, ["check", "--json", f"{poems[0].title}：{poems[0].original}"])
    row = json.loads(result.stdout)[0]
    assert (row["form"], row["variant"]) == ("菩萨蛮", 1) and row["poem"].startswith("哀筝一弄湘江曲。")
