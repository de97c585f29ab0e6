"""After a Ctrl-C, a ``tangpoet fit`` that cannot stop is ended anyway (the command line's last resort).

:class:`~tangpoet.training.interrupts.StopOnInterrupt` makes a Ctrl-C end ``fit`` wherever Python runs. Where the main
thread is stuck in a C call that never returns (a library's own deadlock: once in CI a TensorFlow ``fit`` printed
nothing more for 120 s after a Ctrl-C during its first step, and was killed), no Python handler ever runs.
:func:`exit_if_stuck` covers that in the command line: a thread that learns of each SIGINT at the C level
(``signal.set_wakeup_fd``) waits :data:`GRACE_SECONDS` after the first one; if the block it guards has not ended by
then, it writes one line and every thread's Python stack (``faulthandler``) to standard error, runs its cleanup (the
output lock) and ends the process with status 130. Everything ``fit`` writes is atomic, so the files are as the last
finished save left them. The block ending normally disarms it, so a library caller whose ``train`` returned after a
Ctrl-C is never ended by it.

No Keras here: the command line arms it before the backend is imported.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

GRACE_SECONDS = 30.0  # after a Ctrl-C: how long the process may take to stop by itself (a step in flight, a save)
STUCK = "fit did not stop within {seconds:g} s of Ctrl-C (stuck in a library call): ending the process now"


@contextlib.contextmanager
def exit_if_stuck(cleanup: Callable[[], None] | None = None, grace: float = GRACE_SECONDS) -> Iterator[None]:
    """Inside the block, a SIGINT starts a ``grace``-second countdown; if the block has not ended by then, the
    process writes why (and the threads' stacks) to stderr, calls ``cleanup`` and exits with status 130 (see above).

    Armed only in the main thread, while SIGINT has a Python handler (not ignored, not the system default) and no
    other wakeup fd is set (an asyncio loop's, say): otherwise it changes nothing."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) in (
        signal.SIG_IGN, signal.SIG_DFL, None
    ):
        yield
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    if previous != -1:  # someone else's wakeup fd: leave it to them
        signal.set_wakeup_fd(previous)
        os.close(read_fd)
        os.close(write_fd)
        yield
        return
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(read_fd, done, cleanup, grace), daemon=True,
                               name="tangpoet-interrupt-watchdog")
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(-1)
        done.set()
        os.write(write_fd, b"\0")  # wakes a watcher still waiting for a signal (0 is no signal's number)
        watcher.join()
        os.close(read_fd)
        os.close(write_fd)


def _watch(read_fd: int, done: threading.Event, cleanup: Callable[[], None] | None, grace: float) -> None:
    while not done.is_set():
        try:
            data = os.read(read_fd, 64)
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for other platforms
            continue
        if signal.SIGINT in data and not done.is_set():
            break
    else:
        return
    if done.wait(grace):
        return
    try:
        sys.stderr.write(STUCK.format(seconds=grace) + "; the threads' stacks follow\n")
        sys.stderr.flush()
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    except Exception:  # noqa: BLE001 - a closed stderr: exit all the same
        pass
    if cleanup is not None:
        with contextlib.suppress(Exception):
            cleanup()
    os._exit(130)
