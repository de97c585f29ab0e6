"""Option groups in a command's ``--help``: click lists every option under one "Options" heading; a
:class:`GroupedCommand` lists them under headings of its own (options it does not name go under "Other options")."""

from __future__ import annotations

from collections.abc import Sequence

import click


class GroupedCommand(click.Command):
    """A click command whose ``--help`` shows its options in ``groups``: ``(heading, [parameter names])`` pairs."""

    def __init__(self, *args, groups: Sequence[tuple[str, Sequence[str]]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.groups = [(str(heading), tuple(names)) for heading, names in groups]

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        records: dict[str, tuple[str, str]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None and not isinstance(param, click.Argument):
                records[param.name] = record
        placed: set[str] = set()
        for heading, names in self.groups:
            rows = [records[name] for name in names if name in records]
            placed.update(names)
            if rows:
                with formatter.section(heading):
                    formatter.write_dl(rows)
        rest = [record for name, record in records.items() if name not in placed]
        if rest:
            with formatter.section("Other options"):
                formatter.write_dl(rest)
