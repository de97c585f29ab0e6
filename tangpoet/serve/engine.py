"""The batching engine: one thread owns the model's :class:`~tangpoet.decoding.stepper.StepDecoder` and runs the
step calls of every request in flight.

Each request runs the library's own :func:`tangpoet.writing.write` in a worker thread (so every decoder, constraint
and seed behaves exactly as on the command line), handed a :class:`ProxyStepper` as its step decoder (``write``'s
``stepper`` parameter): a step decoder whose ``step`` calls are handed to the engine thread instead of running the
model. The engine collects the step calls of all live requests and runs them together — *continuous batching*: a
request joins at the next step and leaves when its ``write()`` returns.

The engine thread makes nothing but step calls, so no request holds up another by more than one step. A prompt is
fed one token per step, its row joining everyone's shared call (a 200-character ``begin`` costs the others one row
per step, not a 200-token prefill they wait for). A request with ``"exact": true`` prefills its prompt as ``write()``
alone does — in its own thread, beside the engine (one prefill at a time), never on the engine thread.

A decoder that only chooses tokens (greedy, sample, top-k, top-p, a plugin overriding ``choose``) hands its whole
loop to the engine as a :class:`~tangpoet.decoding.base.Rollout` (``ProxyStepper.run_rollout``): the engine thread
advances every such request's rollout itself between model calls — no thread switch per character, which with
many requests was as costly as the model call. A search (beam) keeps its own loop in its request thread and sends
its step calls.

Two ways to run the collected calls, chosen per request (``"exact": true`` in its body) with the server's
``--batching`` (``mode``) as the default:

``fused`` (the default)
    all rows of all requests in one call of the step function (rows padded to a power of two, so a compiling backend
    traces a few shapes only). One weight read serves every row: throughput grows with the number of clients. The
    float results of a matrix product depend on its batch size on every backend (the kernel and its summation order
    change with the shape), so a row's log-probabilities can differ from a lone run in the last bits (~1e-5): the
    same seed writes the same characters unless two choices are that close, and scores agree to about 1e-5.

``exact``
    the request's calls run alone, with exactly the shape ``write()`` alone would use: poems and scores are bit for
    bit those of ``tangpoet write`` with the same seed, whatever else is running. Requests still interleave step by
    step (nobody waits for a whole poem), but the arithmetic is not shared.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Sequence

import numpy as np

from tangpoet.decoding.cancellation import Cancelled
from tangpoet.decoding.stepper import StepDecoder
from tangpoet.data.vocab import BOS_ID, PAD_ID
from tangpoet.serve import memory

MODES = ("fused", "exact")
#: Seconds of idleness (after some work) before the engine gives freed memory back to the system.
IDLE_TRIM = 1.0


class Stopped(Cancelled):
    """Raised inside a request's work to stop it: its client left, or its time ran out (a
    :class:`~tangpoet.decoding.cancellation.Cancelled`, so nothing on the way swallows it)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason  # "disconnected" | "time_limit" | "shutdown"


class _Call:
    __slots__ = ("args", "done", "error", "job", "kind", "result", "since")

    def __init__(self, kind: str, job, args, waited: bool = True):
        self.kind = kind
        self.job = job
        self.args = args
        self.result = None
        self.error: BaseException | None = None
        # set when the call has run; a rollout's call (made and read by the engine thread itself) needs none
        self.done = threading.Event() if waited else _NO_WAIT
        self.since = time.monotonic()


class _NoWait:
    @staticmethod
    def set() -> None:
        pass


_NO_WAIT = _NoWait()


class _Driven:
    """A request's rollout, advanced by the engine thread: its prompt is fed first, then one token per row per step."""

    __slots__ = ("done", "error", "job", "log_probs", "proxy", "queue", "rollout", "state")

    def __init__(self, job, proxy, rollout, state, queue: list[int]):
        self.job = job
        self.proxy = proxy
        self.rollout = rollout
        self.queue = queue  # prompt tokens still to feed, one per step, before the rollout's own steps
        self.state = state
        self.log_probs: np.ndarray | None = None  # the model's answer to the last fed tokens
        self.error: BaseException | None = None
        self.done = threading.Event()


def _bucket(rows: int, cap: int) -> int:
    """The padded batch size for ``rows`` rows: the next power of two, or ``rows`` itself above ``cap``."""
    if rows >= cap:
        return rows
    size = 1
    while size < rows:
        size *= 2
    return min(size, cap)


