"""Handing events from the engine's threads to the server's event loop, one wake-up per burst.

The engine thread produces the characters of every request in flight at each step — with 16 clients, 16 events
within microseconds. ``loop.call_soon_threadsafe`` per event wakes the event loop (a write to its self-pipe) once per
event; a :class:`Mailbox` collects them and wakes the loop once for all that arrived before it ran.
"""

from __future__ import annotations

import asyncio
import threading
import weakref


class Mailbox:
    """Events posted from any thread, delivered into their asyncio queues on one event loop, in posting order."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._lock = threading.Lock()
        self._pending: list[tuple[asyncio.Queue, object]] = []
        self._scheduled = False

    def post(self, queue: asyncio.Queue, item) -> None:
        with self._lock:
            self._pending.append((queue, item))
            if self._scheduled:
                return  # a delivery is already on its way: it will take this one too
            self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._deliver)
        except RuntimeError:  # the loop is closed (the server stopped): nobody is listening any more
            with self._lock:
                self._pending.clear()
                self._scheduled = False

    def _deliver(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            self._scheduled = False
        for queue, item in pending:
            queue.put_nowait(item)


_MAILBOXES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def of(loop: asyncio.AbstractEventLoop) -> Mailbox:
    """The mailbox of ``loop`` (one per event loop)."""
    with _LOCK:
        box = _MAILBOXES.get(loop)
        if box is None:
            box = _MAILBOXES[loop] = Mailbox(loop)
        return box
