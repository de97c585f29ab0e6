from __future__ import annotations

import json

import click

from tangpoet.backend import ensure_backend
from tangpoet.cli import main
from tangpoet.cli.common import _model_path, backend_option, plugin_option


@main.command()
@click.option("--model", "-m", default=None, help="Model file (default: the bundled model).")
@click.option("--begin", default="", help="Text the poem starts with, e.g. 床前.")
@click.option("--acrostic", default="", help="藏头诗: line i starts with character i, e.g. 春夏秋冬.")
@click.option("--form", default=None, help="五言绝句 七言绝句 五言律诗 七言律诗 (or 五绝 七绝 五律 七律, wujue qijue wulv qilv).")
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
@click.option("--temperature", type=float, default=None, help="Sampling temperature (sample, top-k, top-p; default 1).")
@click.option("--top-k", type=int, default=None, help="top-k: sample among the k most likely (default 40).")
@click.option("--top-p", type=float, default=None, help="top-p: smallest set with this probability (default 0.9).")
@click.option("--beam-width", type=int, default=None, help="beam: beams searched together (default 5).")
@click.option("--length-penalty", type=float, default=None, help="beam: score = log-prob / length^this (default 1).")
@click.option("--no-repeat-ngram", type=int, default=0, show_default=True, help="No n-gram of this size twice (0: off).")
@click.option("--num", "-n", type=int, default=1, show_default=True, help="Poems to write (greedy writes one).")
@click.option("--max-len", type=int, default=None, help="Most characters per poem (default: the form's length, or 128).")
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
    constraint_specs=(), keywords="", **options,
):
    """Write poems, one line per verse."""
    from tangpoet.decoding.constraints import check_text, parse_spec

    check_text("--begin", begin)
    check_text("--acrostic", acrostic)
    check_text("--keywords", keywords)
    constraints = [parse_spec(check_text("--constraint", spec)) for spec in constraint_specs]
    backend_name = ensure_backend(backend)
    path = _model_path(model)
    from tangpoet.writing import poem_record, resolve_seed, split_lines
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
    for i, poem in enumerate(poems):
        if i:
            click.echo("")
        for line in split_lines(poem.text):
            click.echo(line)


def _complete_constraint(incomplete: str) -> list[str]:
    """Installed constraint names and aliases (read without Keras) for shell completion."""
    from tangpoet.catalog import available_names

    return [name for name in available_names("constraint") if name.startswith(incomplete)]
