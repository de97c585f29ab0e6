"""Title guidance (`write --title T --title-guidance G`): classifier-free guidance of a title-aware model — the guided
next-character distribution is the formula's, rows stay paired through a search's reorders, every decoder and
constraint writes through it, γ = 1 changes nothing, and bad requests are refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from test_titles import _titled_model

from tangpoet.cli import main
from tangpoet.data.titles import title_prefix
from tangpoet.data.vocab import BOS_ID
from tangpoet.decoding.guidance import GuidedStepDecoder
from tangpoet.decoding.stepper import StepDecoder
from tangpoet.errors import DecoderOptionError
from tangpoet.writing import write


@pytest.fixture(scope="module")
def model():
    return _titled_model()


def guided(given, untitled, gamma):
    mixed = untitled.astype(np.float64) + gamma * (given.astype(np.float64) - untitled)
    return mixed - np.log(np.exp(mixed).sum(axis=-1, keepdims=True))


def test_the_guided_distribution_is_the_formulas_and_rows_stay_paired(model):
    v = model.vocab
    plain = StepDecoder.of(model)
    titled = plain.titled(title_prefix(v, "秋月"))
    stepper = GuidedStepDecoder(plain, title_prefix(v, "秋月"), 2.5)
    prefix = np.asarray([BOS_ID, v.id("春")])
    lp, state = stepper.prime(prefix, 3)
    given, given_state = titled.prime(prefix, 3)
    untitled, untitled_state = plain.prime(prefix, 3)
    np.testing.assert_allclose(lp, guided(given, untitled, 2.5), atol=1e-4)
    assert not np.allclose(lp, given, atol=1e-3)  # guidance moves the distribution
    # a search reorders rows: both streams follow, and the next step is still the formula's
    order, tokens = np.asarray([2, 0, 0]), np.asarray([v.id("眠"), v.id("月"), v.id("花")])
    lp, _ = stepper.step(tokens, stepper.reorder(state, order))
    given, _ = titled.step(tokens, StepDecoder.reorder(given_state, order))
    untitled, _ = plain.step(tokens, StepDecoder.reorder(untitled_state, order))
    np.testing.assert_allclose(lp, guided(given, untitled, 2.5), atol=1e-4)
    one, _ = GuidedStepDecoder(plain, title_prefix(v, "秋月"), 1.0).prime(prefix, 1)
    np.testing.assert_allclose(one[0], titled.prime(prefix, 1)[0][0], atol=1e-4)  # γ = 1: the model given the title


@pytest.mark.parametrize(
    "request_",
    [
        dict(decoder="greedy", form="五言绝句"),
        dict(decoder="beam", beam_width=3, acrostic="春夏秋冬"),
        dict(decoder="top-p", form="七言绝句", keywords="明月", num=2, candidates=3),
    ],
)
def test_every_decoder_writes_through_guidance(model, request_):
    from tangpoet.checking import check_poem
    from tangpoet.decoding.forms import get_form

    plain = write(model, title="秋月", seed=4, **request_)
    assert [p.text for p in write(model, title="秋月", title_guidance=1, seed=4, **request_)] == [p.text for p in plain]
    poems = write(model, title="秋月", title_guidance=4, seed=4, **request_)
    assert poems and all(p.title == "秋月" for p in poems)
    assert [p.text for p in poems] != [p.text for p in plain]  # a tiny random model: γ = 4 changes what is written
    for poem in poems:
        if "form" in request_:
            assert check_poem(poem.text, [], get_form(request_["form"])).passed
        if "acrostic" in request_:
            assert [line[0] for line in poem.text.replace("。", "，").split("，") if line] == list("春夏秋冬")
        if "keywords" in request_:
            assert "明月" in poem.text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(title_guidance=2), "title guidance needs a title"),
        (dict(title="秋月", title_guidance=0.5), "title guidance takes a number from 1"),
        (dict(title="秋月", title_guidance=float("inf")), "title guidance takes a number from 1"),
        (dict(title="秋月", title_guidance="2"), "title guidance takes a number from 1"),
    ],
)
def test_bad_guidance_is_refused_in_one_line(model, options, message):
    with pytest.raises(DecoderOptionError, match=message):
        write(model, **options)


def test_the_cli_takes_title_guidance_and_refuses_it_without_a_title(model, tmp_path):
    from tangpoet.model.poem_model import save_model

    path = str(save_model(model, tmp_path / "t.keras"))
    result = CliRunner().invoke(main, ["write", "-m", path, "--title", "秋月", "--title-guidance", "3", "--form", "五绝",
                                       "--decoder", "greedy"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "秋月" and len(result.stdout.splitlines()) == 5
    result = CliRunner().invoke(main, ["write", "-m", path, "--title-guidance", "3"])
    assert result.exit_code == 2 and "title guidance needs a title" in result.output
    assert "Traceback" not in result.output


def test_the_server_writes_with_title_guidance_as_write_does(tmp_path):
    """`title_guidance` in a request: exact, the poem `write()` gives; fused, with other clients' rows in the batch,
    the stream sends the poem when it is written (its rows are two streams, not poems); bad values are refused (a 4xx with one line)."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    pytest.importorskip("sse_starlette")
    from _serve_helpers import parse_events, titled_server

    with titled_server(tmp_path) as (path, client):
        body = {"title": "秋月", "title_guidance": 3, "form": "五言绝句", "seed": 6, "decoder": "top-p",
                "exact": True}
        record = client.post("/generate", json=body).json()[0]
        expected = write(str(path), title="秋月", title_guidance=3, form="五言绝句", seed=6, decoder="top-p")[0]
        plain = write(str(path), title="秋月", form="五言绝句", seed=6, decoder="top-p")[0]
        assert (record["title"], record["poem"]) == ("秋月", expected.text) and expected.text != plain.text
        stream = client.post("/generate_stream", json={**body, "exact": False, "decoder": "beam"})
        events = parse_events(stream.text)
        final = [data for name, data in events if name == "done"][0]
        chars = "".join(data["char"] for name, data in events if name == "char")
        assert final["streamed"] == "end" and chars == final["poem"]
        assert client.post("/generate", json={**body, "title_guidance": "3"}).status_code == 422  # not a number
        answer = client.post("/generate", json={**body, "title_guidance": 9})
        assert answer.status_code == 400 and "from 1" in answer.json()["error"]
        no_title = {k: v for k, v in body.items() if k != "title"}
        answer = client.post("/generate", json=no_title)
        assert answer.status_code == 400 and "needs a title" in answer.json()["error"]
