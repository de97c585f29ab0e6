"""Fill in the blanks: `write --template`, `--acrostic-at end|N` and the `template` constraint (tiny models, every
backend): the fixed characters are in every poem, with every decoder and with `regulated`; impossible templates
are refused in one line before decoding, naming the position."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from _writing_helpers import randomize
from click.testing import CliRunner

from tangpoet.cli import main
from tangpoet.data.vocab import Vocabulary
from tangpoet.decoding.constraints.form import split_verses, verse_chars
from tangpoet.decoding.constraints.template import TemplateConstraint, read_template
from tangpoet.decoding.forms import get_form
from tangpoet.errors import ConstraintError, VocabularyError
from tangpoet.model.poem_model import build_model, save_model
from tangpoet.writing import write

POEMS = (
    "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。",
    "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
    "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。",
    "空山新雨后，天气晚来秋。明月松间照，清泉石上流。竹喧归浣女，莲动下渔舟。随意春芳歇，王孙自可留。",
    "黄河远上白云间，一片孤城万仞山。羌笛何须怨杨柳，春风不度玉门关。",
    "秦时明月汉时关，万里长征人未还。但使龙城飞将在，不教胡马度阴山。春夏秋冬",
)
WUJUE = "□□明月□，□□□□□。□□□□□，□□□□□。"


@functools.lru_cache(maxsize=None)
def model():
    built = build_model(Vocabulary.build(POEMS), cell="gru", num_layers=1, units=8, embedding_dim=6)
    randomize(built, 5)
    return built


def verses(text: str) -> list[str]:
    return [verse_chars(v) for v in split_verses(text)]


def assert_fixed(text: str, template: str) -> None:
    got = verses(text)
    expected = read_template(template)
    assert [len(v) for v in got] == [len(v) for v in expected], text
    for line, cells in enumerate(expected):
        for col, char in enumerate(cells):
            if char is not None:
                assert got[line][col] == char, (text, line, col, char)


@pytest.mark.parametrize("decoder", ["greedy", "top-p", "beam"])
def test_template_characters_are_in_every_poem(decoder):
    poems = write(model(), template=WUJUE, decoder=decoder, seed=3, num=2)
    assert poems
    for poem in poems:
        assert_fixed(poem.text, WUJUE)
        assert poem.text.endswith("。")


@pytest.mark.parametrize("seed", range(5))
def test_random_templates_property(seed):
    """Random templates (random fixed characters at random positions, a random shi form): every poem of every
    decoder holds them, and the template constraint's own check finds nothing."""
    rng = np.random.default_rng(seed)
    form = get_form(["五言绝句", "七言绝句", "五言律诗"][rng.integers(3)])
    chars = [c for c in model().vocab.tokens[4:] if verse_chars(c)]
    rows = []
    for line in range(form.lines):
        row = "".join(chars[rng.integers(len(chars))] if rng.random() < 0.3 else "□" for _ in range(form.chars))
        rows.append(row + ("，" if line % 2 == 0 else "。"))
    template = "".join(rows)
    decoder = ["greedy", "sample", "top-k", "beam"][seed % 4]
    for poem in write(model(), template=template, decoder=decoder, seed=seed, num=2, form=form.name):
        assert_fixed(poem.text, template)
        assert TemplateConstraint(text=template).check(poem.text, form) == []


@pytest.mark.parametrize("at,col", [("end", -1), ("3", 2), ("1", 0)])
def test_acrostic_at_a_column(at, col):
    (poem,) = write(model(), acrostic="春夏秋冬", acrostic_at=at, form="七言绝句", seed=1)
    assert [v[col] for v in verses(poem.text)] == list("春夏秋冬")
    assert all(len(v) == 7 for v in verses(poem.text))


def test_acrostic_at_end_without_a_form_is_a_jueju():
    (poem,) = write(model(), acrostic="春夏秋冬", acrostic_at="end", seed=4, decoder="top-p")
    got = verses(poem.text)
    assert len(got) == 4 and len({len(v) for v in got}) == 1 and len(got[0]) in (5, 7)
    assert [v[-1] for v in got] == list("春夏秋冬")


