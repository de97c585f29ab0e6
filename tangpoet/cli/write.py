from __future__ import annotations

import json

import click

from tangpoet.backend import ensure_backend
from tangpoet.cli.group import main
from tangpoet.cli.common import _model_path, backend_option, plugin_option
from tangpoet.cli.help_groups import GroupedCommand
from tangpoet.limits import DECODER_OPTIONS

# `write --help`: the options under these headings, in this order (the rest under "Other options").
HELP_GROUPS = (
    ("Prompt", ("title", "title_guidance", "begin", "acrostic", "acrostic_at", "template", "keywords", "theme", "show_plan", "theme_table")),
    ("Form and constraints", ("form", "variant", "constraint_specs", "no_repeat_ngram", "max_len")),
    ("Decoding", ("decoder", *DECODER_OPTIONS, "num", "candidates", "scorer", "seed", "polish")),
    ("Output", ("as_json", "script")),
    ("Model", ("model", "backend")),
)


def decoder_options(func):
    """``--temperature``, ``--top-k``, …: one option per entry of the decoder options' table
    (:data:`tangpoet.limits.DECODER_OPTIONS`), reaching ``write()`` through ``**options``."""
    for option in reversed(DECODER_OPTIONS.values()):
        help_text = f"{option.help} (default {option.default:g})."
        func = click.option(option.flag, type=option.kind, default=None, help=help_text)(func)
    return func


def _complete_form(ctx, param, incomplete: str) -> list[str]:
    """The form names and aliases (五言绝句 … 七律, wujue …) and the ci tunes (浣溪沙 …) for shell completion."""
    from tangpoet.decoding.forms import form_names

    return [name for name in form_names() if name.startswith(incomplete)]


