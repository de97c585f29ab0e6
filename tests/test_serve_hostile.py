"""Hostile and unlucky requests against a real `tangpoet serve` process, the way a user meets them (issue 23):
work that outlives its request, a long prompt holding up the others, slow clients, and the answers that were 500s or
spoke the command line's words."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("sse_starlette")
httpx = pytest.importorskip("httpx")

from _dist_helpers import make_dist
from _serve_helpers import Server, tiny_model_file

# A constraint plugin whose planning is slow: every restrict() spins 40 ms of CPU in Python, and no plan is ever
# feasible, so the planner tries combination after combination (like `regulated` repeated, in the issue).
SLOW_PLUGIN = """
import time

from tangpoet.decoding.constraints import Constraint


class SlowPlan(Constraint):
    name = "slow-plan"
    needs_form = True

    def variants(self, ctx):
        return list(range(400))

    def restrict(self, ctx, variant):
        end = time.process_time() + 0.04
        while time.process_time() < end:
            pass

    def feasible(self, ctx, variant):
        return "never feasible"
"""
SLOW = {"form": "五绝", "constraints": ["slow-plan"], "seed": 1}


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return tiny_model_file(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("slow-plugin")
    make_dist(root, "tangpoet-slow-plan", {"slow-plan": "tp_slow_plan:SlowPlan"}, {"tp_slow_plan": SLOW_PLUGIN},
              group="tangpoet.constraints")
    return root


@pytest.fixture(scope="module")
def server(model_path, plugin_path):
    """Time limit 1 s, clients 1.5 s to send a request; 10 ms per model call."""
    path = os.pathsep.join(p for p in (str(plugin_path), os.environ.get("PYTHONPATH", "")) if p)
    s = Server(
        model_path, "--time-limit", "1", "--client-timeout", "1.5",
        env={"TANGPOET_SERVE_STEP_DELAY": "0.01", "PYTHONPATH": path, "TANGPOET_DISABLE_PLUGINS": "0"},
    )
    yield s
    s.stop()


@pytest.fixture(scope="module")
def roomy_server(model_path):
    """Time limit 30 s; 5 ms per model call (a 200-character prompt fed one token per call: 1 s)."""
    s = Server(model_path, "--time-limit", "30", env={"TANGPOET_SERVE_STEP_DELAY": "0.005"})
    yield s
    s.stop()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(server, within: float) -> dict:
    deadline = time.monotonic() + within
    health = server.health()
    while (health["running"] or health["decoding"]) and time.monotonic() < deadline:
        time.sleep(0.02)
        health = server.health()
    return health


def assert_no_work_left(server, within: float = 0.6):
    """Nothing runs ``within`` seconds after the answer, and the server's CPU stays idle after that."""
    health = wait_idle(server, within)
    assert health["running"] == 0 and health["decoding"] == 0, health
    if Path("/proc").exists():
        before = cpu_seconds(server.process.pid)
        time.sleep(1.0)
        assert cpu_seconds(server.process.pid) - before < 0.3  # a planner spinning on would use ~1 s of CPU


# -- defect 2: a request past its time limit, or whose client left, stops all its work at once ---------------------
@pytest.mark.skipif(not Path("/proc").exists(), reason="reads the server's CPU time from /proc")
def test_a_request_past_its_time_limit_stops_its_planning_at_once(server):
    started = time.monotonic()
    response = httpx.post(server.url + "/generate", json=SLOW, timeout=60)
    assert response.status_code == 504, response.text
    assert "time limit (1 s)" in response.json()["error"]
    assert time.monotonic() - started < 3  # answered at the limit, not when the planning gave up
    assert_no_work_left(server)


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads the server's CPU time from /proc")
def test_a_client_that_leaves_during_planning_stops_it(server):
    wait_idle(server, 10)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(server.url + "/generate_stream", json={**SLOW, "seed": 2}, timeout=httpx.Timeout(30, read=0.4))
    assert_no_work_left(server)


