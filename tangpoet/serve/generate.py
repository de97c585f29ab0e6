"""``POST /generate`` (the poems, as ``tangpoet write --json``) and ``POST /generate_stream`` (server-sent events: one
``char`` event per character, then ``done``): parse, hand to the scheduler, frame the answer.

A request stops — planning included — the moment its client leaves or its time limit passes: the job is cancelled
(:meth:`tangpoet.serve.jobs.Job.cancel`) and the answer (504, or nothing for a client that left) does not wait for it.
"""

# No ``from __future__ import annotations`` here: the endpoints' body type is this server's own request model, built
# at start-up, and FastAPI reads it from the annotation.

import asyncio
import json
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sse_starlette.sse import EventSourceResponse

from tangpoet.serve import mailboxes
from tangpoet.serve.errors import RESPONSES, error, require_json
from tangpoet.serve.jobs import Busy, Closing, Job, Scheduler
from tangpoet.serve.schemas import GenerateRequest, Poem
from tangpoet.writing import poem_record, resolve_seed

#: How often a waiting request looks at its client and its deadline (seconds).
WATCH_INTERVAL = 0.25
#: Seconds a request still running when the server is told to stop (SIGTERM, Ctrl-C) has to finish; then it is
#: stopped: a stream ends with an ``error`` event, a ``/generate`` with 503. uvicorn's graceful timeout is longer.
DRAIN_SECONDS = 3.0


def generate_router(
    scheduler: Scheduler, request_model: type[GenerateRequest], *, backend: str, model_path: str, time_limit: float
) -> APIRouter:
    """The two writing endpoints, for requests of ``request_model`` (:func:`tangpoet.serve.schemas.generate_request`)
    run by ``scheduler``; each poem names its model ``model_path`` (the server passes the file's name, not its
    path)."""
    router = APIRouter(dependencies=[Depends(require_json)], responses=RESPONSES)

    def submit(body: GenerateRequest, stream: bool, request: Request) -> tuple[Job, asyncio.Queue, int]:
        if scheduler.closing:
            raise Closing()
        seed = resolve_seed(body.seed)
        kwargs = body.write_kwargs(seed)
        events: asyncio.Queue = asyncio.Queue()
        mailbox = mailboxes.of(asyncio.get_running_loop())

        def sink(kind, payload):
            mailbox.post(events, (kind, payload))

        client = request.client.host if request.client else ""
        return scheduler.submit(kwargs, sink, stream=stream, exact=body.exact, client=client), events, seed

    def outcome(kind: str, payload) -> JSONResponse | None:
        if kind == "error":
            return error(*payload)
        if kind == "stopped":
            if payload == "time_limit":
                return error(504, f"the poem was not written within the server's time limit ({time_limit:g} s)")
            return error(503, "the server is shutting down", {"Retry-After": "5"})
        return None

    def final(payload, body: GenerateRequest, seed: int) -> tuple[list[dict[str, Any]], bool]:
        poems, searched = payload
        rows = [poem_record(p, decoder=body.decoder, seed=seed, backend=backend, model=model_path) for p in poems]
        return rows, searched

    @router.post("/generate", response_model=list[Poem], summary="Write poems (the objects of `tangpoet write --json`)")
    async def generate(body: request_model, request: Request):  # type: ignore[valid-type]
        try:
            job, events, seed = submit(body, False, request)
        except Busy as busy:
            return error(503, str(busy), {"Retry-After": str(busy.retry_after)})
        except Closing as closing:
            return error(503, str(closing), {"Retry-After": "5"})
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

    @router.post(
        "/generate_stream",
        summary="Write a poem as server-sent events: `char` per character, then `done` (or `error`)",
        response_class=EventSourceResponse,
        responses={200: {"description": "text/event-stream; `char` data: Char, `done` data: Final"}},
    )
    async def generate_stream(body: request_model, request: Request):  # type: ignore[valid-type]
        try:
            job, events, seed = submit(body, True, request)
        except Busy as busy:
            return error(503, str(busy), {"Retry-After": str(busy.retry_after)})
        except Closing as closing:
            return error(503, str(closing), {"Retry-After": "5"})
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
                job.cancel()  # the client left (or the poem is done): its work stops, its rows leave the batch

        # sse-starlette ends a stream when the server is told to stop: it waits for ours to end itself (it drains,
        # or sends `error` after DRAIN_SECONDS) rather than cutting it with neither `done` nor `error`.
        return _Events(job, stream(), ping=15, shutdown_grace_period=DRAIN_SECONDS + 1)

    return router


class _Events(EventSourceResponse):
    """The stream's response; its job is cancelled however the response ends — also when the client left before the
    stream's generator first ran (its ``finally`` never runs then, and the job went on writing for nobody until its
    time limit, holding a slot)."""

    def __init__(self, job: Job, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.job = job

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.job.cancel()


async def next_event(events: asyncio.Queue, job: Job, request: Request | None):
    """The job's next event; ``None`` if the client went away first (``request=None``: not watched here —
    sse-starlette watches a stream). Past its deadline the job is cancelled and ``("stopped", "time_limit")`` comes at
    once: the answer never waits for work that is being stopped."""
    while True:
        if not events.empty():
            return events.get_nowait()
        now = time.monotonic()
        left = job.deadline - now
        if left <= 0:
            job.cancel("time_limit")
            return ("stopped", "time_limit")
        if job.drain is not None and now >= job.drain[0]:  # shutting down, its grace spent: stopped, answered now
            job.cancel("shutdown")
            return ("stopped", "shutdown")
        left = min(left, (job.drain[0] - now) if job.drain is not None else left)
        try:
            return await _get(events, min(WATCH_INTERVAL, left))
        except asyncio.TimeoutError:
            if request is not None and await request.is_disconnected():
                job.cancel("disconnected")
                return None


async def _get(queue: asyncio.Queue, timeout: float):
    """``queue.get()`` within ``timeout`` seconds (``asyncio.TimeoutError`` past it)."""
    if hasattr(asyncio, "timeout"):  # Python >= 3.11: no task per call, unlike asyncio.wait_for
        async with asyncio.timeout(timeout):
            return await queue.get()
    return await asyncio.wait_for(queue.get(), timeout)
