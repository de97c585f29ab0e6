"""Start a real `tangpoet serve` process on a free local port (shared by the serve tests; not a test module)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

_READY = re.compile(r"tangpoet serve: (http://[^/\s]+)/")


class Server:
    def __init__(self, model: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120.0):
        environment = dict(os.environ)
        environment.update(env or {})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tangpoet", "serve", "--model", str(model), "--port", "0", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        self.url = None
        self.log: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            self.log.append(line)
            found = _READY.search(line)
            if found:
                self.url = found.group(1)
                # keep reading its stderr: a full pipe would block the server
                threading.Thread(target=self._drain, daemon=True).start()
                break
        if self.url is None:
            self.stop()
            raise RuntimeError("tangpoet serve did not start:\n" + "".join(self.log))

    def _drain(self) -> None:
        for line in self.process.stderr:
            self.log.append(line)
            del self.log[:-200]

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 60.0), **kwargs)

    def health(self) -> dict:
        return httpx.get(self.url + "/health", timeout=10).json()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def tiny_model_file(directory: Path) -> Path:
    """A small random-weight model saved to ``directory`` (one per test session)."""
    from _writing_helpers import randomize, vocab

    from tangpoet.model.poem_model import build_model, save_model

    model = build_model(vocab(), cell="lstm", num_layers=1, units=16, embedding_dim=8)
    randomize(model, 3, scale=0.5)
    return save_model(model, directory / "tiny.keras")


def tiny_titled_model_file(directory: Path) -> Path:
    """A small random-weight model that says it is title-aware (``fit --titles``), saved to ``directory``."""
    from _writing_helpers import randomize, vocab

    from tangpoet.data.titles import model_record
    from tangpoet.model.poem_model import build_model, save_model

    model = build_model(vocab(), cell="lstm", num_layers=1, units=16, embedding_dim=8)
    randomize(model, 4, scale=0.5)
    model.metadata["titles"] = model_record()
    return save_model(model, directory / "tiny-titled.keras")


@contextlib.contextmanager
def titled_server(directory: Path):
    """A real server of a tiny title-aware model (:func:`tiny_titled_model_file` in ``directory``): yields ``(its model
    file, an httpx client of it)``, and stops it after. The caller skips without the serve extra first."""
    path = tiny_titled_model_file(directory)
    server = Server(path)
    try:
        with server.client() as client:
            yield path, client
    finally:
        server.stop()


def parse_events(text: str) -> list[tuple[str, dict]]:
    """Server-sent events ``(event, data)`` from a whole response body."""
    import json

    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", ""
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
        if data:
            events.append((name, json.loads(data)))
    return events
