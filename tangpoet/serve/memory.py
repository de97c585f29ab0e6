"""Giving memory back to the system once the server is idle.

A server's request threads (up to ``--max-active`` of them) allocate and free many small arrays — log-probabilities,
masks, recurrent states — each thread in its own glibc malloc arena. Freed memory stays in the arena it came from, so
after a burst of requests (random disconnects made it worse: requests stopping half-way leave their pieces in
many arenas) the process kept every arena's high-water mark: measured 0.57 → 0.81 GB on the bundled model with 16
clients disconnecting at random for 60 s (``benchmarks/serve_disconnects.py``: the issue's 2.1 GB was on a larger
machine: glibc allows 8 arenas per core), and none of it came back when the server went idle — no Python object
was left behind (tracemalloc: +0.3 MB, the requests in flight). :func:`trim` asks glibc to return the free pages of every
arena (``malloc_trim(0)``); the engine calls it when it has had nothing to do for a second after some work, and
:func:`limit_arenas` caps the arenas at start-up. Elsewhere than glibc both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_ARENA_MAX = -8  # glibc's mallopt parameter

_libc = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _libc.malloc_trim  # noqa: B018 - glibc only (musl has none)
        _libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        _libc = None


def trim() -> bool:
    """Return the free memory of every malloc arena to the system; True if some was."""
    if _libc is None:
        return False
    return bool(_libc.malloc_trim(0))


def limit_arenas(count: int) -> bool:
    """At most ``count`` malloc arenas for threads created from now on (True if set)."""
    if _libc is None:
        return False
    return bool(_libc.mallopt(M_ARENA_MAX, int(count)))
