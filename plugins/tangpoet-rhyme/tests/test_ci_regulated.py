"""Regulated ci (词): the 词林正韵 rhyme book, a tune variant's tones and rhymes checked on famous ci (a tone or rhyme
broken on purpose is flagged at that character), and written by construction with every decoder (a tiny random
model over the characters of real ci)."""

from __future__ import annotations

import numpy as np
import pytest

from tangpoet.errors import ConstraintError

# From ../shared/data/ci (全宋词).
SHUI_DIAO_GE_TOU = (  # 苏轼, 水调歌头
    "明月几时有，把酒问青天。不知天上宫阙，今夕是何年。我欲乘风归去，又恐琼楼玉宇，高处不胜寒。起舞弄清影，何似在人间。"
    "转朱阁，低绮户，照无眠。不应有恨，何事长向别时圆。人有悲欢离合，月有阴晴圆缺，此事古难全。但愿人长久，千里共婵娟。"
)
SHENG_SHENG_MAN = (  # 李清照, 声声慢
    "寻寻觅觅，冷冷清清，凄凄惨惨戚戚。乍暖还寒时候，最难将息。三杯两盏淡酒，怎敌他、晚来风急。雁过也，正伤心，"
    "却是旧时相识。满地黄花堆积。憔悴损，如今有谁忺摘。守著窗儿，独自怎生得黑。梧桐更兼细雨，到黄昏、点点滴滴。"
    "这次第，怎一个、愁字了得。"
)
TUNES = ("浣溪沙", "菩萨蛮", "西江月", "如梦令", "水调歌头")
DECODERS = {"greedy": {}, "sample": {}, "top-k": {"top_k": 5}, "top-p": {"top_p": 0.9}, "beam": {"beam_width": 3}}


def report_of(text: str, title: str | None = None):
    from tangpoet.checking import check_poem, default_constraints

    return check_poem(f"{title}:{text}" if title else text, default_constraints(["regulated"]))


def faults(report, rule: str) -> set[tuple[int, int]]:
    return {(v.line, v.col) for v in report.violations if v.rule == rule}


def test_the_rhyme_book_has_the_19_parts_and_its_licence():
    from importlib import resources

    from tangpoet_rhyme.cilin import rhyme_book

    book = rhyme_book()
    assert len(book.parts) == 19 and book.parts[0].name == "第一部"
    assert [p.entering for p in book.parts] == [False] * 14 + [True] * 5
    assert book.mark("东") == "平" and book.mark("得") == "仄" and book.mark("中") == "平仄" and book.mark("A") is None
    assert book.fits("天", "平") and book.fits("天", "仄") is False and book.fits("看", "平")
    assert "MIT" in resources.files("tangpoet_rhyme").joinpath("data", "LICENSE-cilin").read_text("utf-8")


def test_parts_song_ci_rhyme_together_are_not_faults():
    """晏殊's 浣溪沙 rhymes 杯 回 徊 (第三部) with 台 来 (第五部): parts Song ci rhyme together (邻部通押, measured on
    全宋词 by the table builder), so no rhyme fault; 穷 (第一部) there would be one."""
    from tangpoet_rhyme.cilin import rhyme_book

    book = rhyme_book()
    names = [p.name for p in book.parts]
    assert names.index("第五部") in book.rhymes_with(names.index("第三部"))
    assert names.index("第一部") not in book.rhymes_with(names.index("第三部"))
    text = "一曲新词酒一杯。去年天气旧亭台。夕阳西下几时回。无可奈何花落去，似曾相识燕归来。小园香径独徘徊。"
    report = report_of(text, "浣溪沙")
    assert report.passed and report.form.name == "浣溪沙", [v.message for v in report.violations]
    assert faults(report_of(text.replace("旧亭台", "旧亭穷"), "浣溪沙"), "rhyme") == {(1, 6)}


def test_su_shi_is_recognised_and_keeps_the_tune():
    report = report_of(SHUI_DIAO_GE_TOU)
    assert (report.form.name, report.form.variant) == ("水调歌头", 3)
    assert report.passed, [v.message for v in report.violations]
    assert report.annotation["lines"][1]["rhyme"] == "第七部"  # 天: the tune's rhyme, read by 词林正韵 part