def test_a_long_prompt_does_not_hold_up_another_request(roomy_server):
    """A 200-character begin is fed one token per step in the shared model calls: a request sent while it is being
    fed writes its first character long before the long one writes its own first (before, the long prompt's prefill
    was one call on the engine thread that every other request waited for)."""
    wait_idle(roomy_server, 10)
    begin = ("春夏秋冬山月花，风明夜江天白日。" * 13)[:200]
    headers_in = threading.Event()
    first_generated: list[float] = []

    def long_request():
        body = {"begin": begin, "seed": 3, "max_len": 240}
        with httpx.stream("POST", roomy_server.url + "/generate_stream", json=body, timeout=60) as stream:
            assert stream.status_code == 200
            headers_in.set()  # its checks passed: its prompt is being fed now
            for line in stream.iter_lines():
                if line.startswith("data:") and '"logprob": null' not in line and '"index"' in line:
                    first_generated.append(time.monotonic())
                    break

    long_thread = threading.Thread(target=long_request)
    long_thread.start()
    assert headers_in.wait(30)
    sent = time.monotonic()
    with httpx.stream("POST", roomy_server.url + "/generate_stream", json={"seed": 4, "max_len": 8}, timeout=60) as short:
        assert short.status_code == 200
        next(line for line in short.iter_lines() if line.startswith("event: char"))
    short_first = time.monotonic()
    long_thread.join(60)
    assert first_generated, "the long request wrote nothing"
    assert short_first < first_generated[0], "the short request waited for the long prompt"
    assert short_first - sent < 1.0


