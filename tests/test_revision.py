"""Revision: `check --suggest` (suggestions that mend what they claim and break nothing else), the whole-poem
rescoring they are ranked by, `revise` / `write --polish`, on tiny random-weight models (every backend)."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from _writing_helpers import randomize
from click.testing import CliRunner

from tangpoet.checking import Poem, check_poem, default_constraints
from tangpoet.cli import main
from tangpoet.data.vocab import Vocabulary
from tangpoet.model.poem_model import build_model, save_model
from tangpoet.revision import FULL, Schedule, rescore, revise, suggest, suggest_report
from tangpoet.revision.mending import char_index, key, positions_of, replace
from tangpoet.revision.scoring import poem_log_prob

pytest.importorskip("tangpoet_rhyme")

POEMS = (  # real regulated poems: the tiny model's vocabulary (characters of both tones, several rhyme groups)
    "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。",
    "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
    "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。",
    "空山新雨后，天气晚来秋。明月松间照，清泉石上流。竹喧归浣女，莲动下渔舟。随意春芳歇，王孙自可留。",
    "好雨知时节，当春乃发生。随风潜入夜，润物细无声。野径云俱黑，江船火独明。晓看红湿处，花重锦官城。",
    "黄河远上白云间，一片孤城万仞山。羌笛何须怨杨柳，春风不度玉门关。",
    "秦时明月汉时关，万里长征人未还。但使龙城飞将在，不教胡马度阴山。",
    "远上寒山石径斜，白云深处有人家。停车坐爱枫林晚，霜叶红于二月花。",
)


@functools.lru_cache(maxsize=None)
def model():
    built = build_model(Vocabulary.build(POEMS), cell="lstm", num_layers=1, units=8, embedding_dim=6)
    randomize(built, 3)
    return built


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return str(save_model(model(), tmp_path_factory.mktemp("revision") / "m.keras"))


def broken(seed: int):
    """A real poem with one fixed-tone character replaced by one of the other tone (the checker flags it)."""
    from tangpoet_rhyme import pingze

    rng = np.random.default_rng(seed)
    chars = [c for c in model().vocab.tokens[4:] if c not in "，。"]
    constraints = default_constraints()
    while True:
        text = POEMS[rng.integers(len(POEMS))]
        line, col, index = positions_of(text)[rng.integers(len(positions_of(text)))]
        tone = pingze(text[index])
        pool = [c for c in chars if pingze(c) in "平仄" and pingze(c) != tone and c not in text]
        if tone not in "平仄" or not pool:
            continue
        changed = replace(text, index, pool[rng.integers(len(pool))])
        report = check_poem(changed, constraints)
        if report.violations:
            return report, (line, col, text[index])


# ------------------------------------------------------------------------------------------ rescoring
def test_rescore_equals_scoring_every_replaced_poem():
    """Every candidate's gain is the whole poem's log-probability with it minus the poem's (<eos> included), at
    two positions of one pass."""
    from tangpoet.decoding.stepper import StepDecoder

    vocab = model().vocab
    stepper = StepDecoder.of(model())
    text = POEMS[1]
    ids = vocab.encode(text)
    positions = {2: vocab.encode("春山明月"), 9: vocab.encode("流城")}
    ranked = rescore(stepper, ids, positions, FULL)
    base = poem_log_prob(stepper, ids)
    for index, result in ranked.items():
        assert set(result.ids) == set(positions[index]) - {ids[index]}
        assert list(result.scores) == sorted(result.scores, reverse=True)
        for token, delta in zip(result.ids, result.deltas):
            changed = ids.copy()
            changed[index] = token
            assert delta == pytest.approx(poem_log_prob(stepper, changed) - base, abs=2e-3)


def test_schedule_drops_candidates_but_keeps_the_minimum():
    from tangpoet.decoding.stepper import StepDecoder

    vocab = model().vocab
    ids = vocab.encode(POEMS[0])
    candidates = np.arange(4, len(vocab))
    ranked = rescore(StepDecoder.of(model()), ids, {5: candidates}, Schedule(first=12, stages=((1, 4), (3, 2))), minimum=3)
    result = ranked[5]
    assert len(result.ids) == 3  # the schedule's 2, raised to the minimum
    assert result.considered == len(candidates) - 1
    assert set(result.dropped) | set(result.ids.tolist()) == set(candidates.tolist()) - {ids[5]}
    assert list(result.scores) == sorted(result.scores, reverse=True)


# ------------------------------------------------------------------------------------------ suggest
@pytest.mark.parametrize("seed", range(6))
def test_every_suggestion_mends_what_it_claims_and_breaks_nothing(seed):
    """The property: applied, each suggestion removes the violation it is offered for (and every rule it lists as
    mended) and adds no violation — checked by the full checker."""
    report, _ = broken(seed)
    constraints = default_constraints()
    mends = suggest_report(model(), report, constraints, 4)
    assert mends, report.violations
    before = {key(v) for v in report.violations}
    for mend in mends:
        assert (mend.rule, mend.line, mend.col) in before
        assert len(mend.options) <= 4
        assert mend.options or mend.note
        deltas = [o.delta for o in mend.options]
        assert deltas == sorted(deltas, reverse=True)
        for option in mend.options:
            text = report.poem.text
            for change in option.changes:
                index = char_index(text, change.line, change.col)
                assert text[index] == change.was != change.char
                text = replace(text, index, change.char)
            after = {key(v) for v in check_poem(Poem(None, text, text), constraints, report.form).violations}
            assert (mend.rule, mend.line, mend.col) not in after
            assert after <= before
            assert mend.rule in option.mends


def test_suggest_from_text_and_a_passing_poem_has_none():
    report, mends = suggest(model(), POEMS[1])
    assert report.passed and mends == []
    report, mends = suggest(model(), "白日依山尽，白河入海流。欲穷千里目，更上一层楼。", k=3)
    gu_ping = [m for m in mends if m.rule == "gu-ping"]
    assert gu_ping and all(len(m.options) <= 3 for m in mends)
    assert any(o.changes[0].col in (0, 1, 2, 3) and o.changes[0].line == 1 for o in gu_ping[0].options)


def test_suggest_count_is_bounded():
    from tangpoet.errors import PoemInputError

    with pytest.raises(PoemInputError, match="from 1 to 20"):
        suggest(model(), POEMS[1], k=0)


def test_check_cli_suggest_json(model_file):
    report, (line, col, _) = broken(1)
    result = CliRunner().invoke(main, ["check", "--suggest", "2", "--json", "--model", model_file, report.poem.text])
    assert result.exit_code == 1, result.output
    (row,) = json.loads(result.stdout)
    assert row["suggestions"], row
    for mend in row["suggestions"]:
        assert set(mend) == {"rule", "line", "col", "message", "options", "note"}
        assert len(mend["options"]) <= 2
        for option in mend["options"]:
            assert set(option) == {"line", "col", "was", "char", "changes", "delta", "mends"}


def test_check_cli_suggest_text_reads_a_poem_after_the_flag(model_file):
    report, _ = broken(2)
    result = CliRunner().invoke(main, ["check", "--model", model_file, "--suggest", report.poem.text])
    assert result.exit_code == 1, result.output
    assert "→ 第" in result.stdout
    plain = CliRunner().invoke(main, ["check", report.poem.text])
    assert "→" not in plain.stdout  # without --suggest: no model, no suggestions


def test_check_cli_bad_count_is_one_line(model_file):
    result = CliRunner().invoke(main, ["check", "--suggest", "99", "--model", model_file, POEMS[1]])
    assert result.exit_code == 2
    assert "from 1 to 20" in result.output and "Traceback" not in result.output


# ------------------------------------------------------------------------------------------ revise
def test_revise_improves_keeps_pins_and_repeats_with_the_seed():
    poem = POEMS[2]  # regulated verse (POEMS[3] has 浣, which the 平水韵 data lacks: mend would change it first)
    first = revise(model(), poem, rounds=3, constraints=["regulated"], keep="1,2,11", seed=5)
    again = revise(model(), poem, rounds=3, constraints=["regulated"], keep="1,2,11", seed=5)
    assert check_poem(poem, default_constraints()).passed
    assert first.text == again.text and first.changes == again.changes
    assert first.log_prob_after >= first.log_prob_before - 1e-6
    assert all(delta > 0 for _, delta in first.changes)
    sites = positions_of(poem)
    for n in (1, 2, 11):
        assert first.text[sites[n - 1][2]] == poem[sites[n - 1][2]]
    assert check_poem(first.text, default_constraints()).passed  # still regulated verse
    assert 1 <= len(first.changes) <= 3
    assert not any(c.char in poem for c, _ in first.changes)  # no new 重字


def test_revise_mends_broken_rules_first():
    report, _ = broken(3)
    revision = revise(model(), report.poem.text, rounds=0, constraints=["regulated"])
    assert revision.changes and revision.rounds == 0
    after = {key(v) for v in check_poem(revision.text, default_constraints()).violations}
    assert len(after) < len(report.violations)


def test_revise_keep_mask_and_bad_keep():
    from tangpoet.errors import PoemInputError

    poem = POEMS[1]
    mask = "□□□□□，□□□□□。欲穷千里目，更上一层楼。"
    revision = revise(model(), poem, rounds=4, keep=mask, seed=1)
    assert revision.text[12:] == poem[12:]
    with pytest.raises(PoemInputError, match="20 characters"):
        revise(model(), poem, keep="21")
    with pytest.raises(PoemInputError, match="mask"):
        revise(model(), poem, keep="□□□")


def test_revise_cli(model_file):
    args = ["revise", "--model", model_file, "--rounds", "2", "--seed", "4", "--keep", "1,2", POEMS[1]]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines[0]) == 24 and lines[0][:2] == POEMS[1][:2]
    assert CliRunner().invoke(main, args).stdout == result.stdout
    as_json = json.loads(CliRunner().invoke(main, [*args, "--json"]).stdout)
    assert as_json["poem"] == lines[0] and as_json["original"] == POEMS[1]
    bad = CliRunner().invoke(main, ["revise", "--model", model_file, "--keep", "99", POEMS[1]])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_write_polish_keeps_the_request():
    from tangpoet.decoding.stepper import StepDecoder
    from tangpoet.writing import write

    plain = write(model(), form="五言绝句", acrostic="春秋白黄", decoder="top-p", seed=2, constraints=["regulated"])
    polished = write(model(), form="五言绝句", acrostic="春秋白黄", decoder="top-p", seed=2, constraints=["regulated"], polish=3)
    text = polished[0].text
    assert [v[0] for v in text.replace("。", "，").split("，") if v] == list("春秋白黄")
    assert check_poem(text, default_constraints()).passed
    stepper = StepDecoder.of(model())
    assert poem_log_prob(stepper, model().vocab.encode(text)) >= poem_log_prob(stepper, model().vocab.encode(plain[0].text)) - 1e-6


# ------------------------------------------------------------------------------------------ the server
def test_serve_check_suggest_is_the_librarys(model_file):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    pytest.importorskip("httpx")
    from _serve_helpers import Server

    from tangpoet.checking import check_poems, parse_poem
    from tangpoet.model.poem_model import load_model

    report, _ = broken(4)
    text = report.poem.text
    server = Server(model_file)
    try:
        with server.client() as client:
            response = client.post("/check", json={"text": text, "suggest": 3})
            assert response.status_code == 200, response.text
            got = response.json()
            want = check_poems([parse_poem(text)])[0]
            want.suggestions = suggest_report(load_model(model_file), want, default_constraints(), 3)
            expected = json.loads(json.dumps(want.to_dict(), ensure_ascii=False))
            assert [m["options"] and [o["char"] for o in m["options"]] for m in got["suggestions"]] == [
                m["options"] and [o["char"] for o in m["options"]] for m in expected["suggestions"]
            ]
            for mine, theirs in zip(got["suggestions"], expected["suggestions"]):
                assert [o["delta"] for o in mine["options"]] == pytest.approx([o["delta"] for o in theirs["options"]], abs=1e-3)
            plain = client.post("/check", json={"text": text}).json()
            assert "suggestions" not in plain
            for bad in (0, 21, True, "3"):
                response = client.post("/check", json={"text": text, "suggest": bad})
                assert response.status_code in (400, 422), (bad, response.text)
                assert set(response.json()) == {"error"}
    finally:
        server.stop()


def test_pairs_mend_without_breaking_anything():
    """The pair search (used where no single character mends a rule): each pair offered, applied, removes the
    violation and adds none — tried here on a 孤平, which single characters mend too."""
    from tangpoet.checking import broken_positions
    from tangpoet.decoding.stepper import StepDecoder
    from tangpoet.revision.suggest import _pairs

    constraints = default_constraints()
    report = check_poem("白日依山尽，白河入海流。欲穷千里目，更上一层楼。", constraints)
    violation, positions = next((v, p) for v, p in broken_positions(report) if v.rule == "gu-ping")
    options = _pairs(StepDecoder.of(model()), model().vocab, report, constraints, violation, positions, 3)
    assert options and len(options) <= 3
    before = {key(v) for v in report.violations}
    for option in options:
        assert len(option.changes) == 2 and (option.changes[0].line, option.changes[0].col) == positions[0]
        text = report.poem.text
        for change in option.changes:
            text = replace(text, char_index(text, change.line, change.col), change.char)
        after = {key(v) for v in check_poem(text, constraints).violations}
        assert key(violation) not in after and after <= before
