"""Free-form poems are poems (issue 22): without --form every poem is free verse — no empty verse, no verse longer
than the bound, the end on 。？！, always finished within the max length — with every decoder, on random tiny
untrained models and on adversarial ones (one that loves marks, one that never writes them); the bounds are options
with defaults from the model file; `tangpoet check` reports a poem that breaks the rule."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from _writing_helpers import property_seed, randomize, split, vocab
from click.testing import CliRunner
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tangpoet.cli import main
from tangpoet.decoding import DECODERS
from tangpoet.decoding.base import Decoder
from tangpoet.decoding.constraints import VerseConstraint, build_constraints
from tangpoet.decoding.constraints.verse import corpus_verse_chars, recorded_verse_chars
from tangpoet.errors import ConstraintError
from tangpoet.model.poem_model import build_model, save_model
from tangpoet.data.vocab import EOS_ID
from tangpoet.writing import write

DECODER_OPTIONS = {"greedy": {}, "sample": {}, "top-k": {"top_k": 5}, "top-p": {"top_p": 0.9}, "beam": {"beam_width": 3}}
MARKS = "，。？！；"
SEED = property_seed()


@functools.lru_cache(maxsize=None)
def adversary(kind: str = "random", cell: str = "gru", layers: int = 1, weights: int = 0):
    """A tiny untrained model: ``random`` weights, or one whose output bias makes it write marks (``marks``: 山，，。
    as a briefly trained model does) or never write a mark nor end (``run-on``: one endless verse)."""
    model = build_model(vocab(), cell=cell, num_layers=layers, units=8, embedding_dim=6)
    randomize(model, weights, scale=1.5)
    if kind != "random":
        v = vocab()
        marks = [v.id(c) for c in MARKS if c in v]
        values = model.get_weights()
        bias = next(i for i in reversed(range(len(values))) if values[i].shape == (len(v),))
        values[bias][marks] += 30.0 if kind == "marks" else -30.0
        if kind == "run-on":
            values[bias][EOS_ID] -= 30.0
        model.set_weights(values)
    return model


def assert_free_verse(text: str, low: int = 3, high: int = 11, max_len: int | None = None) -> None:
    """Written without tangpoet's constraint code: verses of low..high characters, each closed by a mark, the poem
    closed by 。？！, no other mark."""
    assert text and text[-1] in "。？！", text
    assert not any(c in "、：" for c in text), text
    for verse in split(text):
        assert verse[-1] in MARKS, (text, verse)
        assert low <= len(verse) - 1 <= high, (text, verse)
        assert not any(c in MARKS for c in verse[:-1]), (text, verse)
    assert max_len is None or len(text) <= max_len, (text, max_len)


@pytest.mark.parametrize("kind", ["random", "marks", "run-on"])
@pytest.mark.parametrize("decoder", sorted(DECODER_OPTIONS))
def test_every_decoder_writes_free_verse_on_every_adversary(decoder, kind):
    for weights in range(2):
        poems = write(adversary(kind, "lstm" if weights else "gru", 2 - weights, weights), decoder=decoder,
                      num=1 if decoder == "greedy" else 3, seed=weights, begin="山" if weights else "",
                      **DECODER_OPTIONS[decoder])
        for poem in poems:
            assert poem.finished, poem.text
            assert_free_verse(poem.text)


@settings(max_examples=25, deadline=None, derandomize=SEED is None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    kind=st.sampled_from(["random", "marks", "run-on"]),
    cell=st.sampled_from(["rnn", "lstm", "gru"]),
    weights=st.integers(0, 3),
    decoder=st.sampled_from(sorted(DECODER_OPTIONS)),
    begin=st.sampled_from(["", "山", "明月光，", "春风"]),
    max_len=st.one_of(st.none(), st.integers(1, 40)),
    bounds=st.one_of(st.none(), st.tuples(st.integers(1, 6), st.integers(0, 6))),
    draw_seed=st.integers(0, 2**16),
)
def test_free_form_poems_are_poems(kind, cell, weights, decoder, begin, max_len, bounds, draw_seed):
    """Every accepted request writes free verse, finished; a refused one (before decoding, one line) is exactly one
    whose max length or bounds no poem could meet."""
    low, high = (3, 11) if bounds is None else (bounds[0], bounds[0] + bounds[1])
    constraints = [] if bounds is None else [("verse", {"min": low, "max": high})]
    # what the begin text needs, worked out here: its verses must fit, then the open verse is padded and closed
    verses = begin.split("，")
    fits = all(low <= len(v) <= high for v in verses[:-1]) and len(verses[-1]) <= high
    need = len(begin) + (low + 1 if not verses[-1] else max(0, low - len(verses[-1])) + 1)
    try:
        poems = write(adversary(kind, cell, 1, weights), decoder=decoder, begin=begin, max_len=max_len,
                      constraints=constraints, num=1 if decoder == "greedy" else 2, seed=draw_seed,
                      **DECODER_OPTIONS[decoder])
    except ConstraintError as exc:
        assert "\n" not in str(exc)
        assert not fits or (max_len is not None and max_len < need), (SEED, begin, max_len, low, high, str(exc))
        return
    assert fits and (max_len is None or max_len >= need), (SEED, begin, max_len, low, high)
    for poem in poems:
        assert poem.finished and poem.text.startswith(begin), (SEED, poem.text)
        assert_free_verse(poem.text, low, high, max_len)


test_free_form_poems_are_poems = test_free_form_poems_are_poems if SEED is None else seed(SEED)(test_free_form_poems_are_poems)


class Contrary(Decoder):
    """An adversarial plugin decoder: always the least likely allowed token."""

    name = "contrary"

    def choose(self, log_probs, rng):
        return np.argmin(np.where(np.isfinite(log_probs), log_probs, np.inf), axis=-1)


def test_a_plugin_decoder_that_fights_the_model_still_writes_free_verse():
    DECODERS.add("contrary", lambda: Contrary)
    try:
        for kind in ("random", "marks", "run-on"):
            for max_len in (None, 4, 9):
                poem = write(adversary(kind), decoder="contrary", max_len=max_len, num=2, seed=0)[0]
                assert poem.finished
                assert_free_verse(poem.text, max_len=max_len)
    finally:
        DECODERS.unregister("contrary")


def test_the_chain_never_leaves_a_row_with_nothing():
    """A random walk through the free-verse chain at every max length from the shortest: never a dead row, and the
    poem is closed by the max length (so any decoder's choice is safe)."""
    v = vocab()
    rng = np.random.default_rng(0)
    for max_len in range(4, 30):
        constraints = build_constraints(v, max_len=max_len)
        history: list[int] = []
        while True:
            out = constraints.chain(np.asarray([history], dtype=np.int64), rng.normal(size=(1, len(v))).astype(np.float32))
            allowed = np.flatnonzero(np.isfinite(out[0]))
            assert allowed.size, v.decode(history)
            token = int(rng.choice(allowed))
            if token == EOS_ID:
                break
            history.append(token)
        assert_free_verse(v.decode(history), max_len=max_len)


# -- bounds ------------------------------------------------------------------------------------------------------
def test_bounds_come_from_the_option_then_the_model_file_then_the_constants(tmp_path):
    assert recorded_verse_chars({"corpus": {"verse_chars": [4, 5]}}) == (4, 5)
    assert recorded_verse_chars({"corpus": {"verse_chars": [9, 2]}}) is None  # unusable: the defaults apply
    assert recorded_verse_chars({}) is None
    model = build_model(vocab(), cell="gru", num_layers=1, units=8, embedding_dim=6)
    randomize(model, 5, scale=1.5)
    model.metadata = {"corpus": {"verse_chars": [4, 5]}}
    path = save_model(model, tmp_path / "m.keras")
    for poem in write(str(path), decoder="sample", num=4, seed=1):  # the file's record, read back
        assert_free_verse(poem.text, 4, 5)
    for poem in write(str(path), decoder="sample", num=4, seed=1, constraints=["verse:max=7,min=6"]):
        assert_free_verse(poem.text, 6, 7)
    for poem in write(adversary(), decoder="sample", num=4, seed=1):  # no record: 3-11
        assert_free_verse(poem.text, 3, 11)


def test_corpus_verse_chars_ignores_the_rarest_verses():
    poems = ["床前明月光，疑是地上霜。"] * 2000 + ["春夏秋冬东南西北春夏秋冬东南西北。", "兮。"]
    assert corpus_verse_chars(poems) == (5, 5)
    assert corpus_verse_chars(poems, coverage=1.0) == (1, 16)
    assert corpus_verse_chars(["", "。"]) is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_len": 3}, "max length 3 is too short for free verse (4 characters needed"),
        ({"begin": "山，"}, "'，' cannot be character 2"),
        ({"begin": "春夏秋冬东南西北春夏秋冬"}, "cannot be character 12"),
        ({"constraints": ["verse:min=8"], "form": "五绝"}, "outside the verse rule's 8-11"),
        ({"constraints": ["verse:min=6,max=4"]}, "min 6 is more than max 4"),
        ({"constraints": ["verse:max=100"]}, "max must be from 1 to 64"),
        ({"constraints": ["verse:max=3"], "keywords": ["春夏秋冬"]}, "longer than a verse of free verse (3-3"),
        ({"constraints": ["verse:min=8"], "acrostic": "春夏"}, "an acrostic poem has verses of 5 or 7 characters, outside the verse rule's 8-11"),
        ({"constraints": ["verse:min=4", "verse:min=5"]}, "two different verse rules"),
    ],
)
def test_requests_free_verse_cannot_meet_are_refused_in_one_line(kwargs, message):
    with pytest.raises(ConstraintError) as info:
        build_constraints(vocab(), **kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_form_keeps_its_exact_shape_and_a_matching_verse_rule_changes_nothing():
    plain = write(adversary("marks"), form="五绝", decoder="greedy", seed=0)[0].text
    assert write(adversary("marks"), form="五绝", decoder="greedy", seed=0, constraints=["verse:min=5,max=5"])[0].text == plain
    assert [len(v) for v in split(plain)] == [6, 6, 6, 6]


# -- the command line -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def marks_file(tmp_path_factory):
    return str(save_model(adversary("marks"), tmp_path_factory.mktemp("verse") / "m.keras"))


@pytest.mark.parametrize("decoder", ["greedy", "beam", "top-p"])
def test_the_issues_three_commands_print_poems(marks_file, decoder):
    """`tangpoet write --model m.keras --begin 山 --decoder D` on a model that writes 山，，。 when unconstrained."""
    result = CliRunner().invoke(main, ["write", "--model", marks_file, "--begin", "山", "--decoder", decoder, "--seed", "1"])
    assert result.exit_code == 0, result.output
    text = "".join(result.stdout.split())
    assert text.startswith("山")
    assert_free_verse(text)
    assert VerseConstraint().check(text, None) == []
    assert all(2 <= len(line) <= 12 for line in result.stdout.splitlines())  # one verse a line, none empty


@pytest.mark.parametrize(
    "poem, message",
    [
        ("山，，。", "line 2 is empty: a mark follows a mark"),
        ("，山高水长。", "line 1 is empty: the poem starts with a mark"),
        ("春夏秋冬东南西北春夏秋冬东南西北。", "line 1 has 16 characters, more than a verse's 3-11"),
        ("山高水长，月明星稀", "does not end on 。？！"),
    ],
)
def test_check_reports_a_poem_that_breaks_free_verse(poem, message):
    result = CliRunner().invoke(main, ["check", poem, "--json"])
    assert result.exit_code == 1, result.output
    assert message in " ".join(v["message"] for v in json.loads(result.stdout)[0]["violations"])


def test_verse_is_a_registered_built_in_constraint():
    from tangpoet.decoding.constraints import CONSTRAINTS

    assert CONSTRAINTS.get("verse") is VerseConstraint
    assert CONSTRAINTS.entry("verse").builtin
