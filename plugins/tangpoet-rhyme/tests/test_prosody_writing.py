"""Writing with the prosody constraints: every accepted request finishes as correct regulated verse, with every
decoder (the property test, on a tiny random model), impossible requests are refused in one line before decoding,
the masks look ahead, and the retired decoders point to their replacement."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tangpoet.errors import ConstraintError, TangpoetError
from tangpoet_rhyme import check
from tangpoet_rhyme.checking import split_verses

from _prosody_poems import POEMS

FORMS = ("五言绝句", "七言绝句", "五言律诗", "七言律诗")
DECODERS = ("greedy", "sample", "top-k", "top-p", "beam")


def assert_regulated(text: str, form: str, constraint: str = "regulated", **options) -> None:
    from tangpoet.decoding.forms import get_form

    shape = get_form(form)
    verses = split_verses(text)
    assert len(verses) == shape.lines and all(len(v) == shape.chars for v in verses), text
    found = check(text, constraint, form=shape, **options)
    assert found == [], (text, [v.message for v in found])


def random_request(rng: np.random.Generator, vocab, form: str) -> dict:
    """An acrostic, a keyword (a 2-character piece of a verse of the vocabulary's poems) or nothing."""
    lines = 4 if "绝" in form else 8
    kind = rng.integers(3)
    if kind == 0:
        pool = [c for c in "春秋山月花风江天白日云人明清" if c in vocab]
        return {"acrostic": "".join(rng.choice(pool, size=lines, replace=False))}  # no 重字 forced on the poem
    if kind == 1:
        verses = [v for p in POEMS for v in split_verses(p)]
        verse = verses[rng.integers(len(verses))]
        start = rng.integers(len(verse) - 1)
        return {"keywords": [verse[start : start + 2]]}
    return {}


@pytest.mark.parametrize("form", FORMS)
def test_every_accepted_request_is_regulated_verse_with_every_decoder(tiny_model, form):
    """The property: random acrostics and keywords, the five decoders → 100 % pass the checker."""
    from tangpoet.writing import write

    rng = np.random.default_rng(FORMS.index(form))
    written = refused = 0
    for decoder in DECODERS:
        for k in range(2):
            request = random_request(rng, tiny_model.vocab, form)
            num = 2 if decoder == "beam" else 1
            try:
                poems = write(tiny_model, form=form, decoder=decoder, constraints=["regulated"], num=num,
                              seed=int(rng.integers(1000)), **request)
            except ConstraintError as exc:  # refused before decoding: one line
                assert "\n" not in str(exc)
                refused += 1
                continue
            assert len(poems) == num
            for poem in poems:
                assert poem.finished and np.isfinite(poem.log_prob)
                assert_regulated(poem.text, form)
                for keyword in request.get("keywords", []):
                    assert any(keyword in v for v in split_verses(poem.text)), (poem.text, keyword)
                if "acrostic" in request:
                    assert [v[0] for v in split_verses(poem.text)] == list(request["acrostic"])
                written += 1
    assert written >= 10 and refused <= 3


@pytest.mark.parametrize("constraint", ["rhyme", "tones", "tones:strict", "格律:pattern=ze,first_rhymes=no"])
def test_the_other_constraints_and_options_hold_too(tiny_model, constraint):
    from tangpoet.decoding.constraints import parse_spec
    from tangpoet.writing import write

    name, options = parse_spec(constraint)
    checked = {"格律": "regulated"}.get(name, name)
    for form, decoder in (("五言绝句", "top-p"), ("七言律诗", "beam")):
        for poem in write(tiny_model, form=form, decoder=decoder, constraints=[constraint], seed=3, num=1):
            assert_regulated(poem.text, form, checked, **options)
            if "pattern" in options:
                from tangpoet_rhyme import annotate

                assert annotate(poem.text)["pattern_name"] == "仄起首句不入韵"


def test_rhyme_and_tones_requested_apart_agree_on_the_first_line(tiny_model):
    from tangpoet.writing import write

    for seed in range(4):
        [poem] = write(tiny_model, form="七言绝句", decoder="sample", constraints=["rhyme", "tones"], seed=seed)
        assert_regulated(poem.text, "七言绝句", chongzi=False)  # rhyme + tones: regulated less its 重字 rule


def test_impossible_requests_are_refused_in_one_line_before_decoding(tiny_model):
    from tangpoet.writing import write

    # 啼 is not in the 平水韵 data: it can never stand at the 2nd character, whose tone is fixed.
    with pytest.raises(ConstraintError, match="啼") as info:
        write(tiny_model, form="五言绝句", begin="乌啼", constraints=["regulated"])
    assert "\n" not in str(info.value)
    # strict: the 1st characters of a couplet have opposite tones, four 仄 heads cannot all fit.
    with pytest.raises(ConstraintError) as info:
        write(tiny_model, form="五言绝句", acrostic="白日月石", constraints=["regulated:strict"])
    assert "\n" not in str(info.value)
    with pytest.raises(ConstraintError, match="needs a form"):
        write(tiny_model, constraints=["regulated"])
    # The begin text fixes the rhyme: a 仄 character cannot end the 2nd line.
    with pytest.raises(ConstraintError, match="月"):
        write(tiny_model, form="五言绝句", begin="白日依山尽，黄河入海月", constraints=["rhyme"])


def test_a_begin_text_that_fits_fixes_the_pattern_and_the_rhyme(tiny_model):
    from tangpoet.writing import write
    from tangpoet_rhyme import annotate, rhyme_table

    begin = "白日依山尽，黄河入海流"
    for decoder in ("greedy", "beam"):
        [poem] = write(tiny_model, form="五言绝句", begin=begin, decoder=decoder, constraints=["regulated"])
        assert poem.text.startswith(begin)
        assert_regulated(poem.text, "五言绝句")
        assert annotate(poem.text)["pattern_name"] == "仄起首句不入韵"
        assert "下平聲十一尤" in rhyme_table().level(split_verses(poem.text)[3][-1])


def test_the_rhyme_mask_looks_ahead_at_fixed_rhymes(tiny_model):
    """A keyword at the end of the last line fixes the group: the 2nd line may only rhyme with it."""
    from tangpoet.decoding.constraints import build_constraints
    from tangpoet_rhyme import rhyme_table

    vocab = tiny_model.vocab
    c = build_constraints(vocab, form="五言绝句", begin="白日依山尽，黄河入海流。欲穷千里目，更上一层",
                          constraints=["rhyme"])
    history = np.asarray(c.prompt, dtype=np.int64).reshape(1, -1)
    out = c.chain(history, np.zeros((1, len(vocab)), np.float32))
    allowed = {vocab.tokens[i] for i in np.flatnonzero(np.isfinite(out[0]))}
    assert allowed and "流" not in allowed  # no rhyme twice
    assert all("下平聲十一尤" in rhyme_table().level(ch) for ch in allowed)


def test_the_retired_decoders_name_their_replacement(tiny_model):
    from tangpoet.decoding import get_decoder

    with pytest.raises(TangpoetError, match="use --decoder beam --constraint rhyme"):
        get_decoder("rhyme-beam")
    with pytest.raises(TangpoetError, match="use --decoder top-p --constraint rhyme"):
        get_decoder("rhyme-sample", top_p=0.9)
    from tangpoet.registry import plugin_table

    status = {row.name: row.status for row in plugin_table() if row.kind == "decoder"}
    assert status["rhyme-beam"] == "retired: use --decoder beam --constraint rhyme"  # `tangpoet plugins` says so
    assert status["rhyme-sample"] == "retired: use --decoder top-p --constraint rhyme"
    assert status["top-p"] == "ok"


def test_cli_writes_regulated_verse_and_refuses_in_one_line(tiny_model_file):
    from click.testing import CliRunner

    from tangpoet.cli import main

    runner = CliRunner()
    args = ["write", "-m", str(tiny_model_file), "--form", "七绝", "--constraint", "格律", "--decoder", "beam",
            "--num", "3", "--seed", "1", "--json"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 3
    for row in rows:
        assert_regulated(row["poem"], "七言绝句")
    bad = runner.invoke(main, ["write", "-m", str(tiny_model_file), "--form", "五绝", "--acrostic", "白日月石",
                               "--constraint", "regulated:strict"])
    assert bad.exit_code == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert bad.stderr.startswith("error: ")
    retired = runner.invoke(main, ["write", "-m", str(tiny_model_file), "--form", "五绝", "--decoder", "rhyme-beam"])
    assert retired.exit_code == 2 and "--constraint rhyme" in retired.stderr


def test_the_soft_reader_preference_avoids_merged_characters_where_it_can():
    """Where a tone or a rhyme is fixed, characters that read otherwise in traditional characters are avoided while
    others are allowed: 峰 (s2t writes 峯, which the data lacks) at a 平 position, 干 (s2t: 幹, not in 一先) at a
    rhyme; at a free position nothing changes."""
    from tangpoet.decoding.constraints import TokenClasses
    from tangpoet.data.vocab import SPECIALS, Vocabulary
    from tangpoet_rhyme.masks import VocabProsody, reader_safe

    vocab = Vocabulary(list(SPECIALS) + list("干天月峰，。"))
    pros = VocabProsody(vocab, TokenClasses(vocab))
    soft = reader_safe(pros, 5, patterns=["平平仄仄平"], rhymes=[(0, 4)])
    assert not soft.hard
    log_probs = np.zeros((1, len(vocab)), np.float32)

    def allowed(t: int) -> set[str]:
        out = soft(np.zeros((1, t), np.int64), log_probs.copy())[0]
        return {vocab.tokens[i] for i in np.flatnonzero(np.isfinite(out))}

    assert allowed(1) == {"干", "天"}  # column 2 must be 平: 干 reads 中 (幹), 峰 reads ? (峯)
    assert allowed(4) == {"天"}  # the rhyme: 干's rhyme groups change with 幹
    assert allowed(2) >= {"干", "天", "月", "峰"}  # a free column