@pytest.mark.parametrize("title", [None, "水调歌头"])
def test_a_tone_broken_on_purpose_is_flagged_at_that_character(title):
    # 把酒问青天: the variant keeps 平 at the 4th character (青); 绿 is 仄
    report = report_of(SHUI_DIAO_GE_TOU.replace("问青天", "问绿天"), title)
    assert (report.form.name, report.form.variant) == ("水调歌头", 3)
    assert faults(report, "tone") == {(1, 3)}
    message = next(v.message for v in report.violations if v.rule == "tone")
    assert "第2句第4字「绿」仄，应平" in message


def test_a_rhyme_broken_on_purpose_is_flagged_at_that_character():
    report = report_of(SHUI_DIAO_GE_TOU.replace("照无眠", "照无穷"), "水调歌头")  # 穷: 第一部, not 第七部
    assert faults(report, "rhyme") == {(11, 2)} and not faults(report, "tone")


def test_li_qingzhao_with_one_more_tone_broken():
    """声声慢 (variant 2 of the table, 13 ci) keeps a few tones 李清照's famous ci does not: breaking one more (恨 for
    心, where the variant keeps 平 and 心 is 平) adds exactly that character."""
    before = report_of(SHENG_SHENG_MAN, "声声慢")
    after = report_of(SHENG_SHENG_MAN.replace("正伤心", "正伤恨"), "声声慢")
    assert (after.form.name, after.form.variant) == ("声声慢", 2) == (before.form.name, before.form.variant)
    assert faults(after, "tone") - faults(before, "tone") == {(9, 2)}


# -- writing ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ci_model():
    """A random-weight LSTM over the characters of the table's example ci of the tunes written here."""
    from tangpoet.backend import ensure_backend

    ensure_backend()
    from tangpoet.data.vocab import Vocabulary
    from tangpoet.decoding.forms import find_tune
    from tangpoet.model.poem_model import build_model

    texts = [find_tune(name).example(n)["text"] for name in TUNES for n in range(1, len(find_tune(name).variants) + 1)]
    model = build_model(Vocabulary.build(texts + [SHUI_DIAO_GE_TOU]), cell="lstm", num_layers=1, units=8, embedding_dim=6)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0.0, 0.6, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def assert_regulated_ci(text: str, form, constraint: str = "regulated") -> None:
    from tangpoet.decoding.constraints.form import ci_lengths
    from tangpoet_rhyme import check

    assert ci_lengths(text) == form.lengths, (text, str(form))
    found = check(text, constraint, form=form)
    assert found == [], (text, [v.message for v in found])


@pytest.mark.parametrize("tune", TUNES)
def test_every_accepted_regulated_ci_request_keeps_tones_and_rhyme_with_every_decoder(ci_model, tune):
    from tangpoet.decoding.forms import find_tune
    from tangpoet.writing import write

    rng = np.random.default_rng(TUNES.index(tune))
    variants = find_tune(tune).variants
    written = 0
    for decoder in DECODERS:
        form = variants[int(rng.integers(len(variants)))]
        num = 1 if decoder == "greedy" else 2
        try:
            poems = write(ci_model, form=tune, variant=form.variant, decoder=decoder, constraints=["regulated"],
                          num=num, seed=int(rng.integers(1000)), **DECODERS[decoder])
        except ConstraintError as exc:  # refused before decoding: one line
            assert "\n" not in str(exc)
            continue
        for poem in poems:
            assert poem.finished and np.isfinite(poem.log_prob)
            assert_regulated_ci(poem.text, form)
            written += 1
    assert written >= 6


@pytest.mark.parametrize("constraint", ["rhyme", "tones"])
def test_rhyme_alone_and_tones_alone(ci_model, constraint):
    from tangpoet.decoding.forms import get_form
    from tangpoet.writing import write

    for poem in write(ci_model, form="浣溪沙", decoder="top-p", constraints=[constraint], num=2, seed=5):
        assert_regulated_ci(poem.text, get_form("浣溪沙"), constraint)


def test_a_begin_text_of_the_wrong_tone_is_refused_in_one_line(ci_model):
    from tangpoet.writing import write

    # 浣溪沙 keeps 仄 at the 2nd character of the 1st verse and 平 at the 3rd: 天 (平) cannot stand 2nd
    with pytest.raises(ConstraintError, match="「天」 cannot be character 2 of verse 1") as info:
        write(ci_model, form="浣溪沙", begin="明天", constraints=["regulated"])
    assert "\n" not in str(info.value)
    with pytest.raises(ConstraintError, match="group= is a 平水韵 group"):
        write(ci_model, form="浣溪沙", constraints=["regulated:group=一东"])
