"""`tangpoet serve` with `candidates`, `scorer` and `theme`: real HTTP requests to a real server process (tiny model);
every accepted request comes out satisfying every constraint, exactly as `write()` alone writes it."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from _serve_helpers import Server, parse_events, tiny_model_file
from _writing_helpers import check_poem

from tangpoet.decoding.constraints import CONSTRAINTS
from tangpoet.decoding.planning.constraint import ThemeConstraint

PROSODY = [s for s in ("regulated",) if CONSTRAINTS.resolve(s) is not None]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return tiny_model_file(tmp_path_factory.mktemp("best_of"))


@pytest.fixture(scope="module")
def server(model_path):
    s = Server(model_path)
    yield s
    s.stop()


def written_alone(model_path, body):
    from tangpoet.writing import poem_record, write

    keys = ("begin", "acrostic", "form", "decoder", "num", "seed", "candidates", "scorer", "theme", "constraints",
            "top_p", "beam_width")
    poems = write(str(model_path), **{k: v for k, v in body.items() if k in keys})
    return [poem_record(p, decoder=body["decoder"], seed=body["seed"], backend="", model="") for p in poems]


REQUESTS = [
    {"form": "五绝", "theme": "明月", "candidates": 4, "num": 2, "decoder": "top-p", "seed": 3},
    {"form": "七绝", "acrostic": "春夏秋冬", "theme": "春", "candidates": 3, "decoder": "sample", "seed": 8,
     "scorer": "likelihood"},
    {"theme": "思乡", "candidates": 3, "decoder": "beam", "beam_width": 3, "num": 1, "seed": 1},
    *({"form": "五律", "theme": "江", "candidates": 4, "num": 2, "decoder": "top-p", "seed": s, "constraints": PROSODY}
      for s in (2, 5) if PROSODY),
]


@pytest.mark.parametrize("body", REQUESTS, ids=lambda b: f"{b.get('form', '-')}-{b['decoder']}-{b['theme']}")
def test_every_accepted_request_comes_out_right_and_as_write_alone_writes_it(server, model_path, body):
    with server.client() as client:
        answer = client.post("/generate", json={**body, "exact": True})
    if answer.status_code == 400:  # refused before decoding: one line, the library's words
        assert "\n" not in answer.json()["error"]
        return
    assert answer.status_code == 200, answer.text
    rows = answer.json()
    assert len(rows) == body.get("num", 1)
    form = body.get("form") or (None if body.get("acrostic") else "五言绝句")
    for row in rows:
        check_poem(row["poem"], form=form, acrostic=body.get("acrostic", ""))
        assert len(row["plan"]) == len(row["lines"])
        assert not ThemeConstraint(lines="/".join(row["plan"])).check(row["poem"], None), row
        for name in body.get("constraints", []):
            assert not CONSTRAINTS.get(name)().check(row["poem"], None), (name, row["poem"])
    alone = written_alone(model_path, body)
    assert [(r["poem"], r["plan"]) for r in rows] == [(r["poem"], r["plan"]) for r in alone]
    assert [r["score"] for r in rows] == pytest.approx([r["score"] for r in alone], abs=1e-6)


def test_a_stream_of_candidates_sends_the_chosen_poem_when_they_are_ranked(server):
    body = {"form": "五绝", "theme": "夜", "candidates": 4, "decoder": "top-p", "seed": 4}
    with server.client() as client:
        answer = client.post("/generate_stream", json=body)
    assert answer.status_code == 200, answer.text
    events = parse_events(answer.text)
    kind, done = events[-1]
    assert kind == "done" and done["streamed"] == "end" and done["plan"]
    chars = [data for kind, data in events if kind == "char"]
    assert {c["row"] for c in chars} == {0}  # no candidate row was streamed, only the chosen poem
    assert "".join(c["char"] for c in chars) == done["poem"]


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"candidates": 0}, 400, "candidates"),
        ({"candidates": 1000}, 400, "candidates"),
        ({"num": 3, "candidates": 2, "decoder": "top-p"}, 400, "at least as many candidates"),
        ({"candidates": 2, "scorer": "nope"}, 400, "unknown scorer"),
        ({"theme": "秋，思"}, 400, "without punctuation"),
        ({"theme": 7}, 422, "theme"),
    ],
)
def test_bad_best_of_and_theme_requests_are_one_line_4xx(server, body, status, words):
    with server.client() as client:
        answer = client.post("/generate", json={"form": "五绝", **body})
    assert answer.status_code == status, answer.text
    message = answer.json()["error"]
    assert words in message and "\n" not in message
