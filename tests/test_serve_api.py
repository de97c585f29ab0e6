"""`tangpoet serve` through HTTP: a real server process on a free local port, a tiny model, every endpoint and error.

The batching tests fire requests at once and compare each answer with `write()` run alone in this process on the same
model file: bit for bit for a request with ``"exact": true``; the same poems (scores to 1e-4) when fused (the default).
"""

from __future__ import annotations

import json
import threading
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("sse_starlette")
httpx = pytest.importorskip("httpx")

from _serve_helpers import Server, parse_events, tiny_model_file

from tangpoet.errors import TangpoetError


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return tiny_model_file(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def model(model_path):
    from tangpoet.model.poem_model import load_model

    return load_model(model_path)


@pytest.fixture(scope="module")
def server(model_path):
    # A small delay per model call keeps the tiny model's requests long enough to overlap.
    s = Server(model_path, env={"TANGPOET_SERVE_STEP_DELAY": "0.002"})
    yield s
    s.stop()


@pytest.fixture(scope="module")
def small_server(model_path):
    """One request at a time, one waiting, 1.5 s each, 50 ms per model call (a 五律 takes 48 calls: 2.4 s)."""
    s = Server(
        model_path,
        "--max-active", "1", "--max-queue", "1", "--time-limit", "1.5",
        env={"TANGPOET_SERVE_STEP_DELAY": "0.05"},
    )
    yield s
    s.stop()


_REFERENCES: dict[str, list[dict]] = {}


def reference(model, body: dict) -> list[dict]:
    """What `write()` alone gives for ``body`` (same seed, same model file, this process); computed once per body."""
    key = json.dumps(body, sort_keys=True)
    if key not in _REFERENCES:
        _REFERENCES[key] = _write_alone(model, body)
    return _REFERENCES[key]


def _write_alone(model, body: dict) -> list[dict]:
    from tangpoet.writing import write

    options = {k: v for k, v in body.items() if k not in ("begin", "acrostic", "form", "decoder", "num", "seed")}
    poems = write(
        model,
        begin=body.get("begin", ""),
        acrostic=body.get("acrostic", ""),
        form=body.get("form"),
        decoder=body.get("decoder", "top-p"),
        num=body.get("num", 1),
        seed=body["seed"],
        **options,
    )
    return [{"poem": p.text, "score": p.score, "finished": p.finished} for p in poems]


def library_error(call) -> str:
    """The library's message for what ``call`` refuses, in the API's words (a decoder option named by its field)."""
    from tangpoet.serve.errors import api_message

    with pytest.raises(TangpoetError) as caught:
        call()
    return api_message(caught.value)


def one_line_error(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert "\n" not in response.text
    body = response.json()
    assert list(body) == ["error"], body
    return body["error"]


# -- endpoints ------------------------------------------------------------------------------------------------------
def test_generate_returns_write_json_objects(server, model, backend):
    body = {"begin": "春", "seed": 3}
    with server.client() as client:
        response = client.post("/generate", json=body)
    assert response.status_code == 200, response.text
    rows = response.json()
    assert len(rows) == 1
    row = rows[0]
    assert set(row) == {"poem", "lines", "score", "finished", "decoder", "seed", "backend", "model"}
    assert row["poem"].startswith("春") and "".join(row["lines"]) == row["poem"]
    assert row["seed"] == 3 and row["decoder"] == "top-p" and row["backend"] == backend
    assert row["poem"] == reference(model, body)[0]["poem"]


def test_generate_without_seed_reports_the_seed_it_used(server):
    with server.client() as client:
        first = client.post("/generate", json={}).json()[0]
        again = client.post("/generate", json={"seed": first["seed"]}).json()[0]
    assert isinstance(first["seed"], int)
    assert again["poem"] == first["poem"]


def test_stream_sends_each_character_in_order_then_the_final_event(server):
    body = {"begin": "春", "seed": 5, "form": "五言绝句"}
    with server.client() as client:
        response = client.post("/generate_stream", json=body)
        plain = client.post("/generate", json=body).json()[0]
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_events(response.text)
    chars = [data for name, data in events if name == "char"]
    assert [name for name, _ in events][-1] == "done"
    assert [c["index"] for c in chars] == list(range(len(chars)))
    assert chars[0]["char"] == "春" and chars[0]["logprob"] is None  # given, not chosen
    assert all(isinstance(c["logprob"], float) and c["logprob"] <= 0 for c in chars[1:])
    done = events[-1][1]
    assert "".join(c["char"] for c in chars) == done["poem"] == plain["poem"]
    assert done["lines"] == plain["lines"] and len(done["lines"]) == 4
    assert done["score"] == plain["score"] and done["seed"] == 5
    assert done["finish_reason"] == "eos" and done["streamed"] == "chars"
    assert done["poems"] == [plain]


def test_stream_of_several_poems_tags_rows(server):
    with server.client() as client:
        events = parse_events(client.post("/generate_stream", json={"decoder": "sample", "num": 3, "seed": 1}).text)
    done = events[-1][1]
    rows: dict[int, str] = {}
    for name, data in events[:-1]:
        assert name == "char"
        assert data["index"] == len(rows.get(data["row"], ""))
        rows[data["row"]] = rows.get(data["row"], "") + data["char"]
    assert sorted(rows.values()) == sorted(p["poem"] for p in done["poems"])
    assert done["poem"] == done["poems"][0]["poem"]


def test_beam_streams_its_best_poem_when_the_search_ends(server, model):
    body = {"decoder": "beam", "beam_width": 3, "num": 2, "seed": 0, "begin": "月"}
    with server.client() as client:
        events = parse_events(client.post("/generate_stream", json=body).text)
    done = events[-1][1]
    chars = [d["char"] for n, d in events if n == "char"]
    assert done["streamed"] == "end" and "".join(chars) == done["poem"]
    assert [p["poem"] for p in done["poems"]] == [p["poem"] for p in reference(model, body)]


def test_health_info_openapi_and_page(server, backend):
    with server.client() as client:
        health = client.get("/health").json()
        info = client.get("/info").json()
        schema = client.get("/openapi.json").json()
        page = client.get("/")
    assert health["status"] == "ok"
    assert info["backend"] == backend
    assert info["model"]["units"] == 16 and info["model"]["cell"] == "lstm"
    assert {"greedy", "top-p", "beam"} <= set(info["decoders"]) and "lstm" in info["cells"]
    assert not {"rhyme-beam", "rhyme-sample"} & set(info["decoders"])  # retired: not offered (page, clients)
    assert [f["name"] for f in info["forms"]] == ["五言绝句", "七言绝句", "五言律诗", "七言律诗"]
    assert info["serve"]["batching"] == "fused" and info["serve"]["max_queue"] == 64
    assert {"/generate", "/generate_stream", "/health", "/info", "/check"} <= set(schema["paths"])
    assert "begin" in schema["components"]["schemas"]["GenerateRequest"]["properties"]
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "generate_stream" in page.text
    assert "http://" not in page.text and "https://" not in page.text and "<script src" not in page.text  # offline


def test_api_docs_load_nothing_from_elsewhere(server):
    """/docs (Swagger UI) takes its scripts and styles from the server itself, so it works offline too."""
    import re

    with server.client() as client:
        docs = client.get("/docs")
        assert docs.status_code == 200
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", docs.text)
        assert assets and all(not a.startswith(("http://", "https://", "//")) for a in assets), assets
        for asset in assets:
            if asset.endswith((".js", ".css")):
                assert client.get(asset).status_code == 200, asset


def test_check_marks_tones_when_installed(server):
    with server.client() as client:
        installed = client.get("/info").json()["check"]
        response = client.post("/check", json={"text": "床前明月光，疑是地上霜。举头望明月，低头思故乡。"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["form"] == "五言绝句"
    lines = result["lines"]
    if not installed:  # no prosody plugin: the form is checked, no marks
        assert len(lines) == 4 and all(line["tones"] is None for line in lines)
        return
    assert len(lines) == 4 and all(len(line["tones"]) == 5 for line in lines)
    assert set(t for line in lines for t in line["tones"]) <= {"平", "仄", "平仄", "?"}


def test_check_is_the_librarys_check(server):
    """One /check: the report `tangpoet check --json` prints, for the same poem, form and constraints."""
    from tangpoet.checking import check_poems, parse_poem

    cases = [
        {"text": "床前明月光，疑是地上霜。举头望明月，低头思故乡。"},
        {"text": "春春春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。", "constraints": ["no-repeat"]},
        {"text": "春眠不觉晓，处处闻啼鸟。", "form": "五绝"},
    ]
    with server.client() as client:
        for body in cases:
            response = client.post("/check", json=body)
            assert response.status_code == 200, response.text
            want = check_poems([parse_poem(body["text"])], body.get("constraints", ()), body.get("form"))[0].to_dict()
            assert response.json() == want, body
        assert response.json()["pass"] is False and response.json()["violations"]


# -- errors: one line of JSON, the CLI's words ----------------------------------------------------------------------
def test_user_errors_use_the_librarys_words(server, model):
    from tangpoet.decoding import get_decoder
    from tangpoet.writing import write

    cases = [
        ({"decoder": "nope"}, library_error(lambda: get_decoder("nope"))),
        ({"top_p": 2.0}, library_error(lambda: get_decoder("top-p", top_p=2.0))),
        ({"decoder": "greedy", "temperature": 0.5}, library_error(lambda: get_decoder("greedy", temperature=0.5))),
        ({"begin": "龘"}, library_error(lambda: write(model, begin="龘"))),
        ({"form": "八言绝句"}, library_error(lambda: write(model, form="八言绝句"))),
        ({"acrostic": "春夏秋冬春", "form": "五绝"}, library_error(lambda: write(model, acrostic="春夏秋冬春", form="五绝"))),
    ]
    with server.client() as client:
        for body, message in cases:
            for path in ("/generate", "/generate_stream"):
                assert one_line_error(client.post(path, json=body), 400) == message, (path, body)


@pytest.mark.parametrize(
    "content, status, start",
    [
        (b'{"begin": ', 400, "malformed JSON"),
        (b"[1, 2]", 422, "the request body must be a JSON object"),
        (b'{"num": "many"}', 422, "num: "),
        (b'{"seed": 1.5}', 422, "seed: "),
        (b'{"bgein": "\xe5\xb1\xb1"}', 422, "unknown field 'bgein'"),
        (b'{"num": 17}', 400, "this server writes at most 16 poems"),
        (b'{"constraints": [{"name": 3}]}', 422, "constraints."),
    ],
)
def test_bad_bodies(server, content, status, start):
    with server.client() as client:
        response = client.post("/generate", content=content, headers={"content-type": "application/json"})
    assert one_line_error(response, status).startswith(start)


def test_body_too_large_unknown_path_and_method(server):
    with server.client() as client:
        big = client.post("/generate", json={"begin": "春" * 40_000})
        missing = client.get("/nope")
        wrong = client.get("/generate")
    assert "larger than the server's limit" in one_line_error(big, 413)
    assert one_line_error(missing, 404) == "not found: /nope"
    assert one_line_error(wrong, 405) == "method GET not allowed here"


def test_constraints_and_keywords_pass_through(server, model):
    with server.client() as client:
        unknown = client.post("/generate", json={"constraints": ["no-such-rule"], "seed": 1})
        keyword = client.post("/generate", json={"keywords": ["春"], "form": "五言绝句", "seed": 2})
    from tangpoet.writing import write

    message = library_error(lambda: write(model, constraints=[("no-such-rule", {})], seed=1))
    assert one_line_error(unknown, 400) == message
    assert keyword.status_code == 200, keyword.text
    assert "春" in keyword.json()[0]["poem"]


# -- batching --------------------------------------------------------------------------------------------------------
REQUESTS = [
    {"seed": 0},
    {"seed": 1, "begin": "春"},
    {"seed": 2, "decoder": "sample", "num": 3},
    {"seed": 3, "decoder": "top-k", "acrostic": "春夏秋冬", "form": "五言绝句"},
    {"seed": 4, "decoder": "greedy", "begin": "月"},
    {"seed": 5, "decoder": "beam", "beam_width": 3, "num": 2},
    {"seed": 6, "form": "七言绝句", "temperature": 0.8},
    {"seed": 7, "decoder": "sample", "max_len": 12},
]


def concurrently(server, bodies: list[dict], path: str = "/generate") -> list:
    """POST every body at the same moment from its own thread; the responses, in order."""
    barrier = threading.Barrier(len(bodies))
    results: list = [None] * len(bodies)

    def send(i):
        with server.client() as client:
            barrier.wait()
            results[i] = client.post(path, json=bodies[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_exact_requests_equal_write_alone_bit_for_bit(server, model):
    bodies = [{**body, "exact": True} for body in REQUESTS] + REQUESTS  # exact ones amid fused ones
    responses = concurrently(server, bodies)
    for body, response in zip(REQUESTS, responses):
        assert response.status_code == 200, response.text
        got = [{"poem": r["poem"], "score": r["score"], "finished": r["finished"]} for r in response.json()]
        assert got == reference(model, body), body


def test_fused_batching_steps_requests_together_and_writes_the_same_poems(server, model):
    before = server.health()["largest_batch"]
    responses = concurrently(server, REQUESTS * 2)
    for body, response in zip(REQUESTS * 2, responses):
        assert response.status_code == 200, response.text
        want = reference(model, body)
        got = response.json()
        assert [r["poem"] for r in got] == [w["poem"] for w in want], body
        assert all(abs(r["score"] - w["score"]) < 1e-4 for r, w in zip(got, want))
    assert max(before, server.health()["largest_batch"]) > 3  # rows of several requests in one model call


def test_streams_in_parallel_each_see_their_own_poem(server):
    bodies = [{"seed": s, "form": "五言绝句"} for s in range(6)]
    streams = concurrently(server, bodies, "/generate_stream")
    with server.client() as client:
        alone = [client.post("/generate", json=b).json()[0]["poem"] for b in bodies]
    for response, poem in zip(streams, alone):
        events = parse_events(response.text)
        assert "".join(d["char"] for n, d in events if n == "char") == events[-1][1]["poem"] == poem


# -- limits ----------------------------------------------------------------------------------------------------------
SLOW = {"form": "五言律诗", "seed": 1}  # 48 model calls of 50 ms on small_server


def test_full_queue_answers_503_with_retry_after(small_server):
    with httpx.Client(base_url=small_server.url, timeout=30) as first:
        with first.stream("POST", "/generate_stream", json=SLOW) as running:
            assert running.status_code == 200
            waiting: list = []
            queued = threading.Thread(
                target=lambda: waiting.append(httpx.post(small_server.url + "/generate", json=SLOW, timeout=30))
            )
            queued.start()
            deadline = time.monotonic() + 10
            while small_server.health()["waiting"] < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            refused = httpx.post(small_server.url + "/generate", json=SLOW, timeout=30)
            assert "busy" in one_line_error(refused, 503)
            assert int(refused.headers["retry-after"]) >= 1
            events = parse_events("".join(running.iter_text()))
        queued.join()
    # the running stream hit the 1.5 s limit: an error event ends it; the queued one got an answer too (never a hang)
    assert events[-1][0] == "error" and "time limit" in events[-1][1]["error"]
    assert waiting[0].status_code in (200, 504) and "\n" not in waiting[0].text
    assert small_server.health()["rejected"] >= 1


def test_time_limit_answers_504(small_server):
    response = httpx.post(small_server.url + "/generate", json=SLOW, timeout=30)
    assert "time limit (1.5 s)" in one_line_error(response, 504)


def test_disconnect_stops_decoding(small_server):
    deadline = time.monotonic() + 10
    while small_server.health()["running"] and time.monotonic() < deadline:  # earlier tests' requests have left
        time.sleep(0.05)
    start = small_server.health()
    with httpx.Client(base_url=small_server.url, timeout=30) as client:
        with client.stream("POST", "/generate_stream", json={"form": "五言绝句", "seed": 2}) as response:
            seen = 0
            for line in response.iter_lines():
                if line.startswith("event: char"):
                    seen += 1
                    if seen == 3:
                        break  # leave mid-poem: the connection closes
    deadline = time.monotonic() + 5
    while small_server.health()["decoding"] and time.monotonic() < deadline:
        time.sleep(0.05)
    stopped = small_server.health()
    assert stopped["decoding"] == 0 and stopped["running"] == 0
    time.sleep(0.3)
    assert small_server.health()["steps"] == stopped["steps"]  # no work left running for nobody
    assert stopped["steps"] - start["steps"] < 24  # a 五绝 takes 24 model calls: it was stopped before its end
    assert stopped["served"] == start["served"] + 1


def test_serve_without_the_address_is_one_line(model_path, tmp_path):
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "tangpoet", "serve", "--model", str(model_path), "--port", str(port)],
            capture_output=True, text=True, timeout=120,
        )
    assert run.returncode == 2
    assert run.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}") and run.stderr.count("\n") == 1
    missing = subprocess.run(
        [sys.executable, "-m", "tangpoet", "serve", "--model", str(tmp_path / "none.keras"), "--port", "0"],
        capture_output=True, text=True, timeout=120,
    )
    assert missing.returncode == 2 and missing.stderr.startswith("error: ") and missing.stderr.count("\n") == 1


def test_generate_fills_a_template_and_places_an_acrostic_at_a_column(server, model):
    """`template` and `acrostic_at` are write()'s: the same poems over HTTP as alone, the fixed characters in place;
    an impossible template is a one-line 400."""
    template = "□□明月□，□□□□□。□□□□□，□□□□□。"
    body = {"template": template, "decoder": "greedy", "seed": 1}
    [poem] = httpx.post(server.url + "/generate", json=body, timeout=60).json()
    assert poem["poem"] == reference(model, body)[0]["poem"]
    assert poem["poem"][2:4] == "明月" and len(poem["poem"]) == len(template)
    body = {"acrostic": "春夏秋冬", "acrostic_at": "end", "form": "五言绝句", "seed": 2}
    [poem] = httpx.post(server.url + "/generate", json=body, timeout=60).json()
    assert [line.rstrip("，。")[-1] for line in poem["lines"]] == list("春夏秋冬")  # 藏尾
    bad = httpx.post(server.url + "/generate", json={"template": "□□明月□，□□。"}, timeout=60)
    assert "template" in one_line_error(bad, 400)
