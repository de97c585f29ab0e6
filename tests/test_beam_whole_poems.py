"""A user's first beam poem is a whole poem without repeated verses (issue 37): beam search ranks by length-normalised
score and searches on until no live beam can win (not stopping at the first `width` finished — the shortest), and no
decoder writes a verse twice (a soft rule among the defaults)."""

from __future__ import annotations

import numpy as np
import pytest

from tangpoet.decoding.beam import BeamDecoder
from tangpoet.decoding.base import Candidate
from tangpoet.decoding.constraints.classes import TokenClasses
from tangpoet.decoding.constraints.repeat import NoRepeatConstraint, NoRepeatVerse, repeated_verses
from tangpoet.data.vocab import Vocabulary


def verses(text: str) -> list[str]:
    out, current = [], ""
    for char in text:
        if char in "，。？！；":
            out.append(current)
            current = ""
        else:
            current += char
    return out


@pytest.fixture(scope="module")
def small_vocab() -> Vocabulary:
    return Vocabulary.build(["春风吹月明，春风吹月落。"])


@pytest.mark.torch  # no model: numpy only, one backend is enough
def test_the_character_that_would_repeat_a_verse_is_masked(small_vocab):
    v = small_vocab
    rule = NoRepeatVerse(TokenClasses(v).line_end)
    history = np.array([[v.id(c) for c in "春风吹月明，春风吹月"]])
    out = rule(history, np.zeros((1, len(v)), dtype=np.float32))
    assert out[0, v.id("明")] == -np.inf  # 春风吹月明 again
    assert np.isfinite(out[0, v.id("落")]) and np.isfinite(out[0, v.id("春")])
    shorter = np.array([[v.id(c) for c in "春风吹月明，春风吹"]])
    assert np.isfinite(rule(shorter, np.zeros((1, len(v)), dtype=np.float32))).all()  # not yet a whole verse


@pytest.mark.torch
def test_the_no_repeat_check_reports_a_repeated_verse():
    assert repeated_verses("月满西楼月满楼，西风吹雨夜凄凄。孤灯耿耿孤灯灭，月满西楼月满楼。") == [(4, "月满西楼月满楼")]
    found = NoRepeatConstraint().check("月满西楼月满楼，西风吹雨夜凄凄。孤灯耿耿孤灯灭，月满西楼月满楼。", None)
    assert [(v.line, v.message) for v in found] == [(4, "verse 4 「月满西楼月满楼」 repeats an earlier verse")]
    assert NoRepeatConstraint(verse=0).check("春风，春风。", None) == []


@pytest.mark.torch
def test_the_search_goes_on_while_a_live_beam_can_still_win():
    beam = BeamDecoder(beam_width=2)  # length penalty 1: the mean log-probability per character
    worst = Candidate(text="", tokens=(), score=-2.0, log_prob=-24.0, finished=True)
    # after 12 tokens a live beam at -26 (mean -2.17, worse now) may still reach -26 / 40 = -0.65 in 40 tokens
    assert beam._may_improve([-26.0], 12, 40, worst)
    assert not beam._may_improve([-90.0], 12, 40, worst)  # -90 / 40 < -2: it can never win
    plain = BeamDecoder(beam_width=2, length_penalty=0.0)
    assert not plain._may_improve([-26.0], 12, 40, Candidate("", (), -24.0, -24.0, True))  # only falls


@pytest.fixture(scope="module")
def bundled():
    from tangpoet.model.poem_model import load_model
    from tangpoet.pretrained import default_model_path

    return load_model(default_model_path())


def test_beam_from_shan_is_a_whole_poem(bundled):
    """The README's first example: two verses before (山中一片雪，不见一枝梅。), a whole poem now."""
    from tangpoet.writing import write

    poem = write(bundled, begin="山", decoder="beam")[0]
    assert len(verses(poem.text)) >= 4, poem.text
    assert not repeated_verses(poem.text), poem.text


def test_beam_qijue_from_yue_repeats_no_verse(bundled):
    """月满西楼月满楼 was the first and the last verse."""
    from tangpoet.writing import write

    poem = write(bundled, begin="月", form="七绝", decoder="beam")[0]
    assert not repeated_verses(poem.text), poem.text
