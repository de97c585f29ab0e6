from __future__ import annotations

import sys

import click

from tangpoet.cli.common import backend_option
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
@click.option(
    "--suggest",
    "suggest",
    is_flag=False,
    flag_value="5",
    default=None,
    metavar="[K]",
    help="For each broken rule, the K best replacements (default 5) that mend it and break nothing else, ranked by "
    "the model's likelihood of the whole poem (--json: a suggestions list per poem).",
)
@click.option("--model", "-m", default=None, help="With --suggest: the model that ranks (default: the bundled model).")
@backend_option
def check(poems, files, constraint_specs, form, as_json, suggest=None, model=None, backend=None):
    """Check poems against the rules of regulated verse (form, rhyme, tones) and show what is wrong.

    Poems come from the arguments (a poem's text, a file of poems, or - for standard input), --file, or standard
    input: `title:content` or bare text, simplified or traditional, one verse per line or all on one line; poems are
    separated by blank lines (a ci's two stanzas, a blank line between them, are one poem). Exit status: 0 when every poem passes, 1 when some fail, 2 on bad input.
    """
    from tangpoet.checking import iter_poems, iter_reports, sort_arguments, stream_json, stream_reports
    from tangpoet.decoding.constraints import check_text

    poems, k = _suggest_count(poems, suggest)
    poems, named, dash = sort_arguments(poems)
    files = (*named, *files)
    for text in (*poems, *constraint_specs):
        check_text("the input", text)
    stdin = None
    if (dash or (not poems and not files)) and sys.stdin is not None and (dash or not sys.stdin.isatty()):
        stdin = getattr(sys.stdin, "buffer", None) or sys.stdin.read()  # a stream, read as it comes
    passed = True

    def tally(reports):
        nonlocal passed
        for report in reports:
            passed = passed and report.passed
            yield report

    # each report printed as its poem is checked (a large file shows its first poems at once, in bounded memory)
    reports = tally(iter_reports(iter_poems(poems, files, stdin), constraint_specs, form))
    if k is not None:
        reports = _with_suggestions(reports, k, constraint_specs, model, backend)
    for piece in stream_json(reports) if as_json else stream_reports(reports):
        click.echo(piece, nl=False)
    click.echo()
    sys.exit(0 if passed else 1)


def _suggest_count(poems, suggest):
    """``--suggest``'s count (None: not asked) and the poems: ``--suggest POEM`` reads POEM as a poem, not a count."""
    if suggest is None:
        return poems, None
    text = str(suggest).strip()
    if not text.isdigit():  # `check --suggest 白日依山尽…`: the default count, and the text is a poem
        return (suggest, *poems), 5
    from tangpoet.revision.suggest import check_count

    return poems, check_count(int(text))


def _with_suggestions(reports, k, constraint_specs, model, backend):
    """Each report with its suggestions (:func:`tangpoet.revision.suggest_report`), the model loaded once."""
    from tangpoet.backend import ensure_backend
    from tangpoet.cli.common import _model_path

    ensure_backend(backend)
    from tangpoet.checking import default_constraints
    from tangpoet.model.poem_model import load_model
    from tangpoet.revision import suggest_report

    loaded = None
    constraints = default_constraints(constraint_specs)
    for report in reports:
        if report.violations:
            loaded = loaded or load_model(_model_path(model))
            report.suggestions = suggest_report(loaded, report, constraints, k)
        else:
            report.suggestions = []
        yield report