@main.command(cls=GroupedCommand, groups=HELP_GROUPS)
@click.option("--model", "-m", default=None, help="Model file (default: the bundled model).")
@click.option(
    "--title",
    default=None,
    help="A title-aware model (fit --titles): the poem is written to this title (题), e.g. 送友人; 'auto': the model "
    "writes a title first. Printed above the poem.",
)
@click.option(  # reaches write_poems(title_guidance=...) through **options
    "--title-guidance",
    "title_guidance",
    type=float,
    default=1.0,
    show_default=True,
    metavar="G",
    help="With --title: weigh the title G times as much as the model does (classifier-free guidance, 1 to 8; 1: none).",
)
@click.option("--begin", default="", help="Text the poem starts with, e.g. 床前.")
@click.option("--acrostic", default="", help="藏头诗: line i starts with character i, e.g. 春夏秋冬.")
@click.option(  # reaches write_poems(acrostic_at=...) through **options
    "--acrostic-at",
    "acrostic_at",
    default=None,
    metavar="end|N",
    help="Place the --acrostic at the end of each line (end: 藏尾) or at column N (藏中) instead of the start.",
)
@click.option(  # reaches write_poems(template=...) through **options
    "--template",
    default=None,
    help="Fill in the blanks: fixed characters, □ (or _ *) where the model writes, e.g. '□□明月□，□□□□□。□□□□□，□□□□□。' "
    "(its shape gives the form).",
)
@click.option(  # reaches write_poems(polish=...) through **options
    "--polish",
    type=click.IntRange(0, 64),
    default=0,
    metavar="N",
    help="Revise each poem N rounds: re-choose the characters the model finds least likely, under every rule of the request.",
)
@click.option(
    "--form",
    default=None,
    shell_complete=_complete_form,
    help="五言绝句 七言绝句 五言律诗 七言律诗 (or 五绝 七绝 五律 七律, wujue qijue wulv qilv), or a ci tune (词牌), e.g. "
    "浣溪沙 (`tangpoet forms` lists them). Without it: free verse (verses as long as the model's training corpus has them, e.g. "
    "2-10 characters for the bundled model, else 3-11; see --constraint verse:min=N,max=N).",
)
@click.option(  # reaches write_poems(variant=...) through **options
    "--variant",
    type=click.IntRange(min=1),
    default=None,
    help="With a ci tune: its shape (又一体), 1 = the commonest (default); `tangpoet forms TUNE` shows them.",
)
@plugin_option("decoder", "top-p", "greedy, sample, top-k, top-p, beam")
@click.option(
    "--constraint",
    "constraint_specs",
    multiple=True,
    metavar="NAME[:OPT=VAL,...]",
    shell_complete=lambda ctx, param, incomplete: _complete_constraint(incomplete),
    help="A constraint plugin, with any decoder (repeatable), e.g. regulated, tones:strict (see `tangpoet plugins`).",
)
@click.option("--keywords", default="", help="Words of 1-4 characters every poem contains, each inside one line, e.g. 秋月,故乡.")
@click.option("--theme", default=None, help="A theme, e.g. 秋思: one keyword per line from corpus statistics, each read as a word (default form 五言绝句).")
@click.option("--show-plan", is_flag=True, help="With --theme: print the keyword of each line before each poem.")
@click.option("--theme-table", default=None, metavar="PATH", help="Theme statistics of another corpus (tools/build_theme_table.py; default: the bundled model's).")
@decoder_options
@click.option("--no-repeat-ngram", type=int, default=0, show_default=True, help="No n-gram of this size twice (0: off).")
@click.option("--num", "-n", type=int, default=1, show_default=True, help="Poems to write (greedy writes one).")
@click.option("--candidates", type=int, default=None, help="Best-of-N: write N candidates as one batch and keep the --num best by --scorer.")
@plugin_option("scorer", None, "Ranks --candidates: coherence (default), likelihood")
@click.option(
    "--max-len", type=int, default=None, help="Most characters per poem (default: the form's length, or 128); free verse ends within it."
)
@click.option("--seed", type=int, default=None, help="Random seed (default: a fresh one, shown with --json).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: a list of {poem, lines, score, decoder, seed, …}.")
@click.option(  # reaches write_poems(script=...) through **options
    "--script",
    type=click.Choice(["simplified", "traditional"]),
    default=None,
    help="Print the poems in this script (OpenCC; --begin/--acrostic may be typed in either).",
)
@backend_option
def write(
    model, begin, acrostic, form, decoder, num, max_len, seed, no_repeat_ngram, as_json, backend,
    constraint_specs=(), keywords="", show_plan=False, **options,
):
    """Write poems, one line per verse (a ci's two stanzas set apart by a blank line). Without --form, free verse: no
    empty verse, none too long, the end on 。？！."""
    from tangpoet.decoding.constraints import check_text, parse_spec

    check_text("--begin", begin)
    check_text("--acrostic", acrostic)
    check_text("--keywords", keywords)
    check_text("--title", options.get("title") or "")
    check_text("--template", options.get("template") or "")
    constraints = [parse_spec(check_text("--constraint", spec)) for spec in constraint_specs]
    if show_plan and not options.get("theme"):
        from tangpoet.errors import ConstraintError

        raise ConstraintError("--show-plan prints the plan of a --theme: add --theme, e.g. --theme 思乡")
    backend_name = ensure_backend(backend)
    path = _model_path(model)
    from tangpoet.writing import poem_record, resolve_seed, split_stanzas
    from tangpoet.writing import write as write_poems

    seed = resolve_seed(seed)
    poems = write_poems(
        path,
        begin=begin,
        acrostic=acrostic,
        form=form,
        decoder=decoder,
        num=num,
        max_len=max_len,
        seed=seed,
        no_repeat_ngram=no_repeat_ngram,
        constraints=constraints,
        keywords=keywords,
        **options,
    )
    if as_json:
        rows = [
            poem_record(poem, decoder=decoder, seed=seed, backend=backend_name, model=str(path)) for poem in poems
        ]
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    stanzas = any(poem.stanza_break for poem in poems)  # ci of two stanzas: a blank line between them, two between ci
    for i, poem in enumerate(poems):
        if i:
            click.echo("\n" if stanzas else "")
        if show_plan:  # each poem's own plan (best-of-N with a theme draws several)
            click.echo(f"plan ({options['theme']}): " + " / ".join(word or "—" for word in poem.plan))
            click.echo("")
        if poem.title:  # written to a title (given, or the model's own with --title auto): it heads the poem
            click.echo(poem.title)
        for j, stanza in enumerate(split_stanzas(poem)):
            if j:
                click.echo("")
            for line in stanza:
                click.echo(line)


def _complete_constraint(incomplete: str) -> list[str]:
    """Installed constraint names and aliases (read without Keras) for shell completion."""
    from tangpoet.registry import available_names

    return [name for name in available_names("constraint") if name.startswith(incomplete)]