def test_template_composes_with_regulated():
    pytest.importorskip("tangpoet_rhyme")
    from tangpoet.checking import check_poem, default_constraints

    template = "□□□□□，□□□□山。□□□□□，□□□□关。"
    for poem in write(model(), template=template, constraints=["regulated"], decoder="top-p", seed=2, num=3):
        assert_fixed(poem.text, template)
        assert check_poem(poem.text, default_constraints()).passed, poem.text


def test_a_wrong_tone_is_refused_naming_its_position():
    pytest.importorskip("tangpoet_rhyme")
    # 月 is 仄; the 2nd character of a 平起 poem's first line must be 平
    with pytest.raises(ConstraintError, match=r"「月」.*(character 2 of line 1|char 2)"):
        write(model(), template="□月□□□，□□□□□。□□□□□，□□□□□。", constraints=["regulated:pattern=ping"], seed=0)
    # the same through the constraint spec, listed after regulated: still the position
    with pytest.raises(ConstraintError, match=r"「月」.*(character 2 of line 1|char 2)"):
        write(
            model(), form="五言绝句", seed=0,
            constraints=["regulated:pattern=ping", ("template", {"text": "□月□□□，□□□□□。□□□□□，□□□□□。"})],
        )


def test_impossible_templates_are_refused_before_decoding():
    with pytest.raises(ConstraintError, match="match no form"):
        write(model(), template="□□□，□□□□。")
    with pytest.raises(ConstraintError, match="五言绝句 has 4 of 5"):
        write(model(), template=WUJUE.replace("□□明月□", "□□明月□□"), form="五言绝句")
    with pytest.raises(VocabularyError, match="line 1 character 3"):
        write(model(), template=WUJUE.replace("明", "龘"))
    with pytest.raises(ConstraintError, match="--acrostic"):
        write(model(), acrostic_at="end")
    with pytest.raises(ConstraintError, match="past the end"):
        write(model(), acrostic="春夏秋冬", acrostic_at="9", form="七言绝句")
    with pytest.raises(ConstraintError, match="start, end or a column"):
        write(model(), acrostic="春夏秋冬", acrostic_at="middle")
    with pytest.raises(ConstraintError, match="acrostic"):  # 明 at the head of line 1 and the template's 春 there
        write(model(), template="春□□□□，□□□□□。□□□□□，□□□□□。", acrostic="明月春风")


def test_template_check_reports_each_position():
    form = get_form("五言绝句")
    found = TemplateConstraint(text=WUJUE).check("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。", form)
    assert [(v.rule, v.line, v.col) for v in found] == [("template", 0, 2), ("template", 0, 3)]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return str(save_model(model(), tmp_path_factory.mktemp("template") / "m.keras"))


def test_cli(model_file):
    result = CliRunner().invoke(main, ["write", "--model", model_file, "--template", WUJUE, "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert_fixed("".join(result.stdout.split()), WUJUE)
    tail = CliRunner().invoke(
        main, ["write", "--model", model_file, "--acrostic", "春夏秋冬", "--acrostic-at", "end", "--form", "五绝"]
    )
    assert tail.exit_code == 0, tail.output
    assert [line[-2] for line in tail.stdout.splitlines()] == list("春夏秋冬")
    spec = CliRunner().invoke(
        main, ["write", "--model", model_file, "--form", "七绝", "--constraint", "template:chars=春夏秋冬,at=2"]
    )
    assert spec.exit_code == 0, spec.output
    assert [line[1] for line in spec.stdout.splitlines()] == list("春夏秋冬")
    bad = CliRunner().invoke(main, ["write", "--model", model_file, "--template", "□□□，□□□□。"])
    assert bad.exit_code == 2
    assert len(bad.output.strip().splitlines()) == 1 and "match no form" in bad.output
