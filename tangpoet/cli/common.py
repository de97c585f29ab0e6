"""Shared pieces of the command line: the group class, common options, error handling.

Keras is imported only inside commands, after :func:`tangpoet.backend.ensure_backend` has chosen the backend.
Every error a user can cause is a :class:`~tangpoet.errors.TangpoetError`: one line on stderr, exit status 2.
"""

from __future__ import annotations

from pathlib import Path

import click

from tangpoet.errors import TangpoetError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class _Group(click.Group):
    """Turns user errors into one line and exit status 2, and Ctrl-C into a short message."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except TangpoetError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_USER_ERROR)
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
    func = click.option("--skip-bad-lines", is_flag=True, help="Skip (and count) lines that are not valid UTF-8.")(func)
    func = click.option("--max-len", type=int, default=200, show_default=True, help="Drop longer poems.")(func)
    func = click.option("--min-len", type=int, default=5, show_default=True, help="Drop shorter poems.")(func)
    return func


def _read(corpus, min_len, max_len, skip_bad_lines):
    from tangpoet.corpus import read_corpus

    return read_corpus(list(corpus), min_len=min_len, max_len=max_len, skip_bad_lines=skip_bad_lines)


def plugin_option(kind: str, default: str, builtins: str):
    """``--cell`` / ``--decoder``: a plugin name, completed in the shell from the installed entry points (no Keras)."""

    def complete(ctx, param, incomplete):
        from tangpoet.catalog import available_names

        return [name for name in available_names(kind) if name.startswith(incomplete)]

    return click.option(
        f"--{kind}",
        default=default,
        show_default=True,
        shell_complete=complete,
        help=f"{builtins} or a plugin's (see `tangpoet plugins`).",
    )


def _model_path(model: str | None) -> Path:
    if model is not None:
        return Path(model)
    from tangpoet.pretrained import default_model_path

    return default_model_path()
