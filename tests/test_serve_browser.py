"""The page at `/` in a real browser: Debian's headless Chromium (/usr/bin/chromium) driven by Playwright.

Skipped only when /usr/bin/chromium is absent (CI installs it: .ci/run). Playwright's own browser downloads are never
used: the system browser is launched by path.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("sse_starlette")
pytest.importorskip("httpx")
sync_api = pytest.importorskip("playwright.sync_api")

from _serve_helpers import Server, tiny_model_file, tiny_titled_model_file

CHROMIUM = Path(os.environ.get("TANGPOET_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no system Chromium at {CHROMIUM}")

# Records, on every change of the poem, how many characters it shows: a streamed poem grows one character at a time.
WATCH = """() => {
  window.__counts = [];
  const poem = document.querySelector('#poem');
  new MutationObserver(() => window.__counts.push(poem.querySelectorAll('.cell').length))
    .observe(poem, {childList: true, subtree: true});
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    model = tiny_model_file(tmp_path_factory.mktemp("browser"))
    s = Server(model, env={"TANGPOET_SERVE_STEP_DELAY": "0.03"})  # 30 ms a character: visibly streamed
    yield s
    s.stop()


@pytest.fixture(scope="module")
def titled_server(tmp_path_factory):
    s = Server(tiny_titled_model_file(tmp_path_factory.mktemp("browser-titled")))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def write_poem(page, server, **fields):
    page.goto(server.url + "/")
    page.wait_for_function("document.querySelector('select[name=decoder]').options.length > 1")  # /info loaded
    for name, value in fields.items():
        if name in ("form", "decoder"):
            page.select_option(f"select[name={name}]", value)
        elif name == "regulated":
            page.wait_for_selector("#regulated-label:not([hidden])")
            page.check("input[name=regulated]")
        else:
            page.fill(f"input[name={name}]", str(value))
    page.evaluate(WATCH)
    page.click("#write")
    page.wait_for_selector("#poem[data-done='1']", timeout=60_000)
    return page.evaluate("[...document.querySelectorAll('#poem .verse')].map(v => [...v.querySelectorAll('.ch')].map(c => c.textContent).join(''))")


def test_page_writes_a_poem_character_by_character(server, browser, tmp_path):
    import httpx

    page = browser.new_page(viewport={"width": 1000, "height": 800})
    verses = write_poem(page, server, begin="春", form="五言绝句", seed=4)
    expected = httpx.post(server.url + "/generate", json={"begin": "春", "form": "五言绝句", "seed": 4}, timeout=60).json()[0]
    assert verses == expected["lines"]  # one line per verse, the poem the API writes
    counts = page.evaluate("window.__counts")
    assert len(set(counts)) >= 10, counts  # it grew in many steps, not all at once
    assert "seed 4" in page.inner_text("#status")
    if httpx.get(server.url + "/info", timeout=30).json()["check"]:  # 平/仄 under each character
        page.wait_for_function("[...document.querySelectorAll('#poem .mark')].filter(m => m.textContent).length >= 20")
    shot = Path(os.environ.get("TANGPOET_SERVE_SCREENSHOT", tmp_path / "serve.png"))
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 1000
    page.close()


def test_page_shows_errors_in_one_line(server, browser):
    page = browser.new_page()
    page.goto(server.url + "/")
    page.wait_for_function("document.querySelector('select[name=decoder]').options.length > 1")
    page.fill("input[name=begin]", "龘")
    page.click("#write")
    page.wait_for_selector("#status.error")
    assert "龘" in page.inner_text("#status")
    page.close()


def test_page_fits_a_phone_screen(server, browser):
    page = browser.new_page(viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True)
    verses = write_poem(page, server, acrostic="春夏秋冬", form="七言绝句", seed=2)
    assert [v[0] for v in verses] == list("春夏秋冬")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing wider than the screen
    page.close()


def test_page_writes_regulated_verse_when_the_prosody_plugin_is_installed(server, browser):
    import httpx

    info = httpx.get(server.url + "/info", timeout=30).json()
    page = browser.new_page()
    if "regulated" not in info["constraints"]:
        page.goto(server.url + "/")
        page.wait_for_function("document.querySelector('select[name=decoder]').options.length > 1")
        assert page.is_hidden("#regulated-label")  # no 格律 box without the constraint
        page.close()
        pytest.skip("the prosody plugin (tangpoet-rhyme) is not installed")
    verses = write_poem(page, server, form="五言绝句", seed=7, regulated=True)
    body = {"form": "五言绝句", "seed": 7, "constraints": ["regulated"]}
    expected = httpx.post(server.url + "/generate", json=body, timeout=60).json()[0]
    assert verses == expected["lines"]
    check = httpx.post(server.url + "/check", json={"text": expected["poem"]}, timeout=30).json()
    assert check["violations"] == [], check["violations"]  # the page asked for 格律 and got it
    page.close()


def test_page_writes_a_themed_best_of_n_poem_and_shows_its_plan(server, browser):
    import httpx

    page = browser.new_page()
    verses = write_poem(page, server, theme="明月", candidates=3, seed=5)
    expected = httpx.post(server.url + "/generate", json={"theme": "明月", "candidates": 3, "seed": 5}, timeout=60).json()[0]
    assert verses == expected["lines"]
    shown = page.inner_text("#status")
    assert "plan " + " / ".join(expected["plan"]) in shown
    for verse, word in zip(verses, expected["plan"]):
        assert word in verse
    page.close()


def test_page_hides_the_title_box_for_a_model_without_titles(server, browser):
    page = browser.new_page()
    page.goto(server.url + "/")
    page.wait_for_function("document.querySelector('select[name=decoder]').options.length > 1")
    assert page.is_hidden("#title-label")
    page.close()


def test_page_writes_to_a_title_and_shows_it_above_the_poem(titled_server, browser):
    import httpx

    page = browser.new_page()
    for title in ("秋月", "auto"):
        verses = write_poem(page, titled_server, title=title, form="五言绝句", seed=3)
        body = {"title": title, "form": "五言绝句", "seed": 3}
        expected = httpx.post(titled_server.url + "/generate", json=body, timeout=60).json()[0]
        assert verses == expected["lines"]
        assert page.inner_text("#poem-title") == expected["title"]
        if title != "auto":
            assert expected["title"] == title
    page.close()


def test_page_suggests_a_mend_for_a_flagged_character_and_takes_it(server, browser):
    """A character a rule flags is underlined; a click shows /check's suggestions for it (`check --suggest`); a click
    on one puts it in the poem, which is checked again."""
    import httpx

    info = httpx.get(server.url + "/info", timeout=30).json()
    if "regulated" not in info["constraints"]:
        pytest.skip("the prosody plugin (tangpoet-rhyme) is not installed: nothing is flagged by tone")
    page = browser.new_page()
    write_poem(page, server, form="五言绝句", seed=3)
    page.wait_for_selector(".cell.flagged", timeout=30_000)
    before = page.evaluate("[...document.querySelectorAll('#poem .ch')].map((e) => e.textContent).join('')")
    taken = None
    for i in range(page.locator(".cell.flagged").count()):
        page.locator(".cell.flagged").nth(i).click()
        page.wait_for_function("document.querySelector('#suggest').textContent !== '…'", timeout=60_000)
        if page.locator("#suggest button.option").count():
            taken = page.locator("#suggest button.option").first.inner_text()
            page.locator("#suggest button.option").first.click()
            break
    assert taken is not None, "no flagged character had a suggestion"
    page.wait_for_function("document.querySelector('#poem').dataset.taken", timeout=30_000)
    after = page.evaluate("document.querySelector('#poem').dataset.taken")
    changes = [part.split("→") for part in taken.split(" (")[0].split()]
    assert after != before and len(after) == len(before)
    assert sum(a != b for a, b in zip(before, after)) == len(changes)
    assert all(new in after for _, new in changes)
    page.wait_for_function(  # checked again: the marks of the new poem are back
        "[...document.querySelectorAll('#poem .ch')].map((e) => e.textContent).join('') === document.querySelector('#poem').dataset.taken"
        " && document.querySelectorAll('#poem .mark.ping, #poem .mark.ze').length > 0", timeout=30_000,
    )
    page.close()


def test_page_shows_the_middle_couplets_side_by_side(server, browser):
    """对仗: after a 律诗 is written, /check's couplets (lines 3–4 and 5–6) are drawn as two rows each, position by
    position, the paired positions shaded — the same pairs /check returns."""
    import httpx

    info = httpx.get(server.url + "/info", timeout=30).json()
    if not info["check"]:
        pytest.skip("no checker")
    page = browser.new_page()
    verses = write_poem(page, server, form="五言律诗", seed=2)
    page.wait_for_selector("#couplets .couplet table", timeout=30_000)
    expected = httpx.post(server.url + "/check", json={"text": "".join(verses)}, timeout=30).json()
    verses = [v.rstrip("，。") for v in verses]  # the page's verses carry their marks; the couplets do not
    shown = page.evaluate("[...document.querySelectorAll('#couplets .couplet table')].map(t => [...t.rows].map("
                          "r => [...r.cells].map(c => c.textContent).join('')))")
    assert shown == [[verses[a - 1], verses[b - 1]] for a, b in (c["lines"] for c in expected["couplets"])]
    assert [c["lines"] for c in expected["couplets"]] == [[3, 4], [5, 6]]
    shaded = page.evaluate("[...document.querySelectorAll('#couplets .couplet table')].map("
                           "t => [...t.rows[0].cells].map(c => c.className === 'paired'))")
    assert shaded == [[p["paired"] for p in c["pairs"]] for c in expected["couplets"]]
    page.close()
