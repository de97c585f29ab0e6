"""`tangpoet serve` takes a form by every name the command line does — a tune's other names (浣溪纱) and traditional
spellings (菩薩蠻) — as its schema's enum lists them; an unknown one is a 400 naming the close match. A ci comes back
with its stanza (阕) break (`stanza_break`), and the page shows it. Real HTTP requests against a real server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("sse_starlette")
httpx = pytest.importorskip("httpx")

from _serve_helpers import Server, tiny_model_file

from tangpoet.data import script
from tangpoet.decoding.forms import get_form

pytestmark = pytest.mark.torch  # the names and the break are backend-free: one backend runs them


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tiny_model_file(tmp_path_factory.mktemp("tunes")))
    yield s
    s.stop()


def generate(client, **body):
    response = client.post("/generate", json=body)
    assert response.status_code == 200, response.text
    return response.json()[0]


def test_a_tune_by_another_name_or_in_traditional_characters(server):
    schema = httpx.get(server.url + "/openapi.json", timeout=30).json()
    field = schema["components"]["schemas"]["GenerateRequest"]["properties"]["form"]
    enum = field["anyOf"][0]["enum"]
    assert {"浣溪沙", "浣溪纱", "浣沙溪", "念奴娇", "大江东去", "五绝", "wujue"} <= set(enum)
    assert "浣溪纱" in field["description"] and "traditional" in field["description"]
    with server.client() as client:
        canonical = generate(client, form="浣溪沙", seed=1)
        assert generate(client, form="浣溪纱", seed=1) == canonical  # the same tune, the same poem
        assert len(canonical["lines"]) == get_form("浣溪沙").lines
        if script.available():  # traditional spellings need OpenCC (tangpoet[script])
            assert {"菩薩蠻", "七言絕句", "念奴嬌"} <= set(enum)
            assert generate(client, form="菩薩蠻", seed=1) == generate(client, form="菩萨蛮", seed=1)
            assert generate(client, form="七言絕句", seed=1)["lines"] == generate(client, form="七绝", seed=1)["lines"]


def test_unknown_and_misspelled_forms_are_one_json_error(server):
    with server.client() as client:
        unknown = client.post("/generate", json={"form": "浣西沙"})
        assert unknown.status_code == 400 and unknown.headers["content-type"].startswith("application/json")
        assert "unknown form '浣西沙' (did you mean '浣溪沙'?)" in unknown.json()["error"]
        cased = client.post("/generate", json={"form": "WUJUE"})  # the library reads it; the enum spells it wujue
        assert cased.status_code == 400 and "send 'wujue'" in cased.json()["error"]
        assert client.post("/generate", json={"form": "浣溪纱", "variant": 9}).status_code == 400


def test_a_ci_comes_back_with_its_stanza_break(server):
    form = get_form("浣溪沙")
    with server.client() as client:
        poem = generate(client, form="浣溪沙", seed=3)
        assert poem["stanza_break"] == form.stanza_break == 3 and len(poem["lines"]) == 6
        assert "stanza_break" not in generate(client, form="五言绝句", seed=3)
        stream = client.post("/generate_stream", json={"form": "菩萨蛮", "seed": 3}).text
        done = json.loads(stream.split("event: done", 1)[1].split("data:", 1)[1].split("\n", 1)[0])
        assert done["stanza_break"] == get_form("菩萨蛮").stanza_break
        assert all(p["stanza_break"] == done["stanza_break"] for p in done["poems"])
        pasted = "一曲新词酒一杯。\n去年天气旧亭台。\n夕阳西下几时回。\n\n无可奈何花落去，\n似曾相识燕归来。\n小园香径独徘徊。"
        checked = client.post("/check", json={"text": pasted}).json()
        assert (checked["form"], checked["variant"], len(checked["lines"])) == ("浣溪沙", 1, 6)


CHROMIUM = Path(os.environ.get("TANGPOET_CHROMIUM", "/usr/bin/chromium"))


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no system Chromium at {CHROMIUM}")
def test_the_page_sets_the_second_stanza_apart(server):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu",
                                                                          "--disable-dev-shm-usage"], headless=True)
        try:
            page = browser.new_page()
            page.goto(server.url + "/")
            page.wait_for_function("document.querySelector('select[name=form]').options.length > 5")  # /info loaded
            page.select_option("select[name=form]", "浣溪沙")
            page.fill("input[name=seed]", "3")
            page.click("#write")
            page.wait_for_selector("#poem[data-done='1']", timeout=60_000)
            shown = page.evaluate("[...document.querySelectorAll('#poem .verse')].map(v => v.classList.contains('stanza'))")
            assert shown == [False, False, False, True, False, False]
            gap = page.evaluate("getComputedStyle(document.querySelectorAll('#poem .verse')[3]).marginTop")
            assert float(gap.rstrip("px")) > 0
        finally:
            browser.close()
