"""The ``tangpoet`` command line: parses, calls the library, prints.

Keras is imported only inside commands, after :func:`tangpoet.backend.ensure_backend` has chosen the backend.
Every error a user can cause is a :class:`~tangpoet.errors.TangpoetError`: one line on stderr, exit status 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tangpoet import __version__
from tangpoet.backend import ensure_backend
from tangpoet.errors import TangpoetError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class _Group(click.Group):
    """Turns user errors into one line and exit status 2, and Ctrl-C into a short message."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except TangpoetError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_USER_ERROR)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)


def backend_option(func):
    return click.option(
        "--backend",
        metavar="NAME",
        default=None,
        help="Keras backend: jax, tensorflow or torch (default: KERAS_BACKEND, keras.json, then the first installed).",
    )(func)


def corpus_options(func):
    func = click.option("--skip-bad-lines", is_flag=True, help="Skip (and count) lines that are not valid UTF-8.")(func)
    func = click.option("--max-len", type=int, default=200, show_default=True, help="Drop longer poems.")(func)
    func = click.option("--min-len", type=int, default=5, show_default=True, help="Drop shorter poems.")(func)
    return func


def _read(corpus, min_len, max_len, skip_bad_lines):
    from tangpoet.corpus import read_corpus

    return read_corpus(list(corpus), min_len=min_len, max_len=max_len, skip_bad_lines=skip_bad_lines)


def plugin_option(kind: str, default: str, builtins: str):
    """``--cell`` / ``--decoder``: a plugin name, completed in the shell from the installed entry points (no Keras)."""

    def complete(ctx, param, incomplete):
        from tangpoet.catalog import available_names

        return [name for name in available_names(kind) if name.startswith(incomplete)]

    return click.option(
        f"--{kind}",
        default=default,
        show_default=True,
        shell_complete=complete,
        help=f"{builtins} or a plugin's (see `tangpoet plugins`).",
    )


def _model_path(model: str | None) -> Path:
    if model is not None:
        return Path(model)
    from tangpoet.pretrained import default_model_path

    return default_model_path()


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tangpoet")
def main():
    """Learn classical Chinese (Tang) poetry character by character and write new poems."""


