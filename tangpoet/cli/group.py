"""The ``tangpoet`` command group, on which every command module registers itself (``@main.command``)."""

from __future__ import annotations

import click

from tangpoet import __version__
from tangpoet.cli.common import _Group


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tangpoet")
def main():
    """Learn classical Chinese (Tang) poetry character by character and write new poems."""
