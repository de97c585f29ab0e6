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
from collections import Counter
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


class Closing(Exception):
    """The server is shutting down: it takes no new request."""

    def __init__(self):
        super().__init__("the server is shutting down")


class Job:
    """One request: its ``write()`` arguments, its deadline, its cancel flag, and a sink for its events."""

    def __init__(
        self,
        kwargs: dict[str, Any],
        sink: Callable[[str, Any], None],
        deadline: float,
        stream: bool,
        exact: bool,
        client: str = "",
    ):
        self.kwargs = kwargs
        self.client = client  # who sent it (the client's address): the unit of fairness
        self.exact = exact  # its model calls run alone (bit for bit write()), not fused with other requests'
        self.sink = sink
        self.deadline = deadline
        self.stream = stream
        self.cancelled: str | None = None  # why it was stopped: "disconnected" or "time_limit"
        self.started = False
        self.stepper: ProxyStepper | None = None
        self.submitted = time.monotonic()
        self.drain: list[float] | None = None  # the scheduler's: [when a shutdown stops every request], shared

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
        now = time.monotonic()
        if now > self.deadline:
            raise Stopped("time_limit")
        if self.drain is not None and now > self.drain[0]:  # the server is shutting down and its grace has passed
            self.cancel("shutdown")
            raise Stopped("shutdown")

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
    each in its own thread against the shared :class:`BatchEngine`.

    **Fair between clients** (a client: the address a request came from). A client alone may fill every slot; when
    others come, each gets its share:

    - a slot that frees goes to the waiting request of the client with the fewest requests running (then the fewest
      held; the oldest such request), not to the oldest request overall — a client that floods the queue waits
      behind everyone else's;
    - when the queue is full, a request from a client holding fewer requests (running and waiting) than the client
      holding the most takes the place of that client's newest waiting request, which is answered 503 with
      ``Retry-After`` (it had not started): a flood never locks a second client out.
    """

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
        self._held: Counter[str] = Counter()  # per client: requests running or waiting
        self._active: Counter[str] = Counter()  # per client: requests running
        self._closing = False
        self.drain = [float("inf")]  # when a shutdown stops what is still running (shared with every job)
        self.served = 0
        self.rejected = 0

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def retry_after(self) -> int:
        return max(1, int(round(self.time_limit / 10)))

    def submit(
        self,
        kwargs: dict[str, Any],
        sink: Callable[[str, Any], None],
        *,
        stream: bool,
        exact: bool | None = None,
        client: str = "",
    ) -> Job:
        exact = self.engine.mode == "exact" if exact is None else bool(exact)
        job = Job(kwargs, sink, time.monotonic() + self.time_limit, stream, exact, client)
        job.drain = self.drain
        bumped = None
        with self._lock:
            if self._closing:
                raise Closing()
            if self._running < self.max_active:
                self._start(job)
            elif len(self._waiting) < self.max_queue:
                self._waiting.append(job)
            elif (bumped := self._bump_for(client)) is not None:
                self._waiting.append(job)
            else:
                self.rejected += 1
                raise Busy(retry_after=self.retry_after)
            self._held[client] += 1
        if bumped is not None:
            bumped.cancel("bumped")
            bumped.sink("error", (503, str(Busy(self.retry_after)), {"Retry-After": str(self.retry_after)}))
        return job

    def close(self, grace: float) -> None:
        """The server is shutting down: no new request is taken (503); those running or waiting may finish within
        ``grace`` seconds, then each is stopped with ``("stopped", "shutdown")`` (a stream ends with an ``error``
        event, never cut). Safe in a signal handler: it takes no lock (two assignments)."""
        self._closing = True
        self.drain[0] = min(self.drain[0], time.monotonic() + float(grace))

    @property
    def closing(self) -> bool:
        return self._closing

    def _bump_for(self, client: str) -> Job | None:
        """The queue is full (lock held): the newest waiting request of the client holding the most requests, taken
        out of the queue for a request of ``client`` if ``client`` holds fewer; None if it holds as many."""
        waiting = Counter(job.client for job in self._waiting if not job.cancelled)
        if not waiting:
            return None
        top = max(waiting, key=lambda c: (self._held[c], c))
        if self._held[top] <= self._held[client] + 1:
            return None
        for i in range(len(self._waiting) - 1, -1, -1):
            if self._waiting[i].client == top:
                bumped = self._waiting.pop(i)
                self._release(bumped)
                self.rejected += 1
                return bumped
        return None

    def _start(self, job: Job) -> None:
        self._running += 1
        self._active[job.client] += 1
        self._launch(job)

    def _release(self, job: Job) -> None:
        """``job`` holds no slot any more (lock held)."""
        self._held[job.client] -= 1
        if self._held[job.client] <= 0:
            del self._held[job.client]

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
                self._release(job)
                self._active[job.client] -= 1
                if self._active[job.client] <= 0:
                    del self._active[job.client]
                job = self._next()
            if job is None:
                job = self._handoff.get()

    def _next(self) -> Job | None:
        """The next waiting request for a worker that just finished one (lock held), or None: the worker idles. Of the
        clients waiting, the one with the fewest requests running goes first (its oldest request)."""
        best = None

        def share(job: Job) -> tuple[int, int]:  # fewest running first, then fewest held
            return self._active[job.client], self._held[job.client]

        for i, job in enumerate(self._waiting):
            if job.cancelled:
                continue
            if best is None or share(job) < share(self._waiting[best]):
                best = i
        for job in [job for job in self._waiting if job.cancelled]:  # left before their turn: their places free
            self._release(job)
        if best is not None:
            job = self._waiting[best]
            self._waiting = [other for other in self._waiting if other is not job and not other.cancelled]
            self._active[job.client] += 1
            return job
        self._waiting = []
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
