"""Parallel couplets (对仗) and 重字: the pairing table reads famous 律诗 as parallel where they are, ``parallel``
(soft and strict) writes what it allows under every decoder, ``regulated`` writes no 重字, ``tangpoet check`` and
the ``parallelism`` scorer report it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _writing_helpers import property_seed

from tangpoet.decoding.couplets import bundled_table, chongzi, couplet_reports, parallelism
from tangpoet.decoding.forms import get_form
from tangpoet.errors import ConstraintError

DENGGAO = "风急天高猿啸哀，渚清沙白鸟飞回。无边落木萧萧下，不尽长江滚滚来。万里悲秋常作客，百年多病独登台。艰难苦恨繁霜鬓，潦倒新停浊酒杯。"
CHUNWANG = "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。"
# Real poems: the vocabulary of the tiny model (enough 平声 characters of several groups for a regulated 律诗).
POEMS = (
    DENGGAO, CHUNWANG,
    "空山新雨后，天气晚来秋。明月松间照，清泉石上流。竹喧归浣女，莲动下渔舟。随意春芳歇，王孙自可留。",
    "好雨知时节，当春乃发生。随风潜入夜，润物细无声。野径云俱黑，江船火独明。晓看红湿处，花重锦官城。",
    "剑外忽传收蓟北，初闻涕泪满衣裳。却看妻子愁何在，漫卷诗书喜欲狂。白日放歌须纵酒，青春作伴好还乡。即从巴峡穿巫峡，便下襄阳向洛阳。",
    "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。",
    "黄河远上白云间，一片孤城万仞山。羌笛何须怨杨柳，春风不度玉门关。",
    "远上寒山石径斜，白云深处有人家。停车坐爱枫林晚，霜叶红于二月花。",
    "月落乌啼霜满天，江枫渔火对愁眠。姑苏城外寒山寺，夜半钟声到客船。",
)
DECODERS = ("greedy", "top-k", "top-p", "beam")
backend_free = pytest.mark.torch  # backend-free tests run on one backend only


@pytest.fixture(scope="module")
def tiny():
    """A random-weight LSTM over the characters of POEMS (weights from numpy: the same on every backend)."""
    from tangpoet.data.vocab import Vocabulary
    from tangpoet.model.poem_model import build_model

    model = build_model(Vocabulary.build(POEMS), cell="lstm", num_layers=1, units=8, embedding_dim=6)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0.0, 0.6, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def middle_pairs(text: str, form: str):
    return [p for r in couplet_reports(text, get_form(form)) for p in r.pairs]


# ---------------------------------------------------------------------------------------------- reading
@backend_free
def test_denggao_and_chunwang_read_as_parallel_where_they_are():
    table = bundled_table()
    qilv, wulv = get_form("七言律诗"), get_form("五言律诗")
    reports = couplet_reports(DENGGAO, qilv, table)
    assert [r.lines for r in reports] == [(2, 3), (4, 5)]
    jing = {p.first + p.second: p.paired for p in reports[1].pairs}  # 万里悲秋常作客 / 百年多病独登台
    assert jing["万百"] and jing["里年"] and jing["秋病"] and jing["常独"] and jing["作登"]
    han = {p.first + p.second: p.paired for p in reports[0].pairs}  # 无边落木萧萧下 / 不尽长江滚滚来
    assert han["无不"] and han["木江"] and han["下来"] and han["萧滚"]  # 萧萧 / 滚滚: 叠字 answering 叠字
    assert reports[0].share >= 5 / 7 and reports[1].share >= 5 / 7
    chun = couplet_reports(CHUNWANG, wulv, table)
    assert {p.first + p.second for p in chun[0].pairs if p.paired} >= {"花鸟", "泪心"}
    assert {p.first + p.second for p in chun[1].pairs if p.paired} >= {"烽家", "火书", "三万"}
    # the same lines paired with a line of another poem read as far less parallel
    crossed = CHUNWANG.replace("恨别鸟惊心", "低头思故乡")
    assert parallelism(crossed, wulv, table) < parallelism(CHUNWANG, wulv, table) - 0.15
    assert parallelism(CHUNWANG, get_form("五言绝句"), table) is None  # a 绝句 has no couplet that must be parallel


@backend_free
def test_the_table_generalises_by_class_and_knows_what_it_learned_from():
    table = bundled_table()
    assert len(table) > 3000 and 16 <= table.num_classes <= 512
    assert table.source["classes_from"] in ("pairs", "embeddings") and table.source["heldout"]["middle"] > 0.5
    # colours, numbers and directions pair within their kind, whether or not the corpus wrote the pair
    assert table.paired("红", "绿") and table.paired("千", "万") and table.paired("东", "西")
    assert not table.paired("山", "山")  # the same character is never a parallel pair
    rare = [(a, b) for a in table.chars[:200] for b in table.chars[:200]
            if a != b and table.pair_count(a, b) == 0 and table.class_of(a) == table.class_of(b)]
    assert rare and all(table.score(a, b) is not None for a, b in rare[:50])  # unseen pairs still get a score


@backend_free
def test_chongzi_allows_diezi_only():
    assert chongzi(DENGGAO) == [] and chongzi(CHUNWANG) == []  # 萧萧, 滚滚 are 叠字
    found = dict(chongzi("秋月明明月正圆，清光明月照人前。谁知此夜清凉夜，一夜清风一夜眠。"))
    assert set(found) == {"月", "明", "清", "夜", "一"}
    assert found["一"] == [(3, 0), (3, 4)]


# ---------------------------------------------------------------------------------------------- checking
@backend_free
def test_check_reports_the_pairs_and_chongzi_in_text_and_json():
    from tangpoet.checking import check_poem, default_constraints, format_report

    report = check_poem(DENGGAO, default_constraints(["form"]))
    text = format_report(report)
    assert "对仗 lines 3–4" in text and "对仗 lines 5–6" in text and "万里悲秋常作客" in text
    data = report.to_dict()
    assert [c["lines"] for c in data["couplets"]] == [[3, 4], [5, 6]]
    first = data["couplets"][1]["pairs"][0]
    assert (first["first"], first["second"], first["paired"]) == ("万", "百", True)
    assert data["chongzi"] == []
    repeated = check_poem("秋月明明月正圆，清光明月照人前。谁知此夜清凉夜，一夜清风一夜眠。", default_constraints(["form"]))
    assert {c["char"] for c in repeated.to_dict()["chongzi"]} >= {"月", "夜"} and "重字" in format_report(repeated)


@backend_free
def test_check_cli_lists_chongzi_as_a_fault_of_style(tmp_path):
    """重字 is listed (text and --json) but does not fail the poem: the writer avoids it softly, so the checker does
    not make it a rule the writer could be forced to break (an acrostic, keywords or a rhyme that repeat)."""
    pytest.importorskip("tangpoet_rhyme")
    from click.testing import CliRunner

    from tangpoet.cli import main

    poem = "秋月明明月正圆，清光明月照人前。谁知此夜清凉夜，一夜清风一夜眠。"
    result = CliRunner().invoke(main, ["check", "--json", poem])
    [data] = json.loads(result.output)
    assert {c["char"] for c in data["chongzi"]} >= {"月", "夜"}
    assert not any(v["rule"] == "chongzi" for v in data["violations"])
    text = CliRunner().invoke(main, ["check", poem])
    assert "重字: " in text.output and "月 ×" in text.output
    shown = CliRunner().invoke(main, ["check", DENGGAO])
    assert "对仗 lines 5–6: " in shown.output and "对对" in shown.output


# ---------------------------------------------------------------------------------------------- options
@backend_free
def test_options_and_refusals_are_one_line():
    from tangpoet.decoding.constraints import CONSTRAINTS, get_constraint

    assert get_constraint("parallel").strength == 1.0 and get_constraint("对仗", {"strict": True}).strict
    for options, match in (({"strength": "much"}, "number"), ({"strength": 11}, "from 0 to 10"),
                           ({"strict": "maybe"}, "yes or no"), ({"width": 2}, "does not take")):
        with pytest.raises(ConstraintError, match=match) as info:
            get_constraint("parallel", options)
        assert "\n" not in str(info.value)
    if CONSTRAINTS.resolve("regulated") is not None:
        for options, match in (({"parallel": "lots"}, "yes, no, strict or a strength"), ({"chongzi": "maybe"}, "yes or no")):
            with pytest.raises(ConstraintError, match=match):
                get_constraint("regulated", options)
        assert get_constraint("regulated", {"parallel": "strict"}).parallel == (1.0, True)
        assert get_constraint("regulated", {"parallel": "2.5"}).parallel == (2.5, False)
        assert get_constraint("regulated", {"parallel": False}).parallel is None


def test_parallel_needs_a_lvshi(tiny):
    from tangpoet.writing import write

    with pytest.raises(ConstraintError, match="no couplet that must be parallel"):
        write(tiny, form="五言绝句", constraints=["parallel"])
    with pytest.raises(ConstraintError, match="needs a form"):
        write(tiny, constraints=["parallel"])


# ---------------------------------------------------------------------------------------------- writing
def _vocab_has_partner(table, vocab, a: str) -> bool:
    return any(table.paired(a, b) for b in vocab.tokens if len(b) == 1)


@pytest.mark.parametrize("form", ["五言律诗", "七言律诗"])
def test_strict_mode_only_writes_pairs_it_allows(tiny, form):
    """The property: every position of a middle couplet written under parallel:strict is paired (or a 叠字
    answering one), unless the model's vocabulary holds no partner at all for the first line's character."""
    from tangpoet.writing import write

    table = bundled_table()
    for k, decoder in enumerate(DECODERS):
        num = 2 if decoder == "beam" else 3
        seed = (property_seed() or 0) + k  # TANGPOET_PROPERTY_SEED=random: other examples each run
        for poem in write(tiny, form=form, decoder=decoder, constraints=["parallel:strict"], num=num, seed=seed):
            pairs = middle_pairs(poem.text, form)
            assert len(pairs) == 2 * get_form(form).chars
            for p in pairs:
                assert p.paired or not _vocab_has_partner(table, tiny.vocab, p.first), (poem.text, p)


def test_soft_preference_makes_couplets_more_parallel(tiny):
    from tangpoet.writing import write

    def share(options: str) -> float:
        poems = write(tiny, form="五言律诗", decoder="top-p", constraints=[f"parallel:{options}"], num=12, seed=5)
        pairs = [p for poem in poems for p in middle_pairs(poem.text, "五言律诗")]
        return sum(p.paired for p in pairs) / len(pairs)

    assert share("strength=4") > share("strength=0") + 0.15


@pytest.mark.parametrize("form", ["五言绝句", "七言律诗"])
def test_no_chongzi_under_regulated_with_every_decoder(tiny, form):
    """The property: regulated verse, every decoder, soft and strict 对仗 — no 重字, every rule kept."""
    pytest.importorskip("tangpoet_rhyme")
    from tangpoet_rhyme import check

    from tangpoet.writing import write

    for k, decoder in enumerate(DECODERS):
        spec = ("regulated", "regulated:parallel=strict", "regulated:parallel=2", "regulated")[k]
        num = 2 if decoder == "beam" else 3
        seed = (property_seed() or 0) + 10 + k
        for poem in write(tiny, form=form, decoder=decoder, constraints=[spec], num=num, seed=seed):
            assert chongzi(poem.text) == [], (spec, decoder, poem.text)
            assert check(poem.text, form=get_form(form)) == [], poem.text


def test_chongzi_can_be_turned_off(tiny):
    pytest.importorskip("tangpoet_rhyme")
    from tangpoet.writing import write

    poems = write(tiny, form="七言律诗", decoder="top-p", constraints=["regulated:chongzi=no"], num=6, seed=1)
    assert any(chongzi(p.text) for p in poems)  # a random model repeats characters when it may


def test_parallelism_scorer_ranks_candidates(tiny):
    from tangpoet.decoding.scoring import get_scorer
    from tangpoet.writing import write

    scorer = get_scorer("parallelism")
    real = scorer.score([CHUNWANG, CHUNWANG.replace("恨别鸟惊心", "低头思故乡")])
    assert real[0] > real[1]
    assert scorer.score(["白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"]) == [0.0]
    best = write(tiny, form="五言律诗", decoder="top-p", candidates=6, scorer="parallelism", seed=2)
    pool = write(tiny, form="五言律诗", decoder="top-p", num=6, seed=2)
    assert scorer.score(best)[0] == pytest.approx(max(scorer.score(pool)))


# ---------------------------------------------------------------------------------------------- the server
@backend_free
def test_the_server_check_shows_the_pairs(tmp_path):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from _serve_helpers import Server, tiny_model_file

    from tangpoet.checking import check_poems, parse_poem

    server = Server(tiny_model_file(tmp_path))
    try:
        with server.client() as client:
            response = client.post("/check", json={"text": CHUNWANG})
            page = client.get("/").text
    finally:
        server.stop()
    assert response.status_code == 200, response.text
    result = response.json()
    assert result == check_poems([parse_poem(CHUNWANG)])[0].to_dict()
    assert [c["lines"] for c in result["couplets"]] == [[3, 4], [5, 6]]
    assert {(p["first"], p["second"]) for p in result["couplets"][0]["pairs"] if p["paired"]} >= {("花", "鸟")}
    assert "showCouplets(result.couplets)" in page  # the page draws the pairs side by side
