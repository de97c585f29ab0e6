"""Line ends that read the same to every reader of the traditional text: every reading of a character (OpenCC
converts by phrase: 长吁 stays 長吁, 一径 becomes 一逕), strict in the plan's masks at line ends (by default), and no
line end that must not rhyme sharing a reading's group with the rhymes."""

from __future__ import annotations

import numpy as np

from tangpoet.decoding.constraints import TokenClasses, build_constraints
from tangpoet.data.vocab import SPECIALS, Vocabulary
from tangpoet_rhyme.masks import NoEcho, VocabProsody


def _pros(chars: str):
    vocab = Vocabulary(list(SPECIALS) + list(chars) + ["，", "。"])
    return vocab, VocabProsody(vocab, TokenClasses(vocab))


def test_every_reading_counts():
    vocab, pros = _pros("吁识径烟天月思")
    plain = {vocab.tokens[i] for i in np.flatnonzero(pros.safe_plain_end())}
    assert "吁" not in plain  # 吁 alone converts to 籲 (仄), but 长吁 stays 吁: 七虞, 平 — a reader may hear a rhyme
    assert {"识", "月"} <= plain
    for char in "径烟":  # a phrase gives 逕 / 菸, which the 平水韵 data lacks: no tone is safe for them
        assert not pros.every_fits("平")[vocab.id(char)] and not pros.every_fits("仄")[vocab.id(char)]
    assert pros.safe_rhyme()[vocab.id("天")] and not pros.safe_rhyme()[vocab.id("月")]


def test_a_line_end_that_does_not_rhyme_shares_no_group_with_the_rhymes():
    vocab, pros = _pros("思识月天")
    # 五言: rhyme at line 2's end (token 10), a plain end at line 3's end (token 16)
    echo = NoEcho(pros, 5, rhymes=[(1, 4)], plain_ends=[(2, 4)])
    assert not echo.hard
    history = np.full((2, 16), vocab.id("天"), dtype=np.int64)
    history[0, 10] = vocab.id("思")  # 思 reads 四支 and 四寘; 识 reads 四寘 too
    out = echo(history, np.zeros((2, len(vocab)), np.float32))
    assert not np.isfinite(out[0, vocab.id("识")]) and np.isfinite(out[0, vocab.id("月")])
    assert np.isfinite(out[1, vocab.id("识")])  # after 天 (一先) nothing echoes


def test_line_ends_are_strict_in_the_plan_by_default(tiny_model):
    vocab = tiny_model.vocab
    pros = VocabProsody(vocab, TokenClasses(vocab))
    for options, strict in (({}, True), ({"safe_ends": "no"}, False)):
        planned = build_constraints(vocab, form="五律", constraints=[("regulated", options)], rng=np.random.default_rng(1))
        allowed = planned.plan.ctx.allowed
        ends = [allowed[line, 4] for line in range(8)]
        safe = [pros.safe_rhyme() if line % 2 else pros.safe_plain_end() for line in range(8)]
        inside = [not (end & ~ok).any() for end, ok in zip(ends, safe) if (end & ok).any()]
        assert all(inside) if strict else not all(inside)
