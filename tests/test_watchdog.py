"""A Ctrl-C that cannot stop ``fit`` (the main thread stuck in C) still ends the process (training/watchdog.py).

Real processes and real signals: the stuck main thread is a glibc mutex locked twice through ctypes (a C call that
never returns and runs no Python handler, as a library's own deadlock would), the cleanup is the real output lock.
No Keras: the same on every backend.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tangpoet.training.watchdog import STUCK

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a glibc mutex and fork-free signals")

GRACE = 1.5

SCRIPT = textwrap.dedent(
    """
    import ctypes, signal, sys, time
    from tangpoet.training.output_guard import OutputLock
    from tangpoet.training.watchdog import exit_if_stuck

    signal.signal(signal.SIGINT, signal.default_int_handler)  # as a terminal starts it (a CI job may ignore SIGINT)
    stuck = sys.argv[2] == "stuck"
    with OutputLock(sys.argv[1]) as lock:
        try:
            with exit_if_stuck(cleanup=lock.release, grace={grace}):
                print("inside", flush=True)
                if stuck:
                    mutex = ctypes.create_string_buffer(64)  # zeroed: PTHREAD_MUTEX_INITIALIZER, a normal mutex
                    libc = ctypes.CDLL(None)
                    libc.pthread_mutex_lock(mutex)
                    libc.pthread_mutex_lock(mutex)  # locked twice: never returns, no Python handler runs
                time.sleep(60)
        except KeyboardInterrupt:
            print("interrupted and handled", flush=True)
        time.sleep({grace} + 1.5)  # longer than the grace: a disarmed watchdog must not end the process now
    print("ended by itself", flush=True)
    """
).format(grace=GRACE)


def _start(tmp_path: Path, mode: str) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / "m.keras"
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(out), mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdout.readline().strip() == "inside"
    time.sleep(0.3)  # into the mutex (or the sleep)
    return process, out


def test_a_stuck_process_ends_after_the_grace_with_its_stacks_and_no_lock_left(tmp_path):
    process, out = _start(tmp_path, "stuck")
    assert (tmp_path / "m.keras.lock").exists()
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        stdout, stderr = process.communicate(timeout=GRACE + 20)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the stuck process did not end: the watchdog never fired")
    seconds = time.monotonic() - sent
    assert process.returncode == 130, stderr
    assert GRACE - 0.2 < seconds < GRACE + 10, seconds  # not before the grace, not long after
    assert STUCK.format(seconds=GRACE) in stderr, stderr
    assert "Current thread" in stderr and "<string>" in stderr, stderr  # the main thread's stack, where it is stuck
    assert "interrupted and handled" not in stdout and "ended by itself" not in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # the cleanup ran: the lock file is gone


def test_a_process_that_stops_by_itself_is_left_alone(tmp_path):
    process, out = _start(tmp_path, "sleep")
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=GRACE + 20)
    assert process.returncode == 0, stderr
    assert "interrupted and handled" in stdout and "ended by itself" in stdout, stdout
    assert "did not stop" not in stderr, stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []
