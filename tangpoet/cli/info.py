from __future__ import annotations

import json

import click

from tangpoet.cli.group import main
from tangpoet.cli.common import _model_path


@main.command()
@click.option("--model", "-m", default=None, help="Model file (default: the bundled model).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(model, as_json):
    """What a model is: cell, sizes, vocabulary, training corpus, held-out NLL, versions (no Keras needed)."""
    from tangpoet.model.info import describe, format_info

    summary = describe(_model_path(model))
    click.echo(json.dumps(summary, ensure_ascii=False) if as_json else format_info(summary))