class BatchEngine:
    """Runs the prefill and step calls of concurrent requests on one thread, batched across requests."""

    def __init__(self, stepper: StepDecoder, *, mode: str = "fused", max_batch: int = 64, max_wait: float = 0.02):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.stepper = stepper
        self.mode = mode
        self.max_batch = int(max_batch)
        self.max_wait = float(max_wait)
        self._cond = threading.Condition()
        self._prefill_lock = threading.Lock()  # exact requests' prefills: one at a time, beside the engine thread
        self._steps: list[_Call] = []
        self._live: set = set()  # jobs inside their decoding loop (they will call step again or leave)
        self._arriving: deque[_Driven] = deque()  # rollouts handed over, not yet admitted
        self._driven: list[_Driven] = []  # rollouts the engine advances (engine thread only)
        self._stopped = False
        self._warm: list[int] = [1] if mode == "exact" else self._buckets()
        # Seconds added before every model call: makes a tiny test model as slow as a real one (tests and demos of
        # the queue, the time limit and disconnects); 0 in normal use.
        self.step_delay = float(os.environ.get("TANGPOET_SERVE_STEP_DELAY", "0") or 0)
        if os.environ.get("TANGPOET_SERVE_MAX_WAIT"):
            self.max_wait = float(os.environ["TANGPOET_SERVE_MAX_WAIT"])
        # counters (read by /health and the tests)
        self.steps_run = 0
        self.rows_stepped = 0
        self.largest_batch = 0
        self.model_seconds = 0.0  # time spent inside model calls (the rest of a request's time is its own Python)
        self.trims = 0  # times memory was given back when idle
        self._warm_up(self._warm.pop(0))  # the one-row step, compiled before the server says it is listening
        self._thread = threading.Thread(target=self._loop, name="tangpoet-engine", daemon=True)
        self._thread.start()

    def _buckets(self) -> list[int]:
        sizes, size = [], 1
        while size < self.max_batch:
            sizes.append(size)
            size *= 2
        return sizes + [self.max_batch]

    # -- called from request threads ----------------------------------------------------------------------------
    def join(self, job) -> None:
        """``job`` starts decoding: until it :meth:`leave` s, a batch may wait for its next step call."""
        with self._cond:
            self._live.add(job)

    def prefill(self, job, prefix: np.ndarray, batch: int):
        """The state after ``prefix`` for ``batch`` rows, exactly as ``write()`` alone computes it — run in the
        caller's thread (an exact request's), beside the engine, one prefill at a time: never on the engine thread,
        where it would hold up every other request's steps."""
        with self._prefill_lock:
            job.check()
            if self._stopped:
                raise Stopped("shutdown")
            return self.stepper.start(prefix, batch)

    def step(self, job, tokens: np.ndarray, state):
        return self._submit(_Call("step", job, (tokens, state)))

    def drive(self, job, proxy, rollout, state, queue: list[int]) -> None:
        """Advance ``rollout`` on the engine thread, batched with everyone else's, until it ends (or stops): first the
        prompt tokens in ``queue`` from ``state``, one per step, then the tokens its decoder chooses."""
        driven = _Driven(job, proxy, rollout, state, queue)
        with self._cond:
            if self._stopped:
                raise Stopped("shutdown")
            self._arriving.append(driven)
            self._cond.notify_all()
        driven.done.wait()
        if driven.error is not None:
            raise driven.error

    def leave(self, job) -> None:
        """``job`` has finished decoding (or stopped): the batch no longer waits for it."""
        with self._cond:
            self._live.discard(job)
            self._cond.notify_all()

    def _submit(self, call: _Call):
        with self._cond:  # the lists are looked up under the lock: the engine swaps self._steps for a new list
            if self._stopped:
                raise Stopped("shutdown")
            self._steps.append(call)
            self._cond.notify_all()
        call.done.wait()
        if call.error is not None:
            raise call.error
        return call.result

    def close(self) -> None:
        """Stop the engine thread and wait for it: it ends after the model call or the warm-up (compiling a batch
        shape while idle) in progress. Waiting only 5 s let the interpreter exit while a JAX or TensorFlow compile was
        still running in this daemon thread: then the exit could hang (a Ctrl-C after a stream, when the idle engine
        had just begun warming the next shape, did not stop the server)."""
        with self._cond:
            self._stopped = True
            self._warm = []  # no further warm-up
            self._cond.notify_all()
        self._thread.join(timeout=120)

    @property
    def live(self) -> int:
        return len(self._live) + len(self._driven) + len(self._arriving)

    # -- the engine thread --------------------------------------------------------------------------------------
    def _ready(self) -> bool:
        """Step now when every live request is waiting for its step, or the oldest call has waited ``max_wait``."""
        if not self._steps:
            return False
        waiting = {call.job for call in self._steps}
        if self._live <= waiting:
            return True
        return time.monotonic() - self._steps[0].since >= self.max_wait

    def _loop(self) -> None:
        worked = False  # since memory was last given back
        while True:
            with self._cond:
                while not (self._stopped or self._arriving or self._driven or self._ready()):
                    if not self._steps and self._warm:
                        break  # idle: compile the next batch shape
                    timeout = None
                    if self._steps:
                        timeout = max(self.max_wait - (time.monotonic() - self._steps[0].since), 0.0005)
                    elif worked:
                        timeout = IDLE_TRIM  # nothing to do: give memory back if it stays so
                    if not self._cond.wait(timeout) and worked and not (self._steps or self._live):
                        memory.trim()  # idle for IDLE_TRIM seconds after some work (tangpoet.serve.memory)
                        self.trims += 1
                        worked = False
                worked = True
                if self._stopped:
                    pending = self._steps
                    self._steps = []
                    for call in pending:
                        call.error = Stopped("shutdown")
                        call.done.set()
                    for driven in [*self._arriving, *self._driven]:
                        self._finish(driven, Stopped("shutdown"))
                    self._arriving.clear()
                    self._driven = []
                    return
                # Rollouts never wait: with some in flight, the step calls of searches join whenever they are there.
                ready = self._ready() or bool(self._driven or self._arriving)
                arriving = list(self._arriving)
                self._arriving.clear()
                steps = self._steps if ready else []
                if steps:
                    self._steps = []
                busy = steps or arriving or self._driven
                warm = self._warm.pop(0) if not busy and self._warm else None
            if warm is not None:
                self._warm_up(warm)
            for driven in arriving:
                self._admit(driven)
            fed = self._advance()
            self._driven = [driven for driven, _ in fed]
            if steps or fed:
                self._run_steps([call for _, call in fed] + steps)
            for driven, call in fed:
                self._answered(driven, call)

    # -- rollouts (engine thread) -------------------------------------------------------------------------------
    def _finish(self, driven: _Driven, error: BaseException | None = None) -> None:
        driven.error = error
        driven.done.set()

    def _admit(self, driven: _Driven) -> None:
        """Start a rollout: it joins the next step (its state and the prompt tokens left to feed come with it)."""
        try:
            driven.job.check()
        except BaseException as exc:  # noqa: BLE001 - handed to the request's own thread
            self._finish(driven, exc)
            return
        self._driven.append(driven)

    def _advance(self) -> list[tuple[_Driven, _Call]]:
        """Every live rollout's next step call: its next prompt token, or the tokens its decoder chooses. The rows of
        requests whose decoders choose alike (same decoder and options) are chosen in one ``choose_many`` call, each
        request drawing from its own generator (the same tokens as alone); a rollout that has ended leaves."""
        fed: list[tuple[_Driven, _Call]] = []
        groups: dict = {}
        for driven in self._driven:
            rollout = driven.rollout
            try:
                driven.job.check()
                if driven.queue:  # the prompt
                    rows = rollout.rows if driven.job.exact else 1
                    tokens = np.full(rows, driven.queue.pop(0), dtype=np.int32)
                    fed.append((driven, _Call("step", driven.job, (tokens, driven.state), waited=False)))
                    continue
                processed = rollout.propose(driven.log_probs)
            except BaseException as exc:  # noqa: BLE001 - handed to the request's own thread
                self._finish(driven, exc)
                continue
            if processed is None:
                self._finish(driven)
                continue
            key = rollout.decoder.batch_key()
            groups.setdefault(("alone", id(driven)) if key is None else key, []).append((driven, processed))
        for members in groups.values():
            try:
                chosen = members[0][0].rollout.decoder.choose_many(
                    [processed for _, processed in members], [driven.rollout.rng for driven, _ in members]
                )
            except BaseException as exc:  # noqa: BLE001
                for driven, _ in members:
                    self._finish(driven, exc)
                continue
            for (driven, _), choice in zip(members, chosen):
                try:
                    tokens = driven.rollout.take(choice)
                    if tokens is None:
                        self._finish(driven)
                        continue
                    driven.proxy.report(tokens, driven.log_probs)
                except BaseException as exc:  # noqa: BLE001
                    self._finish(driven, exc)
                    continue
                fed.append((driven, _Call("step", driven.job, (tokens.astype(np.int32), driven.state), waited=False)))
        return fed

    def _answered(self, driven: _Driven, call: _Call) -> None:
        if call.error is not None:
            self._driven.remove(driven)
            self._finish(driven, call.error)
            return
        driven.log_probs, driven.state = call.result
        rows = driven.rollout.rows
        if not driven.queue and driven.log_probs.shape[0] != rows:  # the prompt was fed on one row: now `rows`
            driven.log_probs = np.repeat(driven.log_probs, rows, axis=0)
            driven.state = StepDecoder.reorder(driven.state, np.zeros(rows, dtype=np.int64))

    def _warm_up(self, rows: int) -> None:
        try:
            self.stepper.step(np.full(rows, PAD_ID, dtype=np.int32), self.stepper.initial_state(rows))
        except Exception:  # noqa: BLE001 - warming is an optimisation; a real call reports any real error
            pass

    @staticmethod
    def _run(call: _Call, fn) -> None:
        try:
            call.result = fn(call)
        except BaseException as exc:  # noqa: BLE001 - handed to the request's own thread
            call.error = exc
        call.done.set()

    def _run_steps(self, calls: list[_Call]) -> None:
        if self.step_delay > 0:
            time.sleep(self.step_delay)
        together = []
        for call in calls:
            if call.job.exact:  # alone: the very shape write() alone would use
                self._count(call.args[0].shape[0], call.args[0].shape[0])
                began = time.perf_counter()
                self._run(call, lambda c: self.stepper.step(*c.args))
                self.model_seconds += time.perf_counter() - began
            else:
                together.append(call)
        group: list[_Call] = []
        rows = 0
        for call in together:
            n = call.args[0].shape[0]
            if group and rows + n > self.max_batch:
                self._fused(group)
                group, rows = [], 0
            group.append(call)
            rows += n
        if group:
            self._fused(group)

    def _count(self, rows: int, padded: int) -> None:
        self.steps_run += 1
        self.rows_stepped += rows
        self.largest_batch = max(self.largest_batch, rows)

    def _fused(self, calls: list[_Call]) -> None:
        """One step for all rows of ``calls``, padded to a bucket; each call gets its own rows back."""
        sizes = [call.args[0].shape[0] for call in calls]
        rows = sum(sizes)
        padded = _bucket(rows, self.max_batch)
        try:
            tokens = np.full(padded, PAD_ID, dtype=np.int32)
            tokens[:rows] = np.concatenate([call.args[0] for call in calls])
            pad_state = self.stepper.initial_state(padded - rows) if padded > rows else None
            state = []
            for layer in range(len(calls[0].args[1])):
                parts = []
                for k in range(len(calls[0].args[1][layer])):
                    pieces = [np.asarray(call.args[1][layer][k], dtype=np.float32) for call in calls]
                    if pad_state is not None:
                        pieces.append(pad_state[layer][k])
                    parts.append(np.concatenate(pieces, axis=0))
                state.append(tuple(parts))
            began = time.perf_counter()
            log_probs, new_state = self.stepper.step(tokens, state)
            self.model_seconds += time.perf_counter() - began
        except BaseException as exc:  # noqa: BLE001
            for call in calls:
                call.error = exc
                call.done.set()
            return
        self._count(rows, padded)
        offset = 0
        for call, n in zip(calls, sizes):
            rows_of = slice(offset, offset + n)
            call.result = (log_probs[rows_of], [tuple(s[rows_of] for s in layer) for layer in new_state])
            offset += n
            call.done.set()


