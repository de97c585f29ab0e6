"""Each router of `tangpoet serve` on its own, in a bare FastAPI app, without a model or a server process: what the
app assembles can be tested one concern at a time."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sse_starlette")
pytest.importorskip("httpx")

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tangpoet.decoding.base import Candidate
from tangpoet.serve import errors
from tangpoet.serve.checking import check_router
from tangpoet.serve.generate import generate_router
from tangpoet.serve.schemas import generate_request
from tangpoet.serve.status import status_router


def app_with(router) -> TestClient:
    app = FastAPI()
    errors.install(app)
    app.include_router(router)
    return TestClient(app)


def test_status_router_answers_get_and_head():
    client = app_with(status_router(lambda: {"status": "ok", "running": 0}, lambda: {"backend": "none"}))
    assert client.get("/health").json() == {"status": "ok", "running": 0}
    assert client.get("/info").json() == {"backend": "none"}
    assert client.get("/").headers["content-type"].startswith("text/html")
    for path in ("/health", "/info", "/"):
        head = client.head(path)
        assert head.status_code == 200 and head.content == b""


def test_check_router_is_the_librarys_check():
    from tangpoet.checking import check_poems, parse_poem

    client = app_with(check_router())
    text = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
    response = client.post("/check", json={"text": text, "constraints": ["no-repeat"]})
    assert response.status_code == 200
    assert response.json() == check_poems([parse_poem(text)], ["no-repeat"])[0].to_dict()
    assert client.post("/check", json={"text": "。，"}).json() == {"error": "no poem to check: the text holds no character"}
    assert client.post("/check", json={"text": "春" * 2001}).status_code == 400
    assert client.post("/check", content=b'{"text": "x"}', headers={"content-type": "text/plain"}).status_code == 415


class FakeJob:
    def __init__(self):
        self.deadline = time.monotonic() + 5
        self.drain = None  # set by the real scheduler when it shuts down: (its grace's end, …)
        self.cancelled = None

    def cancel(self, reason="disconnected"):
        self.cancelled = reason


class FakeScheduler:
    """Answers every request at once with one poem, and records what it was asked."""

    closing = False  # the router refuses new requests while the real scheduler drains (SIGTERM)

    def __init__(self):
        self.asked: list[dict] = []

    def submit(self, kwargs, sink, *, stream, exact=None, client=None):
        self.asked.append(kwargs)
        poem = Candidate(text="春风。", tokens=(), score=-1.5, log_prob=-3.0, finished=True)
        sink("ready", None)
        sink("done", ([poem], False))
        return FakeJob()


def test_generate_router_hands_write_its_arguments_and_frames_the_answer():
    scheduler = FakeScheduler()
    model = generate_request({"greedy": (), "top-p": ("top_p", "temperature")}, ["五绝", "wujue"])
    client = app_with(generate_router(scheduler, model, backend="none", model_path="m.keras", time_limit=5))
    rows = client.post("/generate", json={"begin": "春", "top_p": 0.5, "seed": 3, "form": "wujue"}).json()
    assert rows == [{"poem": "春风。", "lines": ["春风。"], "score": -1.5, "finished": True, "decoder": "top-p",
                     "seed": 3, "backend": "none", "model": "m.keras"}]
    asked = scheduler.asked[0]
    assert (asked["begin"], asked["top_p"], asked["seed"], asked["form"]) == ("春", 0.5, 3, "wujue")
    stream = client.post("/generate_stream", json={"seed": 1})
    assert "event: done" in stream.text and '"finish_reason": "eos"' in stream.text
    assert client.post("/generate", json={"form": "WUJUE"}).status_code == 400  # not in this server's enum
    assert client.post("/generate", json={"options": {"seed": 1}}).json()["error"].startswith("options.seed:")
    assert len(scheduler.asked) == 2  # refused requests reached no scheduler
