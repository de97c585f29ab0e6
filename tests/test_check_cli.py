"""`tangpoet check`: poems from arguments, files or stdin; the form, tone marks, violations; --json; exit 0/1/2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tangpoet.data import script
from tangpoet.checking import check_poems, parse_poem, read_poems, split_poems
from tangpoet.cli import main
from tangpoet.decoding.constraints import CONSTRAINTS

DENG = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"
JINGYE = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
SIX = "白日依山尽了，黄河入海流。欲穷千里目，更上一层楼。"
CHUNWANG_TRADITIONAL = "春望\n國破山河在\n城春草木深\n感時花濺淚\n恨別鳥驚心\n烽火連三月\n家書抵萬金\n白頭搔更短\n渾欲不勝簪\n"
needs_prosody = pytest.mark.skipif(CONSTRAINTS.resolve("regulated") is None, reason="no prosody plugin installed")


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, ["check", *args], input=input)


def test_a_poem_as_an_argument_passes_the_form():
    result = run("登鹳雀楼:" + DENG, "--constraint", "form")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("《登鹳雀楼》 五言绝句") and ": ok" in result.output.splitlines()[0]


def test_a_file_of_corpus_lines_with_json_and_a_failure(tmp_path):
    path = tmp_path / "poems.txt"
    path.write_text(f"登鹳雀楼:{DENG}\n坏诗:{SIX}\n", encoding="utf-8")
    result = run("--file", str(path), "--constraint", "form", "--json")
    assert result.exit_code == 1, result.output
    rows = json.loads(result.output)
    assert [r["title"] for r in rows] == ["登鹳雀楼", "坏诗"]
    assert rows[0]["pass"] is True and rows[0]["form"] == "五言绝句" and rows[0]["violations"] == []
    assert rows[1]["pass"] is False and rows[1]["form"] is None
    assert {"title", "poem", "form", "pass", "lines", "violations", "constraints", "pattern_name"} <= set(rows[1])
    assert rows[1]["violations"][0]["rule"] == "length" and "match no regulated form" in rows[1]["violations"][0]["message"]
    assert [line["text"] for line in rows[0]["lines"]] == ["白日依山尽，", "黄河入海流。", "欲穷千里目，", "更上一层楼。"]


def test_stdin_with_one_verse_per_line_and_a_title_line():
    text = "静夜思\n床前明月光\n疑是地上霜\n举头望明月\n低头思故乡\n\n" + DENG + "\n"
    result = run("--constraint", "form", "--json", input=text)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["title"], r["poem"], r["form"]) for r in rows] == [("静夜思", JINGYE, "五言绝句"), (None, DENG, "五言绝句")]


def test_a_forced_form_and_the_core_constraints():
    result = run(DENG, "--form", "七绝", "--constraint", "form", "--json")
    assert result.exit_code == 1
    violations = json.loads(result.output)[0]["violations"]
    assert {v["rule"] for v in violations} == {"length"} and len(violations) == 4
    assert run(DENG, "--constraint", "acrostic:text=白黄欲更", "--constraint", "keywords:words=黄河/千里").exit_code == 0
    failed = run(DENG, "--constraint", "acrostic:text=春夏秋冬", "--constraint", "keywords:words=明月")
    assert failed.exit_code == 1
    assert "✗ acrostic" in failed.output and "✗ keyword" in failed.output and "明月" in failed.output


@pytest.mark.parametrize(
    "args, input, message",
    [
        ((), "", "no poem to check"),
        ((), "  \n\n ，。\n", "no poem to check"),
        (("--file", "/no/such/file.txt"), None, "cannot read"),
        ((DENG, "--constraint", "regulatd"), None, "unknown constraint 'regulatd'"),
        ((DENG, "--constraint", "form:colour=red"), None, "does not take colour"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, input, message):
    result = run(*args, input=input)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and message in result.output and result.output.count("\n") == 1


def test_a_file_that_is_not_utf8_is_exit_2(tmp_path):
    path = tmp_path / "gbk.txt"
    path.write_bytes(DENG.encode("gbk"))
    result = run("--file", str(path))
    assert result.exit_code == 2 and "not UTF-8" in result.output


def test_reading_rules():
    assert parse_poem("白日依山尽 黄河入海流 欲穷千里目 更上一层楼").text == DENG  # spaces for marks
    assert parse_poem("白日依山尽,黄河入海流.欲穷千里目,更上一层楼.").text == DENG  # ASCII marks
    assert [p.title for p in split_poems(f"a:{DENG}\nb:{JINGYE}\n")] == ["a", "b"]
    assert len(read_poems([DENG + "\n\n" + JINGYE])) == 2


@pytest.mark.skipif(not script.available(), reason="OpenCC not installed")
def test_traditional_input_is_read_as_simplified():
    result = run("--constraint", "form", "--json", input=CHUNWANG_TRADITIONAL)
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)[0]
    assert row["title"] == "春望" and row["form"] == "五言律诗"
    assert row["poem"].startswith("国破山河在，城春草木深。感时花溅泪") and "國" in row["original"]


@needs_prosody
def test_famous_poems_pass_and_broken_ones_are_explained():
    result = run("登鹳雀楼:" + DENG)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].strip().startswith("白日依山尽，") and set(lines[2].split()[0]) <= set("平仄通？")
    assert "[" in lines[3]  # the rhyme group at a rhyming line's end
    reports = check_poems(read_poems([JINGYE]))
    assert not reports[0].passed and reports[0].annotation["lines"][0]["tones"]
    shown = run(JINGYE)
    assert shown.exit_code == 1 and "✗" in shown.output


# -- a positional argument that names a file (issue 23, defect 5) ---------------------------------------------------
def test_a_positional_argument_naming_a_file_is_read_as_the_file(tmp_path, monkeypatch):
    (tmp_path / "poem.txt").write_text(f"登鹳雀楼:{DENG}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = run("poem.txt", "--constraint", "form", "--json")  # was: the name checked as the poem 「poem。txt」
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["title"], r["poem"], r["pass"]) for r in rows] == [("登鹳雀楼", DENG, True)]
    both = run(str(tmp_path / "poem.txt"), JINGYE, "--constraint", "form", "--json")
    assert [r["poem"] for r in json.loads(both.output)] == [JINGYE, DENG]  # texts first, then files


def test_a_dash_reads_standard_input_beside_other_arguments():
    result = run(JINGYE, "-", "--constraint", "form", "--json", input=DENG + "\n")
    assert result.exit_code == 0, result.output
    assert [r["poem"] for r in json.loads(result.output)] == [JINGYE, DENG]


@pytest.mark.parametrize("argument", ["poem.txt", "./poems", "~/tang/poem.md", "C:\\poems\\a.txt"])
def test_a_path_that_does_not_exist_gets_a_one_line_hint(tmp_path, monkeypatch, argument):
    monkeypatch.chdir(tmp_path)
    result = run(argument)
    assert result.exit_code == 2, result.output
    assert result.output == f"error: no such file: {argument} (a poem to check is Chinese text; give a file that exists, or - to read standard input)\n"
