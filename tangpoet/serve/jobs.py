"""Requests in flight: admission (a bounded queue), one worker thread per running request, deadlines, cancellation,
and the events a request produces (``ready``, ``char``, ``done``, ``error``).

A request is written by the library's own :func:`tangpoet.writing.write`, handed the request's own step decoder
through its public ``stepper`` parameter (a :class:`~tangpoet.serve.engine.ProxyStepper`): ``write()`` checks the
request, plans its constraints and runs its decoder exactly as ``tangpoet write`` does, while the model's steps run on
the engine thread, batched with everyone else's.

A request is stopped — its client left, or its time ran out — wherever it is: its ``write()`` runs inside a
:func:`tangpoet.decoding.cancellation.cancellable` scope whose check is the job's, so the planner stops at its next step, and
the engine drops its rows at the next model call.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from tangpoet.decoding.cancellation import cancellable
from tangpoet.errors import TangpoetError
from tangpoet.serve.engine import BatchEngine, ProxyStepper, Stopped

log = logging.getLogger("tangpoet.serve")


class Busy(Exception):
    """The queue is full: the client should retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int):
        super().__init__("the server is busy: too many requests are waiting; retry later")
        self.retry_after = retry_after


class Job:
    """One request: its ``write()`` arguments, its deadline, its cancel flag, and a sink for its events."""

    def __init__(
        self, kwargs: dict[str, Any], sink: Callable[[str, Any], None], deadline: float, stream: bool, exact: bool
    ):
        self.kwargs = kwargs
        self.exact = exact  # its model calls run alone (bit for bit write()), not fused with other requests'
        self.sink = sink
        self.deadline = deadline
        self.stream = stream
        self.cancelled: str | None = None  # why it was stopped: "disconnected" or "time_limit"
        self.started = False
        self.stepper: ProxyStepper | None = None
        self.submitted = time.monotonic()

    def cancel(self, reason: str = "disconnected") -> None:
        """Stop the request (its client went away, or its time ran out): its planning stops at the planner's next
        step, its decoding at its next model call, and its rows leave the batch."""
        if self.cancelled is None:
            self.cancelled = reason

    def check(self) -> None:
        """Raises :class:`Stopped` once the request is to stop: called by the planner (through
        :func:`tangpoet.decoding.cancellation.checkpoint`), the request's step decoder and the engine before each model call."""
        if self.cancelled is not None:
            raise Stopped(self.cancelled)
        if time.monotonic() > self.deadline:
            raise Stopped("time_limit")

    def begin(self) -> None:
        """Decoding starts (the request passed every check ``write()`` makes): tell the client once."""
        if not self.started:
            self.started = True
            self.sink("ready", None)

    def char(self, row: int, index: int, char: str, logprob: float | None) -> None:
        if self.stream:
            if self.kwargs.get("script"):  # the poem is converted when it is done; each character as it comes
                from tangpoet.data.script import convert

                char = convert(char, self.kwargs["script"])
            self.sink("char", {"index": index, "char": char, "logprob": logprob, "row": row})


class Scheduler:
    """Admits requests (at most ``max_active`` running, ``max_queue`` waiting; beyond that :class:`Busy`) and runs
    each in its own thread against the shared :class:`BatchEngine`."""

    def __init__(self, model, engine: BatchEngine, *, max_active: int = 64, max_queue: int = 64, time_limit: float = 60):
        self.model = model
        self.engine = engine
        self.max_active = int(max_active)
        self.max_queue = int(max_queue)
        self.time_limit = float(time_limit)
        self._lock = threading.Lock()
        self._waiting: list[Job] = []
        self._running = 0
        self._idle = 0  # worker threads waiting for a request
        self._handoff: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self.served = 0
        self.rejected = 0

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def submit(
        self, kwargs: dict[str, Any], sink: Callable[[str, Any], None], *, stream: bool, exact: bool | None = None
    ) -> Job:
        exact = self.engine.mode == "exact" if exact is None else bool(exact)
        job = Job(kwargs, sink, time.monotonic() + self.time_limit, stream, exact)
        with self._lock:
            if self._running < self.max_active:
                self._running += 1
                self._launch(job)
            elif len(self._waiting) < self.max_queue:
                self._waiting.append(job)
            else:
                self.rejected += 1
                raise Busy(retry_after=max(1, int(round(self.time_limit / 10))))
        return job

    def _launch(self, job: Job) -> None:
        """Run ``job`` on an idle worker thread, or a new one (called with the lock held). Workers are kept: starting a
        thread per request cost the event loop ~1 ms a request under load."""
        if self._idle:
            self._idle -= 1
            self._handoff.put(job)
        else:
            threading.Thread(target=self._work, args=(job,), name="tangpoet-request", daemon=True).start()

    def _work(self, job: Job) -> None:
        while True:
            self._run(job)
            with self._lock:
                job = self._next()
            if job is None:
                job = self._handoff.get()

    def _next(self) -> Job | None:
        """The next waiting request for a worker that just finished one (lock held), or None: the worker idles."""
        while self._waiting:
            job = self._waiting.pop(0)
            if not job.cancelled:
                return job
        self._running -= 1
        self._idle += 1
        return None

    def _run(self, job: Job) -> None:
        from tangpoet.serve.errors import api_message
        from tangpoet.writing import write

        try:
            job.check()
            stepper = ProxyStepper(self.engine.stepper, self.engine, job)
            job.stepper = stepper
            with cancellable(job.check):
                poems = write(self.model, stepper=stepper, **job.kwargs)
            job.sink("done", (poems, stepper.searching))
        except Stopped as stop:
            job.sink("stopped", stop.reason)
        except TangpoetError as exc:
            job.sink("error", (400, api_message(exc)))
        except Exception as exc:  # noqa: BLE001 - a bug: one line to the client, the server keeps running
            job.sink("error", (500, f"internal error: {type(exc).__name__}"))
            log.exception("internal error")
        finally:
            self.engine.leave(job)
            job.stepper = None  # what the request held (its rows' log-probs) goes with it
            with self._lock:
                self.served += 1
