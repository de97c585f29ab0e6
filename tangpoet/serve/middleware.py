"""The request body, before the app sees it: at most ``limit`` bytes (413), arrived within ``timeout`` seconds (408)."""

from __future__ import annotations

import asyncio
import time

from tangpoet.serve.errors import error


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is refused with 413 before the app sees it, and one that
    has not all arrived ``timeout`` seconds after its headers (a client trickling it) with 408; either way the
    connection is closed."""

    def __init__(self, app, limit: int, timeout: float):
        self.app = app
        self.limit = int(limit)
        self.timeout = float(timeout)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        close = {"Connection": "close"}
        too_large = error(413, f"the request body is larger than the server's limit of {self.limit:,} bytes", close)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await too_large(scope, receive, send)
        deadline = time.monotonic() + self.timeout
        body, more = b"", True
        while more:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.001))
            except asyncio.TimeoutError:
                slow = error(408, f"the request body did not arrive within {self.timeout:g} s", close)
                return await slow(scope, receive, send)
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                return await too_large(scope, receive, send)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)
