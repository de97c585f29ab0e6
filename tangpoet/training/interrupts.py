"""Ctrl-C during ``fit``: never lost, on every backend (issue 23, defect 1).

**The cause.** Keras turns each batch's logs into Python numbers in ``keras.src.utils.python_utils.pythonify_logs``
(called by ``CallbackList.on_train_batch_end`` before any callback sees the logs), inside ``try: ... except: pass``
(a bare ``except``: it catches ``KeyboardInterrupt`` too). On JAX the train step is dispatched asynchronously, so the
main thread spends nearly all of a batch *inside that try*, blocked in ``np.array(loss)`` until the step's result is
ready (py-spy: ``convert_to_numpy`` ← ``pythonify_logs`` ← ``CallbackList._on_train_batch_end`` ←
``JAXTrainer.fit``). A SIGINT then raises ``KeyboardInterrupt`` there, Keras discards it, and the run trains every
epoch and exits 0. On torch and TensorFlow the step runs synchronously before ``pythonify_logs``, so a Ctrl-C almost
always lands outside that ``try``: the same loss is possible there, only rarer.

**The fix.** :class:`StopOnInterrupt` is both a context manager and a Keras callback:

- armed (``with stop.armed():`` around the epochs' ``Model.fit`` calls, in the main thread, and only while Python's
  own SIGINT handler is installed), a Ctrl-C *records* the request and then raises ``KeyboardInterrupt`` at once,
  exactly as Python's handler does;
- as a callback it raises ``KeyboardInterrupt`` again at every batch and epoch boundary (and on leaving the armed
  block) once a request is recorded. A ``KeyboardInterrupt`` that reached ``fit`` normally has ended it already; if
  the callback is still being called, a library swallowed it, and the run stops at the end of that batch instead.

Why raise at once, rather than only set a flag for the callback (measured on CPU, JAX 0.10, a 2-core machine under
load): every new batch shape compiles the train step, and JAX waits for an XLA compilation in a way that a raising
handler interrupts. A SIGINT sent as XLA starts compiling (1 × 256 LSTM) ends ``tangpoet fit`` with status 130 in
0.2 s this way, and in 11.1 s with a flag-only handler (the whole 10.5 s compilation, then the first step); a 2 × 512
LSTM compiles 9–13 s per batch shape, 8 shapes in its first epoch on 1,000 Tang poems. So raising keeps every place
where Python could already stop (compilation, validation, reading batches) as fast as it was, and the flag adds a
stop where a library swallowed the interrupt, in the same batch (the callback runs right after ``pythonify_logs``).
That stop comes when the step in flight ends: the wait for a JAX result runs no Python handler (2 × 512 LSTM,
SIGINT while waiting: status 130 after 7 s, one step of that loaded machine; before the fix, status 0 after 543 s
and all 3 epochs). The callback does not declare itself ``async_safe``, so Keras calls the batch hooks in the main
thread, where ``KeyboardInterrupt`` must be raised.

A second Ctrl-C needs nothing more: each one raises at once. After the epochs (``fit`` stopped by a Ctrl-C, by early
stopping or after its last epoch) the model with the best weights is saved, under the handler that
:meth:`StopOnInterrupt.armed` leaves until ``train`` returns (:meth:`StopOnInterrupt.restore`): the run's *first*
Ctrl-C, coming during that save, lets it finish, and ``fit`` then ends with 130 as interrupted (seen once: a ``fit``
under ``timeout -s INT`` stopped early after 4 epochs, the time limit's SIGINT came during the save, aborted it and
left no model file). A Ctrl-C after an earlier one aborts the save, which is atomic (written beside, then renamed), so
the model file is either complete or absent and the checkpoint is untouched. A SIGINT within :data:`REPEAT_SECONDS` of
the previous one is the same interrupt delivered twice and is ignored. Where Python cannot run a handler at all (a C
call that never returns), the command line's watchdog ends the process (``tangpoet/training/watchdog.py``).

A SIGINT handler that is not Python's default (``SIG_IGN`` in a background job without job control, or an
application's own handler) is left as it is: the caller chose what Ctrl-C means.

**Test hook.** With the environment variable ``TANGPOET_TEST_BATCH_MARKS=1`` the callback writes
``tangpoet-test: epoch E batch B begins`` (both from 1) to standard error, flushed, before each training batch. The
signal tests (tests/test_fit_signals.py) wait for these lines to send a real SIGINT to a real ``tangpoet fit`` at a
known moment. It changes nothing else.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

from tangpoet.backend import ensure_backend

ensure_backend()
import keras  # noqa: E402

TEST_MARKS_ENV = "TANGPOET_TEST_BATCH_MARKS"
REPEAT_SECONDS = 0.5  # a SIGINT this soon after the first is the same interrupt delivered twice (timeout -s INT)


class StopOnInterrupt(keras.callbacks.Callback):
    """Makes a Ctrl-C end ``Model.fit`` with ``KeyboardInterrupt``, even where a library swallowed it (see above)."""

    def __init__(self):
        super().__init__()
        self.requested = False  # a SIGINT arrived while armed
        self._first: float | None = None  # time.monotonic() of that SIGINT
        self._previous = None  # the handler armed() replaced, until restore()
        self._epoch = 0
        self._marks = os.environ.get(TEST_MARKS_ENV) == "1"

    # -------------------------------------------------------------------------------------- the signal handler
    def _repeated(self) -> bool:
        return self._first is not None and time.monotonic() - self._first < REPEAT_SECONDS

    def _record(self) -> None:
        self.requested = True
        self._first = time.monotonic()

    def _handle(self, signum, frame):
        if self._repeated():
            return  # the same interrupt, delivered twice
        self._record()
        raise KeyboardInterrupt

    def _after(self, signum, frame):
        """After the armed block, while the trained model is saved: the run's first Ctrl-C is recorded and lets the
        save finish; a later one raises as Python's own handler does (a repeated delivery is ignored)."""
        if self._repeated():
            return
        if not self.requested:
            self._record()
            return
        signal.default_int_handler(signum, frame)

    @contextlib.contextmanager
    def armed(self) -> Iterator[StopOnInterrupt]:
        """Install the handler for the block (main thread, Python's default handler only); on leaving it normally
        with a request recorded (swallowed after the last batch hook), raise ``KeyboardInterrupt``. The block leaves
        :meth:`_after` installed for the save that follows: call :meth:`restore` when done."""
        previous = None
        if threading.current_thread() is threading.main_thread():
            current = signal.getsignal(signal.SIGINT)
            if current is signal.default_int_handler:
                previous = current
                signal.signal(signal.SIGINT, self._handle)
        try:
            yield self
        finally:
            if previous is not None:
                self._previous = previous
                signal.signal(signal.SIGINT, self._after)
        self.check()

    def restore(self) -> None:
        """Put back the SIGINT handler :meth:`armed` replaced (if it left :meth:`_after` in its place)."""
        if self._previous is not None:
            if signal.getsignal(signal.SIGINT) == self._after:
                signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if a Ctrl-C arrived (and was not allowed to end the run)."""
        if self.requested:
            raise KeyboardInterrupt

    # -------------------------------------------------------------------------------------- the callback
    def on_train_begin(self, logs=None):
        self.check()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self.check()

    def on_train_batch_begin(self, batch, logs=None):
        self.check()
        if self._marks:
            sys.stderr.write(f"tangpoet-test: epoch {self._epoch + 1} batch {batch + 1} begins\n")
            sys.stderr.flush()

    def on_train_batch_end(self, batch, logs=None):
        self.check()

    def on_train_end(self, logs=None):
        self.check()

