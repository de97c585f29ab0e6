"""The HTTP layer (FastAPI): parse, hand to the scheduler, frame the answer. No writing logic lives here.

Endpoints: ``POST /generate`` (the poems, as ``tangpoet write --json``), ``POST /generate_stream`` (server-sent
events: one ``char`` event per character, then ``done``), ``POST /check`` (平/仄 and rhyme marks, when the machinery is
installed), ``GET /health``, ``GET /info``, ``GET /`` (the page), ``/openapi.json`` and ``/docs``.
Every error is one line of JSON, ``{"error": "..."}``, with a 4xx status for what the client caused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi_offline import FastAPIOffline
from sse_starlette.sse import EventSourceResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tangpoet import __version__
from tangpoet.errors import TangpoetError
from tangpoet.serve import mailboxes
from tangpoet.serve.engine import BatchEngine
from tangpoet.serve.jobs import Busy, Scheduler, write_parameters
from tangpoet.serve.schemas import CheckRequest, ErrorBody, GenerateRequest, Poem

log = logging.getLogger("tangpoet.serve")
DEFAULT_BODY_LIMIT = 64 * 1024
ERRORS = {code: {"model": ErrorBody} for code in (400, 413, 422, 503, 504)}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is refused with 413 before the app sees it."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = int(limit)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = error(413, f"the request body is larger than the server's limit of {self.limit:,} bytes")
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await too_large(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
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


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    errors = exc.errors()
    first = errors[0] if errors else {"type": "", "loc": (), "msg": "invalid request"}
    kind = first.get("type", "")
    if kind == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "not valid JSON")
        return 400, f"malformed JSON: {reason}"
    loc = [str(part) for part in first.get("loc", ()) if part != "body"]
    if kind == "missing" and not loc:
        return 400, "the request body must be a JSON object"
    if kind == "model_attributes_type" or (not loc and kind.endswith("_type")):
        return 422, "the request body must be a JSON object"
    field = ".".join(loc) or "body"
    if kind == "extra_forbidden":
        return 422, f"unknown field {field!r}"
    return 422, f"{field}: {first.get('msg', 'invalid value')}"


def _row(poem, decoder: str, seed: int, backend: str, model: str) -> dict[str, Any]:
    """One poem as ``tangpoet write --json`` prints it."""
    from tangpoet.writing import poem_record

    return poem_record(poem, decoder=decoder, seed=seed, backend=backend, model=model)


async def _get(queue: asyncio.Queue, timeout: float):
    """``queue.get()`` within ``timeout`` seconds (``asyncio.TimeoutError`` past it)."""
    if hasattr(asyncio, "timeout"):  # Python ≥ 3.11: no task per call, unlike asyncio.wait_for
        async with asyncio.timeout(timeout):
            return await queue.get()
    return await asyncio.wait_for(queue.get(), timeout)


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
) -> FastAPI:
    """The ASGI app serving ``model`` (a loaded PoemModel). Starts the engine thread."""
    from tangpoet.decoding.stepper import StepDecoder
    from tangpoet.serve import checking, info

    engine = BatchEngine(StepDecoder.of(model), mode=mode, max_batch=max_batch)
    scheduler = Scheduler(model, engine, max_active=max_active, max_queue=max_queue, time_limit=time_limit)
    supported = write_parameters()
    about = info.describe(model_path, backend=backend)
    limits = {
        "batching": mode,
        "max_batch": max_batch,
        "max_active": max_active,
        "max_queue": max_queue,
        "time_limit_s": time_limit,
        "body_limit_bytes": body_limit,
    }

    app = FastAPIOffline(  # /docs and /redoc with their scripts from the package, not a CDN (works offline)
        title="tangpoet",
        version=__version__,
        description="Write classical Chinese (Tang) poems: the API of `tangpoet serve`.",
        responses=ERRORS,
    )
    app.state.engine = engine
    app.state.scheduler = scheduler
    app.add_middleware(BodyLimit, limit=body_limit)
    app.router.add_event_handler("shutdown", engine.close)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        status, message = _validation_message(exc)
        return error(status, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        messages = {404: f"not found: {request.url.path}", 405: f"method {request.method} not allowed here"}
        return error(exc.status_code, messages.get(exc.status_code, str(exc.detail)), getattr(exc, "headers", None))

    @app.exception_handler(TangpoetError)
    async def _user(request: Request, exc: TangpoetError):
        return error(400, str(exc))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        log.exception("internal error")
        return error(500, f"internal error: {type(exc).__name__}")

    def submit(body: GenerateRequest, stream: bool):
        from tangpoet.writing import resolve_seed

        seed = resolve_seed(body.seed)
        kwargs = body.write_kwargs(seed, supported)
        events: asyncio.Queue = asyncio.Queue()
        mailbox = mailboxes.of(asyncio.get_running_loop())

        def sink(kind, payload):
            mailbox.post(events, (kind, payload))

        job = scheduler.submit(kwargs, sink, stream=stream, exact=body.exact)
        return job, events, seed

    async def next_event(events: asyncio.Queue, job, request: Request | None):
        """The job's next event; ``None`` if the client went away first (the job is then cancelled; ``request=None``:
        not watched here — sse-starlette watches a stream). A job that has said nothing for 5 s past its deadline (a
        model call that never returns) is given up: never a hang."""
        while True:
            if not events.empty():
                return events.get_nowait()
            try:
                return await _get(events, 0.5)
            except asyncio.TimeoutError:
                if request is not None and await request.is_disconnected():
                    job.cancel()
                    return None
                if time.monotonic() > job.deadline + 5:
                    job.cancel()
                    return ("stopped", "time_limit")

    def outcome(kind: str, payload) -> JSONResponse | None:
        if kind == "error":
            return error(*payload)
        if kind == "stopped":
            if payload == "time_limit":
                return error(504, f"the poem was not written within the server's time limit ({time_limit:g} s)")
            return error(503, "the server is shutting down", {"Retry-After": "5"})
        return None

    def final(payload, body: GenerateRequest, seed: int) -> tuple[list[dict], bool]:
        poems, searched = payload
        rows = [_row(p, body.decoder, seed, backend, model_path) for p in poems]
        return rows, searched

    @app.post("/generate", response_model=list[Poem], summary="Write poems (the objects of `tangpoet write --json`)")
    async def generate(body: GenerateRequest, request: Request):
        try:
            job, events, seed = submit(body, stream=False)
        except Busy as busy:
            return error(503, str(busy), {"Retry-After": str(busy.retry_after)})
        while True:
            event = await next_event(events, job, request)
            if event is None:
                return Response(status_code=499)
            kind, payload = event
            if kind == "done":
                return JSONResponse(final(payload, body, seed)[0])
            answer = outcome(kind, payload)
            if answer is not None:
                return answer

    @app.post(
        "/generate_stream",
        summary="Write a poem as server-sent events: `char` per character, then `done` (or `error`)",
        response_class=EventSourceResponse,
        responses={200: {"description": "text/event-stream; `char` data: Char, `done` data: Final"}},
    )
    async def generate_stream(body: GenerateRequest, request: Request):
        try:
            job, events, seed = submit(body, stream=True)
        except Busy as busy:
            return error(503, str(busy), {"Retry-After": str(busy.retry_after)})
        first = await next_event(events, job, request)  # "ready" once every check passed, or why not
        if first is None:
            return Response(status_code=499)
        if first[0] != "ready":
            answer = outcome(*first)
            if answer is not None:
                return answer
            if first[0] == "done":  # finished without a model call (cannot happen with the built-in decoders)
                events.put_nowait(first)

        async def stream():
            try:
                while True:
                    kind, payload = await next_event(events, job, None)  # sse-starlette watches the client
                    if kind == "char":
                        yield {"event": "char", "data": json.dumps(payload, ensure_ascii=False)}
                    elif kind == "done":
                        rows, searched = final(payload, body, seed)
                        best = rows[0]
                        if searched:  # a search streams its best poem when it ends
                            for i, char in enumerate(best["poem"]):
                                data = {"index": i, "char": char, "logprob": None, "row": 0}
                                yield {"event": "char", "data": json.dumps(data, ensure_ascii=False)}
                        done = dict(best)
                        done["finish_reason"] = "eos" if best["finished"] else "length"
                        done["streamed"] = "end" if searched else "chars"
                        done["poems"] = rows
                        yield {"event": "done", "data": json.dumps(done, ensure_ascii=False)}
                        return
                    elif kind in ("error", "stopped"):
                        answer = outcome(kind, payload)
                        message = json.loads(answer.body)["error"] if answer is not None else "stopped"
                        yield {"event": "error", "data": json.dumps({"error": message}, ensure_ascii=False)}
                        return
            finally:
                job.cancel()  # the client left (or the poem is done): its rows leave the batch

        return EventSourceResponse(stream(), ping=15)

    @app.post("/check", summary="平/仄 and rhyme marks of a poem, and what breaks the rules (`tangpoet check`)")
    async def check(body: CheckRequest):
        if not checking.available():
            return error(404, "checking is not installed here (it needs tangpoet's check and the prosody plugin)")
        from starlette.concurrency import run_in_threadpool

        return JSONResponse(await run_in_threadpool(checking.check, body.text, body.form))

    @app.get("/health", summary="Liveness and load")
    async def health():
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

    @app.get("/info", summary="The model (as `tangpoet info --json`), installed decoders/cells/constraints, forms")
    async def get_info():
        return {**about, "check": checking.available(), "serve": limits}

    page = resources.files("tangpoet.serve").joinpath("static/index.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index():
        return HTMLResponse(page)

    return app
