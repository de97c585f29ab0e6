"""Tests for tangpoet.data.corpus: parsing, cleaning, counting, errors."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tangpoet.data.corpus import (
    REASONS,
    CorpusReport,
    Poem,
    clean,
    clean_content,
    is_allowed_char,
    read_corpus,
)
from tangpoet.errors import CorpusError, TangpoetError

SHARED_CORPUS = Path(__file__).parents[1].parent / "shared/data/tang.txt"

P1 = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"  # 24 characters
P2 = "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def write_json(tmp_path: Path, name: str, value) -> Path:
    return write(tmp_path, name, json.dumps(value, ensure_ascii=False))


def check_invariants(poems, report, *, min_len=5, max_len=200):
    assert report.kept == len(poems)
    assert report.read == report.kept + sum(report.dropped.values())
    assert all(count > 0 for count in report.dropped.values())
    assert set(report.dropped) <= set(REASONS)
    assert report.characters == sum(len(p.content) for p in poems)
    for poem in poems:
        assert min_len <= len(poem.content) <= max_len
        assert all(is_allowed_char(c) for c in poem.content), poem.content


# ------------------------------------------------------------------------------ text files


def test_title_content_lines(tmp_path):
    path = write(tmp_path, "c.txt", f"静夜思:{P1}\n春晓:{P2}\n")
    poems, report = read_corpus(path)
    assert poems == [Poem("静夜思", P1), Poem("春晓", P2)]
    assert report.files == [str(path)]
    assert (report.read, report.kept, report.dropped) == (2, 2, {})
    assert report.characters == len(P1) + len(P2)


def test_accepts_str_path_and_list_of_paths(tmp_path):
    a = write(tmp_path, "a.txt", f"甲:{P1}\n")
    b = write(tmp_path, "b.txt", f"乙:{P2}\n")
    poems, report = read_corpus([str(a), b])
    assert [p.title for p in poems] == ["甲", "乙"]
    assert report.files == [str(a), str(b)]
    poems, _ = read_corpus(str(a))
    assert poems == [Poem("甲", P1)]


def test_full_width_separator(tmp_path):
    path = write(tmp_path, "c.txt", f"静夜思：{P1}\n")
    poems, _ = read_corpus(path)
    assert poems == [Poem("静夜思", P1)]


def test_splits_at_first_separator_of_either_kind(tmp_path):
    # the first separator is the full-width one; the ASCII ':' later is content (made full-width)
    path = write(tmp_path, "c.txt", "题：床前明月光:疑是地上霜\n题二:床前明月光：疑是地上霜\n")
    poems, _ = read_corpus(path)
    assert poems == [Poem("题", "床前明月光：疑是地上霜"), Poem("题二", "床前明月光：疑是地上霜")]


def test_line_without_separator_is_all_content(tmp_path):
    path = write(tmp_path, "c.txt", f"{P1}\n")
    poems, _ = read_corpus(path)
    assert poems == [Poem("", P1)]


def test_bom_crlf_and_blank_lines(tmp_path):
    text = f"\ufeff静夜思:{P1}\r\n\r\n   \r\n\t\n春晓:{P2}\r\n\r\n"
    path = write(tmp_path, "c.txt", text)
    poems, report = read_corpus(path)
    assert poems == [Poem("静夜思", P1), Poem("春晓", P2)]
    assert report.read == 2  # blank lines are not counted


def test_no_trailing_newline(tmp_path):
    path = write(tmp_path, "c.txt", f"甲:{P1}\n乙:{P2}")
    poems, _ = read_corpus(path)
    assert [p.content for p in poems] == [P1, P2]


def test_whitespace_removed_and_title_stripped(tmp_path):
    spaced = "床前 明月光，\u3000疑是\t地上霜。 "
    path = write(tmp_path, "c.txt", f"  静夜思 :{spaced}\n")
    poems, _ = read_corpus(path)
    assert poems == [Poem("静夜思", "床前明月光，疑是地上霜。")]


def test_ascii_punctuation_normalised(tmp_path):
    path = write(tmp_path, "c.txt", "题:床前明月光,疑是地上霜.何处?归去!且住;听:风\n")
    poems, _ = read_corpus(path)
    assert poems[0].content == "床前明月光，疑是地上霜。何处？归去！且住；听：风"


def test_keeps_file_order(tmp_path):
    lines = [f"题{i}:{P1[i:]}" for i in range(10)]
    path = write(tmp_path, "c.txt", "\n".join(lines))
    poems, _ = read_corpus(path)
    assert [p.title for p in poems] == [f"题{i}" for i in range(10)]


# ----------------------------------------------------------------------------- cleaning


def test_every_drop_reason_is_counted(tmp_path):
    lines = [
        f"好:{P1}",
        "空:",  # empty
        "空白:\u3000 \t",  # empty after removing whitespace
        "缺字:床前□月光",  # bad characters
        "下划线:床前_月光",
        "注:床前明月光（一作看）",
        "书名:读《离骚》有感",
        "引:曰「归去来」兮",
        "数:床前明月光1",
        "拉丁:床前明月光abc",
        "短:床前",  # too short (2 < 5)
        f"长:{'月' * 201}",  # too long
        f"好二:{P2}",
    ]
    path = write(tmp_path, "c.txt", "\n".join(lines) + "\n")
    poems, report = read_corpus(path)
    assert [p.title for p in poems] == ["好", "好二"]
    assert report.read == 13
    assert report.dropped == {"empty": 2, "bad characters": 7, "too short": 1, "too long": 1}
    check_invariants(poems, report)


@pytest.mark.parametrize("bracket", list("()（）[]【】《》〈〉<>{}「」『』"))
def test_every_bracket_is_a_bad_character(bracket):
    assert clean_content(f"床前明月光{bracket}疑是地上霜") is None


@pytest.mark.parametrize("mark", ["□", "_", "○", "·", "…", "1", "a", "Ｂ", "〖", "\x00", "\u200b", "\U00020000"])
def test_other_marks_are_bad_characters(mark):
    assert clean_content(f"床前明月光{mark}") is None
    poem, reason = clean(Poem("t", f"床前明月光{mark}"))
    assert (poem, reason) == (None, "bad characters")


@pytest.mark.parametrize("char", ["一", "龥", "\u9fff", "\u3400", "\u4dbf", "\uf900", "\ufaff", *"，。？！；、："])
def test_allowed_characters(char):
    assert is_allowed_char(char)
    assert clean_content(f"床前{char}") == f"床前{char}"


def test_clean_content_and_clean():
    assert clean_content(" 床前 明月光,\u3000疑是地上霜. ") == "床前明月光，疑是地上霜。"
    assert clean_content(" \u3000\t") is None
    assert clean(Poem(" 题 ", "床前明月光")) == (Poem("题", "床前明月光"), None)
    assert clean(Poem("题", "床前明")) == (None, "too short")
    assert clean(Poem("题", "月" * 201)) == (None, "too long")
    assert clean(Poem("题", "")) == (None, "empty")
    assert clean(Poem("题", "月" * 3), min_len=3) == (Poem("题", "月" * 3), None)


def test_length_boundaries_are_inclusive(tmp_path):
    lines = [f"{n}:{'月' * n}" for n in (3, 4, 5, 6, 9, 10, 11)]
    path = write(tmp_path, "c.txt", "\n".join(lines))
    poems, report = read_corpus(path, min_len=4, max_len=10)
    assert [len(p.content) for p in poems] == [4, 5, 6, 9, 10]
    assert report.dropped == {"too short": 1, "too long": 1}


def test_default_length_boundaries(tmp_path):
    lines = [f"{n}:{'月' * n}" for n in (4, 5, 200, 201)]
    poems, report = read_corpus(write(tmp_path, "c.txt", "\n".join(lines)))
    assert [len(p.content) for p in poems] == [5, 200]
    assert report.dropped == {"too short": 1, "too long": 1}


def test_length_counts_after_whitespace_removal(tmp_path):
    path = write(tmp_path, "c.txt", "甲:月 月 月 月 月\n乙:月 月 月 月\n")
    poems, report = read_corpus(path)
    assert poems == [Poem("甲", "月" * 5)]
    assert report.dropped == {"too short": 1}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_len": 0},
        {"min_len": -3},
        {"min_len": 6, "max_len": 5},
        {"max_len": 0},
        {"min_len": 2.5},
        {"min_len": True},
    ],
)
def test_bad_length_limits(tmp_path, kwargs):
    path = write(tmp_path, "c.txt", f"甲:{P1}\n")
    with pytest.raises(CorpusError, match="min_len|max_len"):
        read_corpus(path, **kwargs)


def test_min_len_equal_max_len_allowed(tmp_path):
    path = write(tmp_path, "c.txt", "甲:月月月\n乙:月月月月\n")
    poems, _ = read_corpus(path, min_len=3, max_len=3)
    assert poems == [Poem("甲", "月月月")]


def test_dedupe(tmp_path):
    path = write(tmp_path, "c.txt", f"甲:{P1}\n乙:{P1.replace('，', ',')}\n丙:{P2}\n")
    poems, report = read_corpus(path)
    assert len(poems) == 3 and "duplicate" not in report.dropped
    poems, report = read_corpus(path, dedupe=True)
    assert [p.title for p in poems] == ["甲", "丙"]
    assert report.dropped == {"duplicate": 1}


# ------------------------------------------------------------------------------- JSON


def test_json_file(tmp_path):
    data = [
        {"author": "李白", "title": "静夜思", "paragraphs": ["床前明月光，疑是地上霜。", "举头望明月，低头思故乡。"]},
        {"author": "孟浩然", "title": " 春晓 ", "paragraphs": ["春眠不觉晓，处处闻啼鸟。", "夜来风雨声，花落知多少。"]},
        {"title": "空", "paragraphs": []},
        {"title": "缺", "paragraphs": ["床前□月光"]},
    ]
    path = write_json(tmp_path, "poet.tang.0.json", data)
    poems, report = read_corpus(path)
    assert poems == [Poem("静夜思", P1), Poem("春晓", P2)]
    assert report.read == 4
    assert report.dropped == {"empty": 1, "bad characters": 1}


def test_json_suffix_detection_any_name(tmp_path):
    path = write_json(tmp_path, "mine.JSON", [{"title": "甲", "paragraphs": [P1]}])
    poems, _ = read_corpus(path)
    assert poems == [Poem("甲", P1)]


def test_json_with_bom(tmp_path):
    path = write(tmp_path, "x.json", "\ufeff" + json.dumps([{"title": "甲", "paragraphs": [P1]}]))
    poems, _ = read_corpus(path)
    assert poems == [Poem("甲", P1)]


def test_folder_of_json_files_sorted_and_txt_ignored(tmp_path):
    folder = tmp_path / "chinese-poetry"
    write_json(folder, "poet.tang.1000.json", [{"title": "乙", "paragraphs": [P2]}])
    write_json(folder, "poet.tang.0.json", [{"title": "甲", "paragraphs": [P1]}])
    write_json(folder, "authors.tang.json", [{"name": "李白"}])  # not poet.*: ignored
    write(folder, "notes.txt", f"丙:{P1}\n")  # txt ignored when there are poet.*.json files
    poems, report = read_corpus(folder)
    assert [p.title for p in poems] == ["甲", "乙"]
    assert report.files == [str(folder / "poet.tang.0.json"), str(folder / "poet.tang.1000.json")]
    assert report.read == 2


def test_folder_with_only_txt(tmp_path):
    folder = tmp_path / "txts"
    write(folder, "b.txt", f"乙:{P2}\n")
    write(folder, "a.txt", f"甲:{P1}\n")
    write(folder, "readme.md", "not a corpus")
    poems, report = read_corpus(folder)
    assert [p.title for p in poems] == ["甲", "乙"]
    assert report.files == [str(folder / "a.txt"), str(folder / "b.txt")]


def test_folder_with_nothing_to_read(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    write(folder, "readme.md", "nothing")
    with pytest.raises(CorpusError, match="no poet.*json or .*txt") as info:
        read_corpus(folder)
    assert str(folder) in str(info.value)


def test_invalid_json(tmp_path):
    path = write(tmp_path, "poet.tang.0.json", '[{"title": "甲",\n "paragraphs": [}]')
    with pytest.raises(CorpusError) as info:
        read_corpus(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not valid JSON: ")
    assert "line 2" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "value",
    [
        {"title": "甲", "paragraphs": ["床前明月光"]},  # an object, not a list
        "床前明月光",
        [["床前明月光"]],
        [{"title": "甲"}],
        [{"title": "甲", "paragraphs": "床前明月光"}],
        [{"title": "甲", "paragraphs": ["床前", 3]}],
        [{"title": 7, "paragraphs": ["床前明月光"]}],
        [{"title": "甲", "paragraphs": [P1]}, None],
    ],
)
def test_wrong_shape_json(tmp_path, value):
    path = write_json(tmp_path, "poet.tang.0.json", value)
    with pytest.raises(CorpusError) as info:
        read_corpus(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_json_not_utf8(tmp_path):
    path = write(tmp_path, "x.json", b'[{"title": "a",\n"paragraphs": ["\xff"]}]')
    with pytest.raises(CorpusError, match=r"x\.json:2: not valid UTF-8"):
        read_corpus(path)


# ------------------------------------------------------------------------------ errors


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(CorpusError, match="corpus file not found: .*nope.txt"):
        read_corpus(missing)
    good = write(tmp_path, "good.txt", f"甲:{P1}\n")
    with pytest.raises(CorpusError, match="corpus file not found"):
        read_corpus([good, missing])


def test_no_paths():
    with pytest.raises(CorpusError, match="no corpus files"):
        read_corpus([])


def test_corpus_error_is_tangpoet_error():
    assert issubclass(CorpusError, TangpoetError)


def test_bad_utf8_names_file_and_line(tmp_path):
    data = f"甲:{P1}\n\n乙:{P2}\r\n".encode() + b"\xe6\x9c\x88\xff:bad\r\n" + f"丙:{P1}\n".encode()
    path = write(tmp_path, "corpus.txt", data)
    with pytest.raises(CorpusError) as info:
        read_corpus(path)
    message = str(info.value)
    assert message == f"{path}:4: not valid UTF-8 (use --skip-bad-lines to skip such lines)"


def test_bad_utf8_truncated_sequence_at_line_end(tmp_path):
    data = f"甲:{P1}\n".encode() + "乙:月".encode()[:-1] + b"\n" + f"丙:{P1}\n".encode()
    path = write(tmp_path, "c.txt", data)
    with pytest.raises(CorpusError, match=r"c\.txt:2: not valid UTF-8"):
        read_corpus(path)


def test_skip_bad_lines_counts(tmp_path):
    data = (
        f"甲:{P1}\n".encode()
        + b"\xff\xfe bad\n"
        + f"乙:{P2}\n".encode()
        + b"\xc3(\r\n"
        + "短:月\n".encode()
    )
    path = write(tmp_path, "c.txt", data)
    poems, report = read_corpus(path, skip_bad_lines=True)
    assert [p.title for p in poems] == ["甲", "乙"]
    assert report.read == 5
    assert report.dropped == {"undecodable line": 2, "too short": 1}
    check_invariants(poems, report)


def test_skip_bad_lines_keeps_bom_handling(tmp_path):
    data = b"\xef\xbb\xbf" + f"甲:{P1}\r\n".encode() + b"\x80\r\n"
    poems, report = read_corpus(write(tmp_path, "c.txt", data), skip_bad_lines=True)
    assert poems == [Poem("甲", P1)]
    assert report.dropped == {"undecodable line": 1}


def test_nothing_left_after_cleaning(tmp_path):
    path = write(tmp_path, "c.txt", "甲:床前□月光\n乙:月\n丙:\n")
    with pytest.raises(CorpusError) as info:
        read_corpus(path)
    message = str(info.value)
    assert message.startswith(f"no poems left in {path} after cleaning")
    assert "read 3" in message
    assert "1 bad characters" in message and "1 too short" in message and "1 empty" in message
    assert "\n" not in message


def test_nothing_at_all(tmp_path):
    path = write(tmp_path, "c.txt", "\n\r\n  \n")
    with pytest.raises(CorpusError, match=r"no poems left in .*read 0; dropped: none"):
        read_corpus(path)


def test_nothing_left_with_many_files_stays_one_short_line(tmp_path):
    paths = [write(tmp_path, f"{i}.txt", "甲:月\n") for i in range(20)]
    with pytest.raises(CorpusError) as info:
        read_corpus(paths)
    message = str(info.value)
    assert "and 18 more files" in message and "read 20" in message
    assert "\n" not in message and len(message) < 300


# ------------------------------------------------------------------------------ report


def test_report_round_trip(tmp_path):
    path = write(tmp_path, "c.txt", f"甲:{P1}\n乙:月\n丙:床前□\n丁:{P2}\n")
    _, report = read_corpus(path)
    d = report.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert CorpusReport.from_dict(json.loads(json.dumps(d))) == report
    assert d == {
        "files": [str(path)],
        "read": 4,
        "kept": 2,
        "dropped": {"bad characters": 1, "too short": 1},
        "characters": len(P1) + len(P2),
    }


@pytest.mark.parametrize(
    "d",
    [
        None,
        [],
        {"files": [], "read": 1, "kept": 1, "dropped": {}},
        {"files": "a.txt", "read": 1, "kept": 1, "dropped": {}, "characters": 5},
        {"files": [], "read": -1, "kept": 1, "dropped": {}, "characters": 5},
        {"files": [], "read": 1, "kept": 1, "dropped": {"empty": "2"}, "characters": 5},
    ],
)
def test_report_from_bad_dict(d):
    with pytest.raises(CorpusError, match="not a corpus report"):
        CorpusReport.from_dict(d)


def test_report_format_mentions_numbers():
    report = CorpusReport(
        files=["tang.txt"],
        read=54519,
        kept=50012,
        dropped={"bad characters": 4000, "too short": 39, "too long": 468},
        characters=1234567,
    )
    text = report.format()
    assert "54519" in text and "50012" in text and "1,234,567" in text
    assert "4000 bad characters" in text and "39 too short" in text and "468 too long" in text
    assert "1 file" in text and "1 files" not in text
    assert text.count("\n") >= 1
    empty = CorpusReport(files=["a", "b"], read=1, kept=1, dropped={}, characters=5).format()
    assert "2 files" in empty and "dropped: none" in empty


# --------------------------------------------------------------------------- properties

_junk_chars = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(list(":：□_()（）[]【】《》〈〉<>{}「」『』，。？！；、,.?!;: \u3000\t\r\x00\x1f\ufeff")),
    st.sampled_from(list("床前明月光疑是地上霜举头望低思故乡")),
)
_junk_line = st.text(_junk_chars, max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_junk_line, max_size=20), where=st.integers(min_value=0, max_value=20),
       min_len=st.integers(1, 12), extra=st.integers(0, 40))
def test_junk_lines_properties(tmp_path, lines, where, min_len, extra):
    max_len = min_len + extra
    path = tmp_path / "junk.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    try:
        poems, report = read_corpus(path, min_len=min_len, max_len=max_len)
    except CorpusError as e:
        assert "\n" not in str(e)
    else:
        check_invariants(poems, report, min_len=min_len, max_len=max_len)

    # a valid poem mixed in is always kept unchanged, so reading never fails
    good = Poem("静夜思", "床前明月光，疑是地上霜。")
    mixed = list(lines)
    mixed.insert(min(where, len(mixed)), f"{good.title}:{good.content}")
    path.write_text("\n".join(mixed), encoding="utf-8")
    poems, report = read_corpus(path, min_len=1, max_len=200)
    assert good in poems
    check_invariants(poems, report, min_len=1, max_len=200)
    assert report.read <= len(mixed) + sum(line.count("\n") for line in mixed)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200), skip=st.booleans())
def test_random_bytes_only_raise_corpus_error(tmp_path, data, skip):
    path = tmp_path / "bytes.txt"
    path.write_bytes(data + "\n甲:床前明月光".encode())
    try:
        poems, report = read_corpus(path, skip_bad_lines=skip)
    except CorpusError as e:
        assert not skip  # with skip_bad_lines the good last line always survives
        assert "not valid UTF-8" in str(e)
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
    else:
        check_invariants(poems, report)
        assert poems[-1] == Poem("甲", "床前明月光")


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _junk_line,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["title", "paragraphs", "author"]), children, max_size=3),
    max_leaves=15,
)
_json_poem = st.fixed_dictionaries(
    {"title": _junk_line, "paragraphs": st.lists(_junk_line, max_size=4)}
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(_json_values, st.lists(_json_poem, max_size=6)))
def test_random_json_only_raises_corpus_error(tmp_path, value):
    path = tmp_path / "poet.x.json"
    path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    try:
        poems, report = read_corpus(path)
    except CorpusError as e:
        assert "\n" not in str(e)
    else:
        check_invariants(poems, report)
        assert report.read == len(value)


# ------------------------------------------------------------------------- shared corpus


@pytest.mark.slow
def test_shared_corpus():
    if not SHARED_CORPUS.exists():
        pytest.skip(f"{SHARED_CORPUS} not present")
    start = time.process_time()  # CPU seconds: a busy machine (CI runs two backends at once) stretches wall time only
    poems, report = read_corpus(SHARED_CORPUS)
    elapsed = time.process_time() - start
    assert report.read == 54519
    # The cleaning rules drop ~14% (brackets, annotations, □ placeholders, rare ideographs outside
    # the BMP ranges, too-long poems): about 46.9k are kept.
    assert report.kept > 45000
    check_invariants(poems, report)
    assert elapsed < 5  # well under 2 s on an ordinary machine; generous for slow CI