class ProxyStepper(StepDecoder):
    """A request's step decoder: model calls go to the :class:`BatchEngine`; characters are reported as chosen.

    Decoders see an ordinary :class:`StepDecoder` (``prime``, ``start``, ``step``, ``reorder``). Each ``step`` after
    the prompt feeds the tokens the decoder just chose, one per row — those are streamed (with the log-probability
    the model gave them). A decoder that reorders rows (a search such as beam) streams nothing while it runs: its
    rows are hypotheses, not the poem; its best poem is sent when the search ends.
    """

    def __init__(self, real: StepDecoder, engine: BatchEngine, job):
        self._real = real
        self._engine = engine
        self._job = job
        self.model = real.model
        self.vocab = real.vocab
        self.vocab_size = real.vocab_size
        self.state_counts = real.state_counts
        self.searching = False
        self._last: np.ndarray | None = None
        self._prompt: np.ndarray | None = None
        self._emitted = None  # characters streamed so far, per row

    def initial_state(self, batch: int):
        return self._real.initial_state(batch)

    def titled(self, context):
        """This request's proxy with ``context`` (a title) fed before every prefix: set in place (one per request)."""
        self.context = np.asarray(context, dtype=np.int32).reshape(-1)
        return self

    def _begin(self) -> None:
        """Decoding starts: the request passed every check ``write()`` makes."""
        self._job.check()
        self._job.begin()

    def start(self, prefix_ids: Sequence[int], batch: int = 1, context: Sequence[int] | None = None):
        """The state after ``prefix_ids`` for ``batch`` rows: fed one token per step in the engine's shared calls, or
        (exact) prefilled as ``write()`` alone does, beside the engine (``context``: as :meth:`StepDecoder.start`)."""
        self._begin()
        self._engine.join(self._job)  # its step calls come from this thread: a batch may wait for them
        context = self.context if context is None else np.asarray(context, dtype=np.int32).reshape(-1)
        prefix = np.concatenate([context, np.asarray(prefix_ids, dtype=np.int32).reshape(-1)]).astype(np.int32)
        if self._job.exact:
            return self._engine.prefill(self._job, prefix, int(batch))
        state = self._real.initial_state(1)
        for token in prefix:
            _, state = self._engine.step(self._job, np.full(1, token, dtype=np.int32), state)
        return StepDecoder.reorder(state, np.zeros(int(batch), dtype=np.int64))

    def prime(self, prefix_ids: Sequence[int], batch: int = 1):
        prefix = np.asarray(prefix_ids, dtype=np.int32).reshape(-1)
        if prefix.size == 0:
            raise ValueError("prime needs at least one token (usually <bos>)")
        state = self.start(prefix[:-1], batch)
        tokens = np.full(int(batch), prefix[-1], dtype=np.int32)
        log_probs, state = self._engine.step(self._job, tokens, state)
        self._last = log_probs
        self._prompt = prefix[1:] if prefix[0] == BOS_ID else prefix
        return log_probs, state

    def step(self, tokens, state):
        self._job.check()
        tokens = np.asarray(tokens, dtype=np.int32).reshape(-1)
        if not self.searching and self._last is not None and self._last.shape[0] == tokens.shape[0]:
            self._report(tokens)
        log_probs, state = self._engine.step(self._job, tokens, state)
        self._last = log_probs
        return log_probs, state

    def reorder(self, state, indices):
        self.searching = True
        return StepDecoder.reorder(state, indices)

    def mark_search(self) -> None:
        """The rows stepped from now on are candidates, not the poem (``write --candidates``: best-of-N): nothing is
        streamed while they are written and scored; the chosen poems are sent at the end, like a search's."""
        self.searching = True

    def run_rollout(self, rollout) -> None:
        """A decoder's whole loop (:meth:`Decoder.decode`), advanced by the engine thread with everyone else's: the
        prompt fed one token per step on one row (exact: prefilled here as ``write()`` alone does, then its last
        token on every row)."""
        self._begin()
        self._prompt = rollout.prefix[1:]
        prefix = [int(t) for t in self.context] + [int(t) for t in rollout.prefix]  # a title first (titled)
        if self._job.exact:
            state = self._engine.prefill(self._job, np.asarray(prefix[:-1], dtype=np.int32), rollout.rows)
            queue = prefix[-1:]
        else:
            state, queue = self._real.initial_state(1), prefix
        self._engine.drive(self._job, self, rollout, state, queue)

    def report(self, tokens: np.ndarray, log_probs: np.ndarray) -> None:
        """Stream ``tokens`` (one per row, about to be fed), chosen from ``log_probs`` (the model's, unprocessed) —
        unless the rows are candidates (:meth:`mark_search`)."""
        self._last = log_probs
        if not self.searching:
            self._report(tokens)

    def _report(self, tokens: np.ndarray) -> None:
        vocab = self.vocab
        if self._emitted is None:
            self._emitted = [0] * tokens.shape[0]
            for row in range(tokens.shape[0]):
                for token in self._prompt if self._prompt is not None else ():
                    self._job.char(row, self._emitted[row], vocab.decode([int(token)]), None)
                    self._emitted[row] += 1
        for row, token in enumerate(tokens):
            token = int(token)
            if token == PAD_ID:
                continue
            self._job.char(row, self._emitted[row], vocab.decode([token]), float(self._last[row, token]))
            self._emitted[row] += 1
