"""`tangpoet write`: poems one line per verse, --json, and one-line errors with exit status 2."""

from __future__ import annotations

import json

import pytest
from _writing_helpers import check_poem, tiny_model
from click.testing import CliRunner

from tangpoet.cli import main
from tangpoet.model.poem_model import save_model


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return str(save_model(tiny_model("gru", 2), tmp_path_factory.mktemp("write") / "m.keras"))


def run(*args: str):
    return CliRunner().invoke(main, ["write", *args])


def test_begin_with_beam(model_file):
    result = run("--model", model_file, "--begin", "山", "--decoder", "beam", "--max-len", "20")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("山")


def test_form_and_acrostic_print_one_line_per_verse(model_file):
    result = run("--model", model_file, "--form", "七言绝句", "--acrostic", "春夏秋冬", "--seed", "7")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 4 and all(len(line) == 8 for line in lines)
    assert [line[0] for line in lines] == list("春夏秋冬")
    assert [line[-1] for line in lines] == ["，", "。", "，", "。"]
    check_poem("".join(lines), form="七绝", acrostic="春夏秋冬")


def test_json_and_seeds(model_file):
    args = ("--model", model_file, "--form", "wujue", "--decoder", "top-k", "--top-k", "4", "--num", "2", "--json")
    first = run(*args, "--seed", "3")
    assert first.exit_code == 0, first.output
    rows = json.loads(first.stdout)
    assert len(rows) == 2
    for row in rows:
        assert set(row) >= {"poem", "lines", "score", "decoder", "seed", "backend", "model"}
        assert row["seed"] == 3 and row["decoder"] == "top-k" and row["model"] == model_file
        assert "".join(row["lines"]) == row["poem"] and len(row["lines"]) == 4
        check_poem(row["poem"], form="五绝")
    assert rows[0]["score"] >= rows[1]["score"]
    assert json.loads(run(*args, "--seed", "3").stdout) == rows
    unseeded = json.loads(run(*args).stdout)
    assert isinstance(unseeded[0]["seed"], int)  # a fresh seed, reported so the poem can be written again


@pytest.mark.parametrize("decoder", ["greedy", "sample", "top-p"])
def test_every_decoder_from_the_command_line(model_file, decoder):
    result = run("--model", model_file, "--decoder", decoder, "--form", "五律", "--seed", "1", "--num", "2")
    assert result.exit_code == 0, result.output
    poems = result.stdout.strip().split("\n\n")
    assert len(poems) == (1 if decoder == "greedy" else 2)
    for poem in poems:
        check_poem(poem.replace("\n", ""), form="五律")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--decoder", "beem"], "unknown decoder 'beem' (did you mean 'beam'?)"),
        (["--form", "七言绝诗"], "unknown form '七言绝诗' (did you mean '七言绝句'?)"),
        (["--begin", "猫"], "the model does not know '猫'"),
        (["--acrostic", "春夏秋冬山", "--form", "五绝"], "longer than 五言绝句's 4 lines"),
        (["--begin", "\udcff\udcfe"], "--begin is not valid UTF-8"),
        (["--acrostic", "春\udcc3"], "--acrostic is not valid UTF-8"),
        (["--decoder", "greedy", "--top-k", "3"], "decoder 'greedy' does not take top-k"),
        (["--decoder", "beam", "--num", "6"], "asked for 6, width 5"),
        (["--form", "七律", "--max-len", "30"], "too short for the form 七言律诗"),
    ],
)
def test_errors_are_one_line_and_exit_2(model_file, args, message):
    result = run("--model", model_file, *args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr


def test_missing_model(tmp_path, monkeypatch):
    import tangpoet.pretrained

    monkeypatch.setattr(tangpoet.pretrained, "DEFAULT_MODEL", tmp_path / "none.keras")
    result = run("--form", "五绝")
    assert result.exit_code == 2 and "pass --model" in result.stderr
    result = run("--model", str(tmp_path / "gone.keras"))
    assert result.exit_code == 2 and "model file not found" in result.stderr
