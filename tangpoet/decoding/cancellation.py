"""Stopping a request's work from outside it: a scope that the library's long loops poll.

A front end that calls :func:`tangpoet.writing.write` for someone who may go away (the HTTP server: a client that
disconnects, a request past its time limit) opens a scope around the call with :func:`cancellable`; the planner and
the other loops of ``write()`` call :func:`checkpoint` between units of work, and ``checkpoint()`` calls the scope's
check, which raises to stop the work there. Outside a scope ``checkpoint()`` does nothing (the command line).

The scope is a :class:`contextvars.ContextVar`: it belongs to the thread (or task) that opened it, so requests in
other threads are not affected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_CHECK: ContextVar[Callable[[], None] | None] = ContextVar("tangpoet_cancellation_check", default=None)


class Cancelled(BaseException):
    """Base of what a scope's check raises. A :class:`BaseException` (like :class:`asyncio.CancelledError`), so that no
    ``except Exception`` on the way — a plugin's, a rule's that skips what fails — swallows it."""


@contextmanager
def cancellable(check: Callable[[], None]) -> Iterator[None]:
    """Within the block, :func:`checkpoint` calls ``check`` (which raises, e.g. a :class:`Cancelled`, to stop)."""
    token = _CHECK.set(check)
    try:
        yield
    finally:
        _CHECK.reset(token)


def checkpoint() -> None:
    """Called by long loops between units of work: the current scope's check (nothing outside a scope)."""
    check = _CHECK.get()
    if check is not None:
        check()
