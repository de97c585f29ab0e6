from __future__ import annotations

import json

import click

from tangpoet.backend import ensure_backend
from tangpoet.cli.group import main
from tangpoet.cli.common import backend_option


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON: a list of {kind, name, distribution, version, builtin, status, aliases}.")
@backend_option
def plugins(as_json, backend):
    """The installed cells, decoders, constraints and scorers: built-in or plugin, from which distribution, whether they load."""
    ensure_backend(backend)
    from tangpoet.registry import format_table, plugin_table

    rows = plugin_table()
    if as_json:
        click.echo(json.dumps([row.to_dict() for row in rows], ensure_ascii=False))
    else:
        click.echo(format_table(rows))
