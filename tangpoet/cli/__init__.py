"""The ``tangpoet`` command line: parses, calls the library, prints.

One module per command (``fit``, ``eval``, ``write``, ``info``, ``plugins``, ...), each registering itself on
:data:`main` (:mod:`tangpoet.cli.group`). Keras is imported only inside commands, after :func:`tangpoet.backend.ensure_backend` has chosen the
backend. Every error a user can cause is a :class:`~tangpoet.errors.TangpoetError`: one line on stderr, exit status 2.
"""

from __future__ import annotations

from tangpoet.cli.group import main

# Importing the command modules registers their commands on ``main``.
from tangpoet.cli import check, eval_cmd, fit, forms, info, plugins, revise, serve, write  # noqa: F401


def run() -> None:
    """The console script: :data:`main`, then a hard exit after Ctrl-C.

    After an interrupt (exit status 130) the work is already saved or refused and the message printed; JAX's
    runtime can crash while the interpreter tears down a half-finished compilation (a segmentation fault, exit
    139, seen on a Ctrl-C during the first epoch's compile), so the process flushes its streams and leaves with
    ``os._exit(130)`` instead. In-process callers (tests, ``CliRunner``) use :data:`main` and are unaffected.
    """
    import contextlib
    import os
    import sys

    try:
        main()
    except SystemExit as exc:
        if exc.code == 130:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):  # a closed or broken stream: nothing more to say
                    stream.flush()
            os._exit(130)
        raise


if __name__ == "__main__":  # pragma: no cover
    run()
