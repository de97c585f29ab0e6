"""``tangpoet revise``: polish a poem — rounds that re-choose the characters the model finds least likely."""

from __future__ import annotations

import json
import sys

import click

from tangpoet.cli.common import backend_option
from tangpoet.cli.group import main


@main.command()
@click.argument("poem", required=False)
@click.option("--file", "-f", "file", type=click.Path(dir_okay=False), default=None, help="Read the poem from a file.")
@click.option("--rounds", "-n", type=click.IntRange(0, 64), default=3, show_default=True, help="Rounds of revision (each changes at most one character).")
@click.option(
    "--keep",
    default=None,
    metavar="2,5|L:C|MASK",
    help="Pinned characters: numbers counted over the poem from 1 (2,5), verse:character (1:2), or the poem with □ "
    "where a character may change.",
)
@click.option(
    "--constraint",
    "constraint_specs",
    multiple=True,
    metavar="NAME[:OPT=VAL,...]",
    help="Revise under these rules too (repeatable), e.g. regulated; the poem's form always.",
)
@click.option("--form", default=None, help="The poem's form (default: the one its shape matches).")
@click.option("--seed", type=int, default=0, show_default=True, help="The same seed gives the same revision.")
@click.option("--temperature", type=click.FloatRange(0), default=1.0, show_default=True, help="How freely a round draws among the changes that help (0: always the best).")
@click.option("--no-mend", is_flag=True, help="Do not mend broken rules first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {original, poem, changes, log_prob_before, log_prob_after, rounds}.")
@click.option("--model", "-m", default=None, help="Model file (default: the bundled model).")
@backend_option
def revise(poem, file, rounds, keep, constraint_specs, form, seed, temperature, no_mend, as_json, model, backend):
    """Revise POEM (text, a file, or - for standard input): mend its broken rules, then N rounds that re-choose the
    characters the model finds least likely, under every rule of its form (and --constraint), keeping --keep.

    Prints the revised poem on one line, then what changed (verse, character, old → new, the gain in the whole
    poem's log-probability).
    """
    from pathlib import Path

    from tangpoet.backend import ensure_backend
    from tangpoet.decoding.constraints import check_text, parse_spec
    from tangpoet.errors import PoemInputError

    if file:
        try:
            poem = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PoemInputError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
    elif poem in (None, "-"):
        if sys.stdin is None or (poem is None and sys.stdin.isatty()):
            raise PoemInputError("no poem to revise: give it as an argument, with --file PATH, or on standard input")
        poem = sys.stdin.read()
    check_text("the poem", poem)
    constraints = [parse_spec(check_text("--constraint", spec)) for spec in constraint_specs]
    ensure_backend(backend)
    from tangpoet.cli.common import _model_path
    from tangpoet.revision import revise as revise_poem

    revision = revise_poem(
        str(_model_path(model)), poem, rounds=rounds, constraints=constraints, form=form, keep=keep, seed=seed,
        temperature=temperature, mend=not no_mend,
    )
    if as_json:
        click.echo(json.dumps(revision.to_dict(), ensure_ascii=False))
        return
    click.echo(revision.text)
    for line in revision.describe():
        click.echo(f"  {line}")
    if not revision.changes:
        click.echo("  (no change makes the poem more likely under its rules)")
