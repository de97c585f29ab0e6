"""The HTTP app (FastAPI): the engine and the scheduler, and one router per concern — writing
(:mod:`~tangpoet.serve.generate`), checking (:mod:`~tangpoet.serve.checking`), status and the page
(:mod:`~tangpoet.serve.status`) — with the errors (:mod:`~tangpoet.serve.errors`) and the body limits
(:mod:`~tangpoet.serve.middleware`) every endpoint shares. No writing logic lives here.

Endpoints: ``POST /generate``, ``POST /generate_stream``, ``POST /check``, ``GET /health``, ``GET /info``, ``GET /``
(the page), ``/openapi.json``, ``/docs`` and ``/redoc``. Every error is one line of JSON, ``{"error": "..."}``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from tangpoet import __version__
from tangpoet.limits import CLIENT_TIMEOUT
from tangpoet.serve import errors
from tangpoet.serve.checking import check_router, marks_available
from tangpoet.serve.engine import BatchEngine
from tangpoet.serve.generate import generate_router
from tangpoet.serve.hosts import HostCheck
from tangpoet.serve.jobs import Scheduler
from tangpoet.serve.middleware import BodyLimit
from tangpoet.serve.schemas import generate_request
from tangpoet.serve.status import installed, offered_decoders, status_router

DEFAULT_BODY_LIMIT = 64 * 1024


def names_only(value: Any) -> Any:
    """``value`` (a model's description) with every file path shown as its name: ``/home/me/models/tang.keras`` →
    ``tang.keras`` (what a client needs; where the server keeps its files is none of its business)."""
    if isinstance(value, dict):
        return {key: names_only(item) for key, item in value.items()}
    if isinstance(value, list):
        return [names_only(item) for item in value]
    if isinstance(value, str) and _is_path(value):
        return PurePath(value.replace("\\", "/")).name
    return value


def _is_path(text: str) -> bool:
    """A file path (absolute, or relative with a file suffix), not prose that happens to hold a slash."""
    if not ("/" in text or "\\" in text) or any(c.isspace() for c in text) or text.endswith(("/", "\\")):
        return False
    path = PurePath(text.replace("\\", "/"))
    return path.is_absolute() or text.startswith("~") or re.match(r"^[A-Za-z]:/", path.as_posix()) is not None or bool(path.suffix)


def create_app(
    model,
    *,
    model_path: str,
    backend: str,
    mode: str = "fused",
    max_batch: int = 64,
    max_active: int = 64,
    max_queue: int = 64,
    time_limit: float = 60.0,
    body_limit: int = DEFAULT_BODY_LIMIT,
    client_timeout: float = CLIENT_TIMEOUT,
    hosts: Sequence[str] | None = None,
) -> FastAPI:
    """The ASGI app serving ``model`` (a loaded PoemModel). Starts the engine thread.

    ``hosts``: the ``Host`` names served (:mod:`~tangpoet.serve.hosts`; ``tangpoet serve`` passes
    :func:`~tangpoet.serve.hosts.allowed_hosts`); None: no check (an app mounted by a caller who checks hosts
    itself). ``/info`` and every poem name the model file (``tang.keras``), never its path."""
    from tangpoet.decoding.forms import form_names
    from tangpoet.decoding.stepper import StepDecoder
    from tangpoet.model.info import describe as describe_model

    engine = BatchEngine(StepDecoder.of(model), mode=mode, max_batch=max_batch)
    scheduler = Scheduler(model, engine, max_active=max_active, max_queue=max_queue, time_limit=time_limit)
    # the enums: what is installed at start-up; every form name get_form takes as written (aliases, traditional)
    request_model = generate_request(offered_decoders(), form_names(traditional=True))
    model_name = Path(model_path).name
    about = {"version": __version__, "backend": backend, "model": names_only(describe_model(model_path))}
    limits = {
        "batching": mode,
        "max_batch": max_batch,
        "max_active": max_active,
        "max_queue": max_queue,
        "time_limit_s": time_limit,
        "body_limit_bytes": body_limit,
        "client_timeout_s": client_timeout,
    }

    def health() -> dict:
        return {
            "status": "ok",
            "running": scheduler.running,
            "waiting": scheduler.waiting,
            "decoding": engine.live,
            "served": scheduler.served,
            "rejected": scheduler.rejected,
            "steps": engine.steps_run,
            "rows_stepped": engine.rows_stepped,
            "largest_batch": engine.largest_batch,
            "model_seconds": round(engine.model_seconds, 3),
            "memory_trims": engine.trims,
        }

    def info() -> dict:
        return {**about, **installed(), "check": marks_available(), "serve": limits}

    app = FastAPIOffline(  # /docs and /redoc with their scripts from the package, not a CDN (works offline)
        title="tangpoet",
        version=__version__,
        description="Write classical Chinese (Tang) poems: the API of `tangpoet serve`.",
    )
    app.state.engine = engine
    app.state.scheduler = scheduler
    app.add_middleware(BodyLimit, limit=body_limit, timeout=client_timeout)
    if hosts is not None:
        app.add_middleware(HostCheck, allowed=list(hosts))  # outermost: before anything reads the body
    app.router.add_event_handler("shutdown", engine.close)
    errors.install(app)
    app.include_router(
        generate_router(scheduler, request_model, backend=backend, model_path=model_name, time_limit=time_limit)
    )
    app.include_router(check_router(model))
    app.include_router(status_router(health, info))
    return app
