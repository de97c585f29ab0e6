"""Titles (issue 33): cleaning, ci read with their tune as title, the title-aware format, training with titles,
writing to a title (given or the model's own), eval's two figures, and old models unchanged."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from tangpoet.cli import main
from tangpoet.data.batching import Batches, shift_started
from tangpoet.data.corpus import Poem, read_corpus
from tangpoet.data.titles import (
    GENERIC,
    LOST,
    TOO_LONG,
    clean_title,
    clean_titles,
    draw_untitled,
    encode_sequence,
    generic_titles,
    is_title_aware,
    model_record,
    title_prefix,
    tune_title,
)
from tangpoet.data.vocab import BOS_ID, EOS_ID, PAD_ID
from _writing_helpers import check_poem, randomize, vocab

TITLED = [
    "静夜思:床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    "春晓:春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
    "登楼二首 一:白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
    "夜泊:月落乌啼霜满天，江枫渔火对愁眠。姑苏城外寒山寺，夜半钟声到客船。",
    "句:春夏秋冬东南西北，明月白日山花风夜。",
] * 4


# ---------------------------------------------------------------------------------------------- cleaning (one backend)
@pytest.mark.torch
@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("秋日二首 一", "秋日"),
        ("帝京篇十首 三", "帝京篇"),
        ("杂曲歌辞 竹枝 四", "竹枝"),
        ("相和歌辞 短歌行六首 四", "短歌行"),
        ("六[月]十三日上陈微博士 一", "六月十三日上陈微博士"),
        ("宫词 八十三", "宫词"),
        ("秋思 其二", "秋思"),
        ("句其五", "句"),
        ("句  其一○", "句"),
        ("和陶二首其一", "和陶"),
        ("送友人（一作送别）", "送友人"),
        ("  登高 ", "登高"),
        ("春江花月夜", "春江花月夜"),
    ],
)
def test_clean_title_keeps_the_subject(raw, cleaned):
    assert clean_title(raw) == (cleaned, None)


@pytest.mark.torch
def test_clean_title_refuses_lost_characters_and_prefaces():
    assert clean_title("送□上人") == ("", LOST)
    assert clean_title("奉和" * 11)[1] == TOO_LONG
    assert clean_title("一")[0] == ""  # a serial number alone is no title


@pytest.mark.torch
def test_tune_title_takes_the_first_name():
    assert tune_title("一剪梅・一翦梅") == "一剪梅"
    assert tune_title("浣溪沙") == "浣溪沙"


def _varied(i: int) -> str:
    """A poem made of characters that change with ``i`` (poems with nothing in common)."""
    start = 0x4E00 + 37 * i
    chars = [chr(start + k) for k in range(10)]
    return "".join(chars[:5]) + "，" + "".join(chars[5:]) + "。"


@pytest.mark.torch
def test_generic_titles_are_the_ones_whose_poems_share_nothing():
    bamboo = [("竹", f"竹影{_varied(i)[2:]}清风竹叶青。") for i in range(12)]
    lines = [("句", _varied(i)) for i in range(12, 24)]
    others = [(f"题{i}", _varied(i)) for i in range(24, 60)]
    series = [("十咏", _varied(i)) for i in range(60, 72)]  # one poet's ten things under one title: one place
    mixed = [pair for trio in zip(bamboo, lines, others) for pair in trio] + others[12:] + series
    found = generic_titles(mixed)
    assert "句" in found and "竹" not in found and "十咏" not in found
    assert found["句"] < 1.0
    assert "十咏" in generic_titles(mixed, min_runs=1)  # its poems share nothing, but it names their occasion


@pytest.mark.torch
def test_clean_titles_counts_what_it_dropped_and_keeps_a_cis_tune():
    poems = [Poem("无题二首 一", "床前明月光，疑是地上霜。"), Poem("送□人", "春眠不觉晓，处处闻啼鸟。"),
             Poem("秋日二首 一", "白日依山尽，黄河入海流。"), Poem("浣溪沙", "只倚精忠不要兵。", "ci")]
    titles, report = clean_titles(poems)
    assert titles == ["", "", "秋日", "浣溪沙"]
    assert report.dropped == {LOST: 1, GENERIC: 1}
    assert report.kept == 2 and report.cleaned == 1
    assert "2 of 4 poems titled" in report.format()


@pytest.mark.torch
def test_draw_untitled_blanks_the_asked_share_of_titled_poems_seeded():
    titles = [f"题{i}" for i in range(100)] + [""] * 20
    out, k = draw_untitled(titles, 0.2, seed=3)
    assert k == 20 and sum(1 for t in out if not t) == 40
    assert draw_untitled(titles, 0.2, seed=3)[0] == out
    assert draw_untitled(titles, 0.0, seed=3) == (titles, 0)


@pytest.mark.torch
def test_the_sequence_format_and_content_only_targets():
    v = vocab()
    titled = encode_sequence(v, "春夜", "花落。")
    assert titled.tolist() == [EOS_ID, v.id("春"), v.id("夜"), BOS_ID, v.id("花"), v.id("落"), v.id("。")]
    assert encode_sequence(v, "", "花落。").tolist() == [BOS_ID, v.id("花"), v.id("落"), v.id("。")]
    inputs, targets = shift_started(titled, content_only=True)
    assert inputs.tolist() == titled.tolist()
    assert targets.tolist() == [PAD_ID, PAD_ID, PAD_ID, v.id("花"), v.id("落"), v.id("。"), EOS_ID]
    _, all_targets = shift_started(titled)
    assert all_targets[:3].tolist() == [v.id("春"), v.id("夜"), BOS_ID]  # the title is learned too (--title auto)
    # an untitled poem is exactly what a model without titles trains on
    plain = Batches([v.encode("花落。")], 1, shuffle=False)[0]
    started = Batches([encode_sequence(v, "", "花落。")], 1, shuffle=False, started=True)[0]
    assert all(np.array_equal(a, b) for a, b in zip(plain, started))
    assert title_prefix(v, "春夜").tolist() == [EOS_ID, v.id("春"), v.id("夜")]


# ---------------------------------------------------------------------------------------------- ci JSON (one backend)
@pytest.mark.torch
def test_a_ci_folder_is_read_with_the_tune_as_title(tmp_path):
    folder = tmp_path / "ci"
    folder.mkdir()
    ci = [
        {"author": "苏轼", "paragraphs": ["明月几时有，把酒问青天。"], "rhythmic": "水调歌头"},
        {"author": "某", "paragraphs": ["一剪梅花万样娇。"], "rhythmic": "一剪梅・一翦梅"},
        {"author": "某", "paragraphs": ["□□□。"], "rhythmic": "失调名"},
    ]
    (folder / "ci.song.0.json").write_text(json.dumps(ci, ensure_ascii=False), encoding="utf-8")
    (folder / "poet.song.0.json").write_text(
        json.dumps([{"title": "春晓", "paragraphs": ["春眠不觉晓，处处闻啼鸟。"]}], ensure_ascii=False), encoding="utf-8"
    )
    poems, report = read_corpus(folder)
    assert [(p.title, p.kind) for p in poems] == [("水调歌头", "ci"), ("一剪梅", "ci"), ("春晓", "shi")]
    assert report.read == 4 and report.kept == 3 and report.dropped == {"bad characters": 1}
    assert len(report.files) == 2


# ---------------------------------------------------------------------------------------------- the model (every backend)
def _titled_model(seed: int = 5):
    from tangpoet.model.poem_model import build_model

    model = build_model(vocab(), cell="lstm", num_layers=1, units=8, embedding_dim=6)
    randomize(model, seed)
    model.metadata["titles"] = model_record()
    return model


@pytest.fixture(scope="module")
def titled_model():
    return _titled_model()


def test_a_titled_stepper_gives_the_full_models_next_token_distribution(titled_model):
    from tangpoet.decoding.stepper import StepDecoder

    v = titled_model.vocab
    sequence = encode_sequence(v, "秋月", "春眠")
    import keras

    logits = keras.ops.convert_to_numpy(titled_model.predict_on_batch(sequence[None, :])).astype(np.float64)[0]
    expected = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    stepper = StepDecoder.of(titled_model).titled(title_prefix(v, "秋月"))
    log_probs, state = stepper.prime(np.asarray([BOS_ID, v.id("春")]), 2)
    np.testing.assert_allclose(log_probs[0], expected[4], atol=1e-4)
    assert StepDecoder.of(titled_model).context.size == 0  # the model's own step decoder is unchanged


@pytest.mark.parametrize(
    "request_",
    [
        dict(decoder="greedy", form="五言绝句"),
        dict(decoder="beam", beam_width=3, acrostic="春夏秋冬"),
        dict(decoder="top-p", form="七言绝句", keywords="明月", num=2),
        dict(decoder="top-k", top_k=5, theme="明月", candidates=3),
        dict(decoder="sample", begin="春", form="五言绝句", candidates=2, scorer="likelihood"),
    ],
)
def test_write_to_a_title_with_every_decoder_and_constraint(titled_model, request_):
    from tangpoet.writing import poem_record, write

    untitled = write(titled_model, seed=4, **request_)
    poems = write(titled_model, title="秋月", seed=4, **request_)
    assert poems and all(p.title == "秋月" for p in poems)
    for poem in poems:
        check_poem(poem.text, form=request_.get("form"), acrostic=request_.get("acrostic", ""), begin=request_.get("begin", ""))
        if "keywords" in request_:
            assert "明月" in poem.text
    # the title reached the model: other poems, or the same ones with other probabilities
    assert [(p.text, round(p.log_prob, 4)) for p in poems] != [(p.text, round(p.log_prob, 4)) for p in untitled]
    assert poem_record(poems[0], decoder="x", seed=4, backend="b", model="m")["title"] == "秋月"
    again = write(titled_model, title="秋月", seed=4, **request_)
    assert [p.text for p in again] == [p.text for p in poems]


def test_a_ci_is_written_to_its_tune_with_a_title_aware_model(titled_model):
    """The ci are trained with their tune as title: `form=西江月` without a title is written to the title 西江月 (the
    poems carry it); a title given wins; a shi form, and a model without titles, are written untitled as before."""
    from _writing_helpers import tiny_model

    from tangpoet.writing import write

    request = dict(form="西江月", seed=2, decoder="top-p", num=2)
    poems = write(titled_model, **request)
    assert [p.title for p in poems] == ["西江月"] * 2
    assert [p.text for p in poems] == [p.text for p in write(titled_model, title="西江月", **request)]
    assert {p.title for p in write(titled_model, title="秋月", **request)} == {"秋月"}
    assert write(titled_model, form="五言绝句", seed=2)[0].title == ""
    assert write(tiny_model(), **request)[0].title == ""


def test_auto_title_is_written_by_the_model_first(titled_model):
    from tangpoet.writing import write

    for decoder in ("top-p", "beam"):
        poems = write(titled_model, title="auto", decoder=decoder, form="五言绝句", seed=9)
        title = poems[0].title
        assert 1 <= len(title) <= 20 and all(c in titled_model.vocab for c in title)
        assert "，" not in title and "。" not in title
        given = write(titled_model, title=title, decoder=decoder, form="五言绝句", seed=9)
        assert given[0].text == poems[0].text  # the poem is the one written to that title


def test_titles_are_read_like_corpus_titles_and_refused_in_one_line(titled_model):
    from tangpoet.errors import TangpoetError
    from tangpoet.writing import write

    assert write(titled_model, title="秋月二首 一", seed=1)[0].title == "秋月"
    for bad, words in (("龘", "does not know"), ("!!", "no character"), ("明" * 30, "too long"), (3, "text")):
        with pytest.raises(TangpoetError, match=words):
            write(titled_model, title=bad, seed=1)


def test_a_title_in_traditional_characters_is_converted_like_begin(titled_model):
    pytest.importorskip("opencc")
    from tangpoet.writing import write

    poems = write(titled_model, title="秋風", seed=2, form="五言绝句")
    assert poems[0].title == "秋风"
    assert poems[0].text == write(titled_model, title="秋风", seed=2, form="五言绝句")[0].text
    assert write(titled_model, title="秋风", seed=2, form="五言绝句", script="traditional")[0].title == "秋風"


def test_an_old_model_refuses_a_title_and_writes_as_before():
    from _writing_helpers import tiny_model

    from tangpoet.errors import DecoderOptionError
    from tangpoet.writing import write

    old = tiny_model()
    assert not is_title_aware(old.metadata) and not old.title_aware
    with pytest.raises(DecoderOptionError, match="trained without titles"):
        write(old, title="秋月", seed=1)
    assert write(old, seed=1, title=None)[0].text == write(old, seed=1)[0].text
    assert write(old, seed=1)[0].title == ""


# ---------------------------------------------------------------------------------------------- the CLI, end to end
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny title-aware model trained by `tangpoet fit --titles` on a titled corpus."""
    folder = tmp_path_factory.mktemp("titles")
    corpus = folder / "poems.txt"
    corpus.write_text("\n".join(TITLED) + "\n", encoding="utf-8")
    out = folder / "titled.keras"
    result = CliRunner().invoke(
        main,
        ["fit", str(corpus), "-o", str(out), "--titles", "--units", "8", "--embedding-dim", "6", "--layers", "1",
         "--epochs", "1", "--batch-size", "8", "--val-split", "0", "--untitled-fraction", "0.25"],
    )
    assert result.exit_code == 0, result.output
    return folder, corpus, out, result.output


