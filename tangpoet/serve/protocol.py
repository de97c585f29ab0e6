"""Slow clients: a request's headers must arrive within a timeout, or the connection is answered 408 and closed.

uvicorn bounds the idle time between requests on a kept-alive connection (``timeout_keep_alive``) but not the time a
client takes to send a request: a client that opens a connection and trickles its headers one byte at a time
holds the connection (and its memory) for as long as it likes. :func:`guarded_protocol` is uvicorn's own HTTP protocol
(httptools when installed, else h11) with that bound added; it is handed to uvicorn as its ``http`` protocol class.
The body's own timeout is :class:`tangpoet.serve.middleware.BodyLimit`'s (it answers 408 in JSON).
"""

from __future__ import annotations

import asyncio
import json


def guarded_protocol(timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class, with each request's headers due within ``timeout`` seconds of its first byte
    (the first request's: of the connection's opening)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
    except ImportError:  # httptools not installed: uvicorn's h11 protocol
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base

    body = json.dumps({"error": f"the request's headers did not arrive within {timeout:g} s"}).encode()
    answer = (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        + f"content-length: {len(body)}\r\n".encode()
        + b"connection: close\r\n\r\n"
        + body
    )

    class GuardedProtocol(Base):
        _guard: asyncio.TimerHandle | None = None
        _guarded = None  # the request cycle current when the guard was armed: still current when it fires = too slow

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            cycle = self.cycle
            between = cycle is None or cycle.response_complete  # these bytes begin (or continue) a new request
            if between and (self._guard is None or self._guarded is not cycle):
                self._arm()
            super().data_received(data)

        def connection_lost(self, exc) -> None:
            if self._guard is not None:
                self._guard.cancel()
                self._guard = None
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._guard is not None:
                self._guard.cancel()
            self._guarded = self.cycle
            self._guard = self.loop.call_later(timeout, self._expired)

        def _expired(self) -> None:
            self._guard = None
            if self.transport is None or self.transport.is_closing():
                return
            if self.cycle is self._guarded:  # no new request's headers were complete in time
                self.transport.write(answer)
                self.transport.close()

    return GuardedProtocol
