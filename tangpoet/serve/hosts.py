"""Which ``Host`` a request may name: DNS rebinding protection.

A web page on another site can make a browser send requests to ``http://evil.example:8000/`` after pointing
``evil.example`` at 127.0.0.1 (DNS rebinding): the browser treats the answers as that site's own, so the
bind-to-localhost default alone does not keep other sites off the API. Such a request names the attacker's host in
its ``Host`` header; :class:`HostCheck` answers any request whose host is not served here with 400 (one line of JSON,
like every error of the API) before the app sees it.

Served by default (:func:`allowed_hosts`): ``localhost`` and ``*.localhost`` (browsers resolve them to loopback
themselves), loopback addresses, and the address the server listens on; on a wildcard address (``0.0.0.0``, ``::``)
also the machine's host name and any IP address (a rebinding attack needs a DNS name: an IP literal cannot be one).
``tangpoet serve --allow-host NAME`` adds names (``*.example.org`` for every subdomain; ``*`` turns the check off).

Starlette's ``TrustedHostMiddleware`` checks names the same way but answers in plain text and knows no IP rule; this is
the dozen lines it would take to wrap it.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Iterable

WILDCARDS = ("0.0.0.0", "::", "")


def allowed_hosts(bound: str, extra: Iterable[str] = ()) -> list[str]:
    """The host names served by a server listening on ``bound``, plus ``extra`` (``--allow-host``)."""
    names = ["localhost", "*.localhost", "127.0.0.1", "::1"]
    if bound in WILDCARDS:
        names += ["<ip>", socket.gethostname().lower()]
    else:
        names.append(bound.lower())
    names += [name.strip().lower() for name in extra if name.strip()]
    return list(dict.fromkeys(names))


def host_of(header: str) -> str:
    """The host of a ``Host`` header, without its port (``[::1]:8000`` → ``::1``), lower case."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header[1:]
    if header.count(":") == 1:
        return header.split(":", 1)[0]
    return header


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def served(host: str, allowed: Iterable[str]) -> bool:
    for pattern in allowed:
        if pattern == "*" or pattern == host:
            return True
        if pattern == "<ip>" and is_ip(host):
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
        if is_ip(host) and is_ip(pattern) and ipaddress.ip_address(host) == ipaddress.ip_address(pattern):
            return True
    return is_ip(host) and ipaddress.ip_address(host).is_loopback


class HostCheck:
    """ASGI middleware: a request whose ``Host`` header names a host outside ``allowed`` is answered 400 and its
    connection closed. A request without a ``Host`` header (HTTP/1.0, not a browser) passes."""

    def __init__(self, app, allowed: Iterable[str]):
        self.app = app
        self.allowed = list(allowed)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        header = dict(scope.get("headers") or []).get(b"host")
        if header is None:
            return await self.app(scope, receive, send)
        host = host_of(header.decode("latin-1"))
        if served(host, self.allowed):
            return await self.app(scope, receive, send)
        shown = host if len(host) <= 60 else host[:59] + "…"
        body = json.dumps(
            {"error": f"host {shown!r} is not served here (DNS rebinding protection); to serve it: tangpoet serve "
             f"--allow-host {shown}"},
            ensure_ascii=False,
        ).encode()
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        await send({"type": "http.response.start", "status": 400, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
        ]})
        await send({"type": "http.response.body", "body": body})
