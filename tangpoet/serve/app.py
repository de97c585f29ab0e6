"""The HTTP app (FastAPI): the engine and the scheduler, and one router per concern — writing
(:mod:`~tangpoet.serve.generate`), checking (:mod:`~tangpoet.serve.checking`), status and the page
(:mod:`~tangpoet.serve.status`) — with the errors (:mod:`~tangpoet.serve.errors`) and the body limits
(:mod:`~tangpoet.serve.middleware`) every endpoint shares. No writing logic lives here.

Endpoints: ``POST /generate``, ``POST /generate_stream``, ``POST /check``, ``GET /health``, ``GET /info``, ``GET /``
(the page), ``/openapi.json``, ``/docs`` and ``/redoc``. Every error is one line of JSON, ``{"error": "..."}``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from tangpoet import __version__
from tangpoet.limits import CLIENT_TIMEOUT
from tangpoet.serve import errors
from tangpoet.serve.checking import check_router, marks_available
from tangpoet.serve.engine import BatchEngine
from tangpoet.serve.generate import generate_router
from tangpoet.serve.jobs import Scheduler
from tangpoet.serve.middleware import BodyLimit
from tangpoet.serve.schemas import generate_request
from tangpoet.serve.status import installed, offered_decoders, status_router

DEFAULT_BODY_LIMIT = 64 * 1024


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
) -> FastAPI:
    """The ASGI app serving ``model`` (a loaded PoemModel). Starts the engine thread."""
    from tangpoet.decoding.forms import form_names
    from tangpoet.decoding.stepper import StepDecoder
    from tangpoet.model.info import describe as describe_model

    engine = BatchEngine(StepDecoder.of(model), mode=mode, max_batch=max_batch)
    scheduler = Scheduler(model, engine, max_active=max_active, max_queue=max_queue, time_limit=time_limit)
    request_model = generate_request(offered_decoders(), form_names())  # the enums: what is installed at start-up
    about = {"version": __version__, "backend": backend, "model": describe_model(model_path)}
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
    app.router.add_event_handler("shutdown", engine.close)
    errors.install(app)
    app.include_router(
        generate_router(scheduler, request_model, backend=backend, model_path=model_path, time_limit=time_limit)
    )
    app.include_router(check_router())
    app.include_router(status_router(health, info))
    return app
