"""Simplified and traditional characters (tangpoet.data.script, OpenCC): conversion, detection, fit/write/info --script."""

from __future__ import annotations

import json
import sys

import pytest
from _writing_helpers import tiny_model
from click.testing import CliRunner

from tangpoet.data import script as scripts
from tangpoet.cli import main
from tangpoet.data.corpus import CorpusReport, read_corpus
from tangpoet.errors import ScriptError
from tangpoet.model.poem_model import build_model, save_model
from tangpoet.model.info import describe
from tangpoet.data.vocab import Vocabulary
from tangpoet.writing import write

pytest.importorskip("opencc")

SIMPLIFIED_POEM = "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。"
TRADITIONAL_POEM = "春眠不覺曉，處處聞啼鳥。夜來風雨聲，花落知多少。"


def test_convert_both_ways():
    assert scripts.convert(SIMPLIFIED_POEM, "traditional") == TRADITIONAL_POEM
    assert scripts.convert(TRADITIONAL_POEM, "simplified") == SIMPLIFIED_POEM
    assert scripts.convert("头发", "traditional") == "頭髮"  # phrase-aware: 发 is 髮 in 头发, 發 elsewhere
    assert scripts.convert("", "traditional") == ""


@pytest.mark.parametrize("bad", ["Traditional", "zh-tw", "keep"])
def test_unknown_script_is_one_line(bad):
    with pytest.raises(ScriptError, match="unknown script"):
        scripts.convert("山", bad)


def test_detect():
    assert scripts.detect(SIMPLIFIED_POEM) == "simplified"
    assert scripts.detect(TRADITIONAL_POEM) == "traditional"
    assert scripts.detect("abc，。") == "unknown"  # nothing that differs between the scripts
    assert scripts.detect("风風云雲头頭") == "mixed"


def test_to_vocabulary_converts_only_what_the_model_does_not_know():
    simplified = Vocabulary.build([SIMPLIFIED_POEM])
    traditional = Vocabulary.build([TRADITIONAL_POEM])
    assert scripts.to_vocabulary("夜來風雨", simplified, "simplified") == "夜来风雨"
    assert scripts.to_vocabulary("夜来风雨", traditional, "traditional") == "夜來風雨"
    assert scripts.to_vocabulary("夜来风雨", traditional, None) == "夜來風雨"  # no recorded script: both tried
    assert scripts.to_vocabulary("猫", simplified, "simplified") == "猫"  # unknown in both scripts: left to report
    assert scripts.to_vocabulary("春眠", simplified, "simplified") == "春眠"


def test_without_opencc_conversion_is_one_line_and_detection_unknown(monkeypatch):
    scripts._converter.cache_clear()
    monkeypatch.setitem(sys.modules, "opencc", None)  # import opencc now raises ImportError
    try:
        with pytest.raises(ScriptError, match=r"needs OpenCC: pip install 'tangpoet\[script\]'"):
            scripts.convert("山", "traditional")
        assert scripts.detect(SIMPLIFIED_POEM) == "unknown"
        assert not scripts.available()
        vocab = Vocabulary.build([SIMPLIFIED_POEM])
        assert scripts.to_vocabulary("風", vocab, "simplified") == "風"  # unchanged: the caller reports it
    finally:
        scripts._converter.cache_clear()


def test_read_corpus_converts_and_records(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(f"春晓:{SIMPLIFIED_POEM}\n", encoding="utf-8")
    poems, report = read_corpus(path, script="traditional")
    assert poems[0].content == TRADITIONAL_POEM and poems[0].title == "春曉"
    assert report.script == "traditional" and report.to_dict()["script"] == "traditional"
    assert CorpusReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report
    poems, report = read_corpus(path)  # keep: unchanged, nothing recorded by the reader
    assert poems[0].content == SIMPLIFIED_POEM and report.script is None and "script" not in report.to_dict()
    with pytest.raises(ScriptError, match="unknown script"):
        read_corpus(path, script="klingon")


@pytest.fixture(scope="module")
def simplified_model():
    return tiny_model("gru", 1)


def test_write_accepts_either_script_and_prints_either(simplified_model):
    assert "风" in simplified_model.vocab and "風" not in simplified_model.vocab
    assert write(simplified_model, begin="風", form="五绝", decoder="greedy")[0].text.startswith("风")
    heads = write(simplified_model, acrostic="春夏秋東", decoder="greedy")[0].text
    assert [line[0] for line in heads.replace("。", "，").split("，") if line] == list("春夏秋东")
    plain = write(simplified_model, begin="风", form="五绝", decoder="greedy")[0].text
    converted = write(simplified_model, begin="风", form="五绝", decoder="greedy", script="traditional")[0].text
    assert converted == scripts.convert(plain, "traditional") and converted.startswith("風")
    with pytest.raises(ScriptError):
        write(simplified_model, decoder="greedy", script="klingon")


def test_fit_script_is_recorded_and_shown(tmp_path, corpus_file, backend):
    out = tmp_path / "t.keras"
    args = ["fit", str(corpus_file), "--out", str(out), "--script", "traditional", "--epochs", "1", "--layers", "1",
            "--units", "8", "--embedding-dim", "4", "--batch-size", "8", "--val-split", "0.2", "--backend", backend]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    info = describe(out)
    assert info["script"] == "traditional" and info["script_source"] == "recorded"
    shown = CliRunner().invoke(main, ["info", "--model", str(out)])
    assert "script     traditional\n" in shown.stdout
    # a simplified --begin is converted to the traditional model's characters; --script prints simplified
    written = ["write", "--model", str(out), "--begin", "风雨", "--decoder", "greedy", "--max-len", "12"]
    result = CliRunner().invoke(main, [*written, "--backend", backend])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("風雨")
    result = CliRunner().invoke(main, [*written, "--script", "simplified", "--backend", backend])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("风雨")


def test_info_detects_the_script_of_an_old_file(tmp_path):
    model = build_model(Vocabulary.build([TRADITIONAL_POEM]), num_layers=1, units=4, embedding_dim=4)
    path = save_model(model, tmp_path / "old.keras")  # no corpus report: what files from before --script hold
    info = describe(path)
    assert info["script"] == "traditional" and info["script_source"] == "detected"
    shown = CliRunner().invoke(main, ["info", "--model", str(path)])
    assert "script     traditional (detected from the vocabulary)" in shown.stdout