def test_fit_titles_trains_a_title_aware_model_and_says_how_titles_were_cleaned(trained):
    _, _, out, output = trained
    assert "titles:" in output and "generic" in output  # the report: 句 is generic (a hand-written one)
    from tangpoet.model.info import describe

    info = describe(out)
    assert info["titles"]["format"] == "titles/1" and info["titles"]["untitled_fraction"] == 0.25
    shown = CliRunner().invoke(main, ["info", "-m", str(out)]).output
    assert "title-aware" in shown


def test_cli_writes_to_a_title_and_to_its_own(trained):
    _, _, out, _ = trained
    runner = CliRunner()
    given = runner.invoke(main, ["write", "-m", str(out), "--title", "春晓", "--form", "五言绝句", "--seed", "2"])
    assert given.exit_code == 0, given.output
    assert given.output.splitlines()[0] == "春晓" and len(given.output.splitlines()) == 5
    auto = runner.invoke(main, ["write", "-m", str(out), "--title", "auto", "--seed", "2", "--json"])
    assert auto.exit_code == 0, auto.output
    record = json.loads(auto.output)[0]
    assert record["title"] and record["poem"]


def test_eval_reports_both_figures_for_a_title_aware_model(trained):
    _, corpus, out, _ = trained
    result = CliRunner().invoke(main, ["eval", str(corpus), "-m", str(out), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    given = figures["given_title"]
    assert given["characters"] == figures["characters"]  # the same content tokens, titles never counted
    assert given["titled_poems"] == 16  # 句 is generic: scored without its title
    assert given["nll"] != figures["nll"] and np.isfinite(given["nll"])
    text = CliRunner().invoke(main, ["eval", str(corpus), "-m", str(out)]).output
    assert "given the title:" in text and "without the title:" in text


def test_cli_refuses_a_title_with_an_old_model_in_one_line(tmp_path):
    from _writing_helpers import tiny_model

    from tangpoet.model.poem_model import save_model

    path = save_model(tiny_model(), tmp_path / "old.keras")
    result = CliRunner().invoke(main, ["write", "-m", str(path), "--title", "秋月", "--seed", "1"])
    assert result.exit_code == 2
    assert "trained without titles" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


# ---------------------------------------------------------------------------------------------- the server
def test_the_server_writes_to_a_title_as_write_does(tmp_path):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    pytest.importorskip("sse_starlette")
    from _serve_helpers import parse_events, titled_server

    from tangpoet.writing import write

    with titled_server(tmp_path) as (path, client):
        body = {"title": "秋月", "form": "五言绝句", "seed": 6, "decoder": "greedy", "exact": True}
        record = client.post("/generate", json=body).json()[0]
        expected = write(str(path), title="秋月", form="五言绝句", seed=6, decoder="greedy")[0]
        assert (record["title"], record["poem"]) == ("秋月", expected.text)
        stream = client.post("/generate_stream", json={**body, "title": "auto", "exact": False})  # fused
        final = [data for name, data in parse_events(stream.text) if name == "done"][0]
        assert final["title"] and final["poem"]
        bad = client.post("/generate", json={**body, "title": "龘"})
        assert bad.status_code == 400 and "龘" in bad.json()["error"]
        assert client.get("/info").json()["model"]["titles"]["format"] == "titles/1"


def test_fit_resume_keeps_training_with_titles(tmp_path):
    corpus = tmp_path / "poems.txt"
    corpus.write_text("\n".join(TITLED) + "\n", encoding="utf-8")
    out = tmp_path / "resumed.keras"
    common = ["fit", str(corpus), "-o", str(out), "--units", "8", "--embedding-dim", "6", "--layers", "1",
              "--batch-size", "8", "--val-split", "0"]
    runner = CliRunner()
    first = runner.invoke(main, [*common, "--titles", "--untitled-fraction", "0.5", "--epochs", "1"])
    assert first.exit_code == 0, first.output
    refused = runner.invoke(main, [*common, "--resume", "--epochs", "2", "--untitled-fraction", "0.1"])
    assert refused.exit_code == 2 and "--untitled-fraction" in refused.output
    resumed = runner.invoke(main, [*common, "--resume", "--epochs", "2"])  # --titles comes from the checkpoint
    assert resumed.exit_code == 0, resumed.output
    from tangpoet.model.info import describe

    info = describe(out)
    assert info["titles"]["untitled_fraction"] == 0.5 and info["epochs"] == 2
