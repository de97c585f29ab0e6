"""Screenshot of the page of `tangpoet serve` for the README (docs/serve.png), with the bundled model.

    python docs/make_screenshot.py            # needs the serve + serve-test extras and /usr/bin/chromium

Starts a server on a free loopback port, writes 春夏秋冬 as a regulated (格律) 七言绝句 (seed 7) in headless Chromium,
waits for the poem and its 平/仄 marks, and saves the page at a desktop and a phone width side by side.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main() -> None:
    server = subprocess.Popen([sys.executable, "-m", "tangpoet", "serve", "--port", "0"], stderr=subprocess.PIPE, text=True)
    try:
        url = None
        for line in server.stderr:
            found = re.search(r"(http://[^/\s]+)/", line)
            if found:
                url = found.group(1)
                break
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            for name, viewport in (("serve.png", {"width": 900, "height": 760}), ("serve-phone.png", {"width": 390, "height": 760})):
                page = browser.new_page(viewport=viewport, device_scale_factor=1)
                page.goto(url + "/")
                page.wait_for_function("document.querySelector('select[name=decoder]').options.length > 1")
                page.fill("input[name=acrostic]", "春夏秋冬")
                page.select_option("select[name=form]", "七言绝句")
                page.fill("input[name=seed]", "7")
                if page.is_visible("#regulated-label"):  # the prosody plugin is installed: ask for 格律
                    page.check("input[name=regulated]")
                page.click("#write")
                page.wait_for_selector("#poem[data-done='1']", timeout=120_000)
                try:
                    page.wait_for_function("[...document.querySelectorAll('#poem .mark')].some(m => m.textContent)", timeout=20_000)
                except Exception:  # noqa: BLE001 - no prosody plugin: no marks
                    pass
                page.screenshot(path=str(HERE / name), full_page=False)
                print("wrote", HERE / name)
                page.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
