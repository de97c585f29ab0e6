from __future__ import annotations

import json
import sys

import click

from tangpoet.cli.group import main


def _complete_constraint(ctx, param, incomplete):
    from tangpoet.registry import available_names

    return [name for name in available_names("constraint") if name.startswith(incomplete)]


@main.command()
@click.argument("poems", nargs=-1)
@click.option("--file", "-f", "files", multiple=True, type=click.Path(dir_okay=False), help="Read poems from a file (repeatable).")
@click.option(
    "--constraint",
    "constraint_specs",
    multiple=True,
    metavar="NAME[:OPT=VAL,...]",
    shell_complete=_complete_constraint,
    help="Check these constraints (repeatable; the form is always checked). Default: regulated, when installed.",
)
@click.option("--form", default=None, help="Check against this form instead of the one the poem's shape matches.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: per poem {form, pass, lines, violations, …}.")
def check(poems, files, constraint_specs, form, as_json):
    """Check poems against the rules of regulated verse (form, rhyme, tones) and show what is wrong.

    Poems come from the arguments (a poem's text, a file of poems, or - for standard input), --file, or standard
    input: `title:content` or bare text, simplified or traditional, one verse per line or all on one line; poems are
    separated by blank lines. Exit status: 0 when every poem passes, 1 when some fail, 2 on bad input.
    """
    from tangpoet.checking import check_poems, format_reports, read_poems, sort_arguments
    from tangpoet.decoding.constraints import check_text

    poems, named, dash = sort_arguments(poems)
    files = (*named, *files)
    for text in (*poems, *constraint_specs):
        check_text("the input", text)
    stdin = None
    if (dash or (not poems and not files)) and sys.stdin is not None and (dash or not sys.stdin.isatty()):
        raw = getattr(sys.stdin, "buffer", None)
        try:
            stdin = raw.read().decode("utf-8-sig") if raw is not None else sys.stdin.read()
        except UnicodeDecodeError:
            from tangpoet.errors import PoemInputError

            raise PoemInputError("standard input is not UTF-8 text") from None
    reports = check_poems(read_poems(poems, files, stdin), constraint_specs, form)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in reports], ensure_ascii=False))
    else:
        click.echo(format_reports(reports))
    sys.exit(0 if all(r.passed for r in reports) else 1)
