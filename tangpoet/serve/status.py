"""``GET /health`` (liveness and load), ``GET /info`` (the model as ``tangpoet info --json`` shows it, what is
installed, the forms, the server's limits) and ``GET /`` (the page). Each answers ``HEAD`` too."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from tangpoet.registry import DECODERS, available_names


def offered_decoders() -> dict[str, tuple[str, ...]]:
    """The decoders a client may ask for, each with the options it takes: every registered decoder that loads, but
    a retired one (kept only to name its replacement) — read from the one decoder registry."""
    offered = {}
    for name in DECODERS.names():
        if DECODERS.status(name) != "ok":
            continue
        offered[name] = tuple(getattr(DECODERS.get(name), "options", ()) or ())
    return offered


def installed() -> dict[str, Any]:
    """What ``/info`` lists as installed, read now (a name registered at run time shows), and the forms."""
    from tangpoet.decoding.forms import FORMS, tunes

    return {
        "decoders": list(offered_decoders()),
        "cells": available_names("cell"),
        "constraints": available_names("constraint"),
        "forms": [{"name": f.name, "lines": f.lines, "chars": f.chars, "aliases": list(f.aliases)} for f in FORMS],
        # ci tunes (词牌), the form names of ci: each with its variants (``variant`` of a request; 1 = the commonest)
        "tunes": [{"name": t.name, "variants": len(t.variants), "count": t.count} for t in tunes()],
    }


def status_router(
    health: Callable[[], dict[str, Any]], info: Callable[[], dict[str, Any]]
) -> APIRouter:
    """``/health`` answers ``health()``, ``/info`` answers ``info()``; ``/`` is the page."""
    router = APIRouter()

    @router.get("/health", summary="Liveness and load")
    async def get_health():
        return health()

    @router.get(
        "/info",
        summary="The model (as `tangpoet info --json`), installed decoders/cells/constraints, forms, the server's limits",
    )
    async def get_info():
        return info()

    page = resources.files("tangpoet.serve").joinpath("static/index.html").read_text(encoding="utf-8")

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index():
        return HTMLResponse(page)

    for path, endpoint in (("/health", get_health), ("/info", get_info), ("/", index)):  # HEAD where GET is
        router.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False)
    return router
