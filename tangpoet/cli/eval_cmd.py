from __future__ import annotations

import json

import click

from tangpoet.backend import ensure_backend
from tangpoet.cli.group import main
from tangpoet.cli.common import _model_path, _read, backend_option, corpus_options


@main.command(name="eval")
@click.argument("corpus", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--model", "-m", default=None, help="Model file (default: the bundled model).")
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@corpus_options
@backend_option
def eval_(corpus, model, batch_size, as_json, min_len, max_len, skip_bad_lines, backend):
    """Per-character NLL, bits per character and perplexity of a model on CORPUS."""
    ensure_backend(backend)
    path = _model_path(model)
    poems, report = _read(corpus, min_len, max_len, skip_bad_lines)
    from tangpoet.evaluate import evaluate
    from tangpoet.model.poem_model import load_model

    loaded = load_model(path)
    if loaded.title_aware and any(p.title for p in poems):  # both figures: given its title, and without it
        from tangpoet.evaluate import evaluate_titles

        given, result, titled = evaluate_titles(loaded, poems, batch_size=batch_size)
        if as_json:
            extra = {"given_title": {**given.to_dict(), "titled_poems": titled}}
            click.echo(json.dumps({"model": str(path), "corpus": report.to_dict(), **result.to_dict(), **extra}, ensure_ascii=False))
        else:
            click.echo(report.format())
            click.echo(f"without the title: {result.format()}")
            click.echo(f"given the title:   {given.format()} ({titled} of them with their title)")
        return
    result = evaluate(loaded, [loaded.vocab.encode(p.content) for p in poems], batch_size=batch_size)
    if as_json:
        click.echo(json.dumps({"model": str(path), "corpus": report.to_dict(), **result.to_dict()}, ensure_ascii=False))
    else:
        click.echo(report.format())
        click.echo(result.format())