@main.command()
@click.argument("corpus", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="Model file to write (.keras).")
@plugin_option("cell", "lstm", "Recurrent cell: rnn, lstm, gru")
@click.option("--layers", "num_layers", type=int, default=2, show_default=True, help="Recurrent layers.")
@click.option("--units", type=int, default=256, show_default=True, help="Units per recurrent layer.")
@click.option("--embedding-dim", type=int, default=128, show_default=True)
@click.option("--dropout", type=float, default=0.0, show_default=True, help="Dropout after each recurrent layer.")
@click.option("--embedding-dropout", type=float, default=0.0, show_default=True, help="Dropout on the character embeddings.")
@click.option(
    "--tie-embeddings",
    is_flag=True,
    help="Share the embedding matrix with the output layer (through a projection when --units differs from --embedding-dim).",
)
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=2e-3, show_default=True, help="Adam learning rate.")
@click.option("--lr-decay", type=float, default=1.0, show_default=True, help="Multiply the learning rate by this each epoch.")
@click.option("--clip-norm", type=float, default=5.0, show_default=True, help="Global gradient-norm clipping.")
@click.option("--val-split", type=float, default=0.05, show_default=True, help="Share of poems held out.")
@click.option("--min-count", type=int, default=1, show_default=True, help="Rarer characters become <unk>.")
@click.option("--patience", type=int, default=3, show_default=True, help="Early stopping; 0 turns it off.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from the checkpoint OUT.ckpt.")
@click.option("--force", is_flag=True, help="Overwrite OUT and start over even if a checkpoint exists.")
@corpus_options
@backend_option
def fit(corpus, out, resume, force, min_len, max_len, skip_bad_lines, backend, **options):
    """Train a model on CORPUS (title:content lines or chinese-poetry JSON files/folders)."""
    ensure_backend(backend)
    out_path = Path(out)
    if out_path.suffix != ".keras":
        raise TangpoetError(f"--out must end in .keras: {out}")
    from tangpoet.training import TrainConfig, checkpoint_path

    ckpt = checkpoint_path(out_path)
    if not resume and not force:
        if ckpt.exists():
            raise TangpoetError(f"a checkpoint exists at {ckpt}: pass --resume to continue or --force to start over")
        if out_path.exists():
            raise TangpoetError(f"{out} exists: pass --force to overwrite it")
    poems, report = _read(corpus, min_len, max_len, skip_bad_lines)
    click.echo(report.format())
    config = TrainConfig(**options)
    config.validate()
    from tangpoet.cells import get_cell
    from tangpoet.training import train

    get_cell(config.cell)  # unknown cell: did-you-mean, before any work
    verbose = 1 if sys.stdout.isatty() else 2  # a progress bar on a terminal, one line per epoch in a log
    result = train(poems, report, config, out_path, resume=resume, verbose=verbose, log=click.echo)
    summary = f"saved {result.out}"
    if result.best_val_nll is not None:
        summary += f" (epoch {result.best_epoch} of {result.epochs_run}, validation NLL {result.best_val_nll:.4f} nats/char)"
    click.echo(summary)
    if result.interrupted:
        click.echo(f"interrupted: checkpoint {ckpt} is kept; continue with --resume", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if result.stopped_early:
        click.echo("stopped early: validation NLL stopped improving")


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
    from tangpoet.model import load_model

    loaded = load_model(path)
    result = evaluate(loaded, [loaded.vocab.encode(p.content) for p in poems], batch_size=batch_size)
    if as_json:
        click.echo(json.dumps({"model": str(path), "corpus": report.to_dict(), **result.to_dict()}, ensure_ascii=False))
    else:
        click.echo(report.format())
        click.echo(result.format())


@main.command()
@click.option("--model", "-m", default=None, help="Model file (default: the bundled model).")
@click.option("--begin", default="", help="Text the poem starts with, e.g. 床前.")
@click.option("--acrostic", default="", help="藏头诗: line i starts with character i, e.g. 春夏秋冬.")
@click.option("--form", default=None, help="五言绝句 七言绝句 五言律诗 七言律诗 (or 五绝 七绝 五律 七律, wujue qijue wulv qilv).")
@plugin_option("decoder", "top-p", "greedy, sample, top-k, top-p, beam")
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
@backend_option
def write(model, begin, acrostic, form, decoder, num, max_len, seed, no_repeat_ngram, as_json, backend, **options):
    """Write poems, one line per verse."""
    from tangpoet.decoding.constraints import check_text

    check_text("--begin", begin)
    check_text("--acrostic", acrostic)
    backend_name = ensure_backend(backend)
    path = _model_path(model)
    from tangpoet.writing import resolve_seed, split_lines, write as write_poems

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
        **options,
    )
    if as_json:
        rows = [
            {
                "poem": poem.text,
                "lines": split_lines(poem.text),
                "score": poem.score,
                "finished": poem.finished,
                "decoder": decoder,
                "seed": seed,
                "backend": backend_name,
                "model": str(path),
            }
            for poem in poems
        ]
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for i, poem in enumerate(poems):
        if i:
            click.echo("")
        for line in split_lines(poem.text):
            click.echo(line)


@main.command()
@click.option("--model", "-m", default=None, help="Model file (default: the bundled model).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(model, as_json):
    """What a model is: cell, sizes, vocabulary, training corpus, held-out NLL, versions (no Keras needed)."""
    from tangpoet.model_info import describe, format_info

    summary = describe(_model_path(model))
    click.echo(json.dumps(summary, ensure_ascii=False) if as_json else format_info(summary))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON: a list of {kind, name, distribution, version, builtin, status}.")
@backend_option
def plugins(as_json, backend):
    """The installed cells and decoders: built-in or plugin, from which distribution, and whether they load."""
    ensure_backend(backend)
    from tangpoet.catalog import format_table, plugin_table

    rows = plugin_table()
    if as_json:
        click.echo(json.dumps([row.to_dict() for row in rows], ensure_ascii=False))
    else:
        click.echo(format_table(rows))


if __name__ == "__main__":  # pragma: no cover
    main()