# -- slow clients ----------------------------------------------------------------------------------------------------
def trickle(server, head: bytes, drip: bytes) -> tuple[float | None, bytes]:
    """Send ``head``, then ``drip`` one byte every 0.1 s (reading whatever the server says first); when the server
    closed the connection (seconds after the start; None: still open after 8 s), and what it answered."""
    import select

    host, port = server.url.split("//")[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(head)
        answer = b""
        drops = list(drip)
        while time.monotonic() - started < 8:
            if select.select([sock], [], [], 0.1)[0]:
                try:
                    got = sock.recv(4096)
                except OSError:
                    got = b""
                if not got:
                    return time.monotonic() - started, answer
                answer += got
            elif drops:
                try:
                    sock.sendall(bytes([drops.pop(0)]))
                except OSError:
                    return time.monotonic() - started, answer
        return None, answer


def test_trickled_headers_are_dropped_after_the_client_timeout(server):
    closed, answer = trickle(server, b"POST /generate HTTP/1.1\r\nHost: localhost\r\n", b"X-Slow: " + b"a" * 200)
    assert closed is not None and closed < 4, closed  # --client-timeout 1.5
    assert answer.startswith(b"HTTP/1.1 408 ") and b"headers did not arrive within 1.5 s" in answer


def test_a_trickled_body_is_answered_408(server):
    head = b"POST /generate HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n"
    closed, answer = trickle(server, head, b" " * 200)
    assert closed is not None and closed < 4, closed
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {"error": "the request body did not arrive within 1.5 s"}


def test_a_client_in_time_is_served(server):
    """The guard does not cut a client that sends its request in time, nor a kept-alive connection between requests."""
    with server.client() as client:
        for _ in range(2):
            assert client.get("/health").status_code == 200
            time.sleep(0.8)  # idle on the kept-alive connection, below uvicorn's keep-alive timeout


# -- defect 3: never a 500; API words --------------------------------------------------------------------------------
HOSTILE = [
    ({"options": {"max_len": 5}}, 400, "options.max_len: max_len is a field of its own"),
    ({"options": {"num": 2}}, 400, "options.num: num is a field of its own"),
    ({"options": {"seed": 1}}, 400, "options.seed: seed is a field of its own"),
    ({"options": {"begin": "春"}}, 400, "options.begin: begin is a field of its own"),
    ({"options": {"top_p": 0.5}}, 400, "options.top_p: top_p is a field of its own"),
    ({"decoder": "top-k", "top_k": 10**30}, 400, "top_k must be from 1 to 100,000"),
    ({"decoder": "top-k", "top_k": 1e30}, 400, "top_k must be from 1 to 100,000"),  # 1e30 is JSON's integer too
    ({"constraints": ["no-repeat:\ud800=1"]}, 400, "constraints.0 holds a lone surrogate (\\ud800)"),
    ({"options": {"\ud800": 1}}, 400, "options holds a lone surrogate (\\ud800)"),
    ({"constraints": ["regulated:\ud800"]}, 400, "constraints.0 holds a lone surrogate (\\ud800)"),
    ({"constraints": [{"name": "no-repeat", "options": {"x\udc80": 1}}]}, 400, "constraints.0.options holds a lone"),
    ({"begin": "春\ud800"}, 400, "begin holds a lone surrogate (\\ud800)"),
    ({"constraints": [{"name": "no-repeat", "options": {"ngram": 2.5}}]}, 400, "option ngram must be a whole number, got 2.5"),
    ({"constraints": ["no-repeat:ngram=2.5"]}, 400, "option ngram must be a whole number, got 2.5"),
    ({"constraints": [{"name": "no-repeat", "options": {"ngram": 10**18}}]}, 400, "option ngram must be from 0 to 64"),
    ({"constraints": ["no-repeat:ngram=1000000000000000000"]}, 400, "option ngram must be from 0 to 64"),
    ({"options": {"__main__": 1}}, 400, "decoder 'top-p' does not take __main__ (it takes top_p, temperature)"),
    ({"decoder": "sample", "top_p": 0.5}, 400, "decoder 'sample' does not take top_p (it takes temperature)"),
    ({"top_p": 2.0}, 400, "top_p must be more than 0 and at most 1, got 2.0"),
    ({"decoder": "beam", "beam_width": 100}, 400, "beam_width must be from 1 to 64"),
    ({"constraints": ["slow-plan"]}, 400, "constraint 'slow-plan' needs a form (五绝, 七绝, 五律 or 七律)"),
    ({"exact": 0}, 422, "exact: "),
    ({"num": True}, 422, "num: "),
    ({"temperature": "1"}, 422, "temperature: "),
]


@pytest.mark.parametrize("body, status, start", HOSTILE, ids=[json.dumps(b, ensure_ascii=True)[:40] for b, _, _ in HOSTILE])
def test_hostile_bodies_are_one_line_4xx_in_the_apis_words(server, body, status, start):
    content = json.dumps(body, ensure_ascii=True)  # lone surrogates travel as \\ud800 escapes, as in the issue
    for path in ("/generate", "/generate_stream"):
        response = httpx.post(server.url + path, content=content, headers={"content-type": "application/json"}, timeout=30)
        assert response.status_code == status, (path, response.text)
        assert "\n" not in response.text and list(response.json()) == ["error"]
        message = response.json()["error"]
        assert message.startswith(start), message
        assert not re.search(r"(^|[\s(])--[a-z_]", message) and "terminal" not in message  # no command-line words


def test_a_body_that_is_not_json_is_415(server):
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        response = httpx.post(server.url + "/generate", content=b'{"seed": 1}', headers={"content-type": content_type})
        assert response.status_code == 415, (content_type, response.text)
        assert response.json()["error"].startswith("the request body must be JSON")
    check = httpx.post(server.url + "/check", content=b'{"text": "x"}', headers={"content-type": "text/plain"})
    assert check.status_code == 415
    bare = httpx.post(server.url + "/generate", content=b'{"seed": 1}', headers={"content-type": ""})
    assert bare.status_code == 415 and "no content-type" in bare.json()["error"]
    typed = httpx.post(server.url + "/generate", content=b'{"seed": 1, "max_len": 8}', headers={"content-type": "application/json; charset=utf-8"})
    assert typed.status_code == 200, typed.text


def test_head_answers_where_get_does(server):
    for path in ("/health", "/info", "/"):
        head, get = httpx.head(server.url + path), httpx.get(server.url + path)
        assert head.status_code == get.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]
