"""The ``tangpoet`` command line: parses, calls the library, prints.

One module per command (``fit``, ``eval``, ``write``, ``info``, ``plugins``, ...), each registering itself on
:data:`main`. Keras is imported only inside commands, after :func:`tangpoet.backend.ensure_backend` has chosen the
backend. Every error a user can cause is a :class:`~tangpoet.errors.TangpoetError`: one line on stderr, exit status 2.
"""

from __future__ import annotations

import click

from tangpoet import __version__
from tangpoet.cli.common import _Group


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tangpoet")
def main():
    """Learn classical Chinese (Tang) poetry character by character and write new poems."""


# Importing the command modules registers their commands on ``main``.
from tangpoet.cli import eval_cmd, fit, info, plugins, write  # noqa: F401

if __name__ == "__main__":  # pragma: no cover
    main()
