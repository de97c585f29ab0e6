"""Shared pieces of the command line: the group class, common options, error handling.

Keras is imported only inside commands, after :func:`tangpoet.backend.ensure_backend` has chosen the backend.
Every error a user can cause is a :class:`~tangpoet.errors.TangpoetError`: one line on stderr, exit status 2.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from tangpoet.errors import StdoutError, TangpoetError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a tool whose reader went away (`… | head -1`)


class _GuardedStdout:
    """``sys.stdout`` while a command runs: a write or flush that fails (a full disk, ``> /dev/full``, an I/O error)
    raises :class:`StdoutError`, so the command ends with one ``error:`` line instead of a traceback or a success
    that wrote nothing. A broken pipe stays a :class:`BrokenPipeError` (a quiet exit). Everything else is the
    stream's own."""

    def __init__(self, stream):
        self._stream = stream

    def _guarded(self, method, *args):
        try:
            return method(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutError(f"cannot write to standard output: {exc.strerror or exc}") from None

    def write(self, text):
        return self._guarded(self._stream.write, text)

    def writelines(self, lines):
        return self._guarded(self._stream.writelines, lines)

    def flush(self):
        return self._guarded(self._stream.flush)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null, so what is still buffered for a broken or full stdout is dropped at exit
    instead of failing again (and printing a traceback) while the interpreter shuts down."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file descriptor (e.g. a test runner's stream)
        pass


class _Group(click.Group):
    """Turns user errors into one line and exit status 2, and Ctrl-C into a short message.

    Standard output is guarded while a command runs and flushed inside the guarded region: closed at start (``>&-``)
    or failing (``> /dev/full``) is one ``error:`` line and exit status 2; a reader that went away (``| head -1``)
    ends the command quietly with status 141, like other command-line tools.
    """

    def invoke(self, ctx):
        if sys.stdout is None:  # started with file descriptor 1 closed: anything written would be lost
            click.echo("error: standard output is closed, so nothing could be written", err=True)
            ctx.exit(EXIT_USER_ERROR)
        real = sys.stdout
        sys.stdout = guard = _GuardedStdout(real)
        try:
            try:
                result = super().invoke(ctx)
                sys.stdout.flush()
                return result
            finally:
                if sys.stdout is guard:
                    sys.stdout = real
        except StdoutError as exc:
            _silence_stdout()
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_USER_ERROR)
        except TangpoetError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_USER_ERROR)
        except BrokenPipeError:
            _silence_stdout()
            ctx.exit(EXIT_BROKEN_PIPE)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)


def backend_option(func):
    return click.option(
        "--backend",
        metavar="NAME",
        default=None,
        help="Keras backend: jax, tensorflow or torch (default: KERAS_BACKEND, keras.json, then the first installed).",
    )(func)


def corpus_options(func):
    func = click.option("--skip-bad-lines", is_flag=True, help="Skip (and count) lines that are not valid UTF-8 (a file where they dominate is still refused).")(func)
    func = click.option("--max-len", type=int, default=200, show_default=True, help="Drop longer poems.")(func)
    func = click.option("--min-len", type=int, default=5, show_default=True, help="Drop shorter poems.")(func)
    return func


def script_option(func):
    return click.option(
        "--script",
        type=click.Choice(["keep", "simplified", "traditional"]),
        default="keep",
        show_default=True,
        help="Convert the corpus to simplified or traditional characters (OpenCC); the model records its script.",
    )(func)


def _read(corpus, min_len, max_len, skip_bad_lines, script=None):
    """Read a corpus; with ``script`` (fit's --script) convert it, or with ``"keep"`` record the script it is in."""
    from tangpoet.data import script as scripts
    from tangpoet.data.corpus import read_corpus

    poems, report = read_corpus(
        list(corpus), min_len=min_len, max_len=max_len, skip_bad_lines=skip_bad_lines, script=script or "keep"
    )
    if script == scripts.KEEP:  # kept as it is: record the script it is in, when OpenCC can tell
        detected = scripts.detect(char for poem in poems for char in poem.content)
        report.script = detected if detected in scripts.SCRIPTS else None
    return poems, report


def plugin_option(kind: str, default: str, builtins: str):
    """``--cell`` / ``--decoder``: a plugin name, completed in the shell from the installed entry points (no Keras;
    a retired decoder, kept only to name its replacement, is not offered)."""

    def complete(ctx, param, incomplete):
        from tangpoet.registry import available_names

        names = [name for name in available_names(kind) if name.startswith(incomplete)]
        if kind == "decoder":
            from tangpoet.decoding import DECODERS

            names = [name for name in names if not DECODERS.status(name).startswith("retired")]
        return names

    return click.option(
        f"--{kind}",
        default=default,
        show_default=True,
        shell_complete=complete,
        help=f"{builtins} or a plugin's (see `tangpoet plugins`).",
    )


def _model_path(model: str | None) -> Path:
    """``--model``'s file: a path, or the bundled model (``bundled``, as ``fit --from bundled`` names it, or none)."""
    if model is not None and model != "bundled":
        return Path(model)
    from tangpoet.pretrained import default_model_path

    return default_model_path()
