from __future__ import annotations

import sys
from pathlib import Path

import click
from click.core import ParameterSource

from tangpoet.backend import ensure_backend
from tangpoet.cli.group import main
from tangpoet.cli.common import (
    EXIT_INTERRUPTED,
    _read,
    backend_option,
    corpus_options,
    plugin_option,
    script_option,
)
from tangpoet.errors import TangpoetError
from tangpoet.training.output_guard import OutputLock, prepare_output
from tangpoet.training.watchdog import exit_if_stuck
from tangpoet.training.resume_check import check_resume_options


@main.command()
@click.argument("corpus", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--out", "-o", required=True, type=click.Path(), help="Model file to write (.keras).")
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
@click.option(
    "--lr",
    type=float,
    default=None,
    help="Learning rate. Default: 2e-3; 3e-4 with --from (fine-tuning: 2e-3 made the bundled model worse on "
    "held-out poems, docs/training.md).",
)
@click.option("--lr-decay", type=float, default=1.0, show_default=True, help="Multiply the learning rate by this each epoch.")
@click.option("--clip-norm", type=float, default=5.0, show_default=True, help="Global gradient-norm clipping.")
@click.option("--val-split", type=float, default=0.05, show_default=True, help="Share of poems held out.")
@click.option("--min-count", type=int, default=1, show_default=True, help="Rarer characters become <unk>.")
@click.option("--patience", type=int, default=3, show_default=True, help="Early stopping; 0 turns it off.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--data-parallel",
    is_flag=True,
    help="Split each global batch (--batch-size) over all devices: JAX keras.distribution.DataParallel, "
    "TensorFlow tf.distribute (multi-host: docs/training-at-scale.md).",
)
@click.option(
    "--optimizer",
    type=click.Choice(["adam", "rmsprop", "sgd"]),
    default="adam",
    show_default=True,
    help="Optimizer (each with --clip-norm gradient clipping); recorded in the checkpoint.",
)
@click.option(
    "--ema",
    type=float,
    default=0.0,
    show_default=True,
    metavar="MOMENTUM",
    help="Keep an exponential moving average of the weights, updated every step with this momentum (0.995: about "
    "the last 200 steps); validation, the best epoch and the saved model use the average, training goes on from the "
    "raw weights. 0: off. Recorded in the checkpoint.",
)
@click.option(
    "--precision",
    type=click.Choice(["auto", "bf16", "fp32"]),
    default="auto",
    show_default=True,
    help="What training computes in: bf16 = bfloat16 compute, float32 weights, loss and softmax (mixed precision); "
    "auto = bf16 only on a CPU with native bfloat16 instructions where the backend measures faster with it, else "
    "fp32. The run says which and why; the model file loads in float32 either way (docs/training.md#precision).",
)
@click.option(
    "--steps-per-epoch",
    type=int,
    default=None,
    help="An epoch of this many batches (validation, checkpoint and --lr-decay after each), going on through the "
    "corpus across epochs; default: one pass over the corpus.",
)
@click.option(
    "--from",
    "base",
    metavar="MODEL",
    default=None,
    help="Fine-tune: start from this model file's weights, architecture and vocabulary ('bundled': the bundled model).",
)
@click.option(
    "--extend-vocab",
    is_flag=True,
    help="With --from: add the corpus's characters the base vocabulary lacks (seen --min-count times) as new rows, "
    "started from <unk>'s; without it they are read as <unk>.",
)
@click.option(
    "--val-from",
    metavar="CORPUS",
    default=None,
    help="Draw the validation split from this one of the CORPUS arguments only (e.g. hold out Tang poems when "
    "training on Tang + Song); training poems equal to a held-out poem are always dropped.",
)
@click.option(
    "--titles",
    is_flag=True,
    help="Title-aware: train on each poem's cleaned title, then its content (a ci's title is its tune), so that "
    "`write --title` can condition the poem on a title (docs/model-file.md#titles).",
)
@click.option(
    "--untitled-fraction",
    type=float,
    default=0.3,
    show_default=True,
    help="With --titles: the share of titled training poems trained without their title (the model still writes "
    "untitled poems).",
)
@click.option("--resume", is_flag=True, help="Continue from the checkpoint OUT.ckpt.")
@click.option("--force", is_flag=True, help="Overwrite OUT and start over even if a checkpoint exists.")
@corpus_options
@script_option
@backend_option
def fit(corpus, out, resume, force, min_len, max_len, skip_bad_lines, backend, **options):
    """Train a model on CORPUS (title:content lines or chinese-poetry JSON files/folders)."""
    # Keras (and its backend: seconds, hundreds of MB) is imported only once the options and the corpus are checked,
    # so a mistake in either is one line at once (tests/test_faults37_corpus.py).
    name = ensure_backend(backend)
    if options.get("data_parallel"):  # no engine on this backend: say so before any work
        from tangpoet.training.distribute import check_supported

        check_supported(name)
    out_path = Path(out)
    if out_path.suffix != ".keras":
        raise TangpoetError(f"--out must end in .keras: {out}")
    from tangpoet.training.config import checkpoint_path

    ckpt = checkpoint_path(out_path)
    prepare_output(out_path, ckpt)  # before any work: missing folders made, a folder that cannot be written refused
    # one run writes OUT at a time (the lock is released by the kernel however this process ends); a Ctrl-C that
    # cannot stop fit (stuck in a library call) ends the process after a grace (training/watchdog.py)
    with OutputLock(out_path) as lock, exit_if_stuck(cleanup=lock.release):
        from tangpoet.training.checkpoint import clean_stale_temporaries

        clean_stale_temporaries(out_path, log=lambda line: click.echo(line, err=True))  # a save that kill -9 cut
        _fit_locked(corpus, out_path, ckpt, resume, force, min_len, max_len, skip_bad_lines, options)


DEFAULT_LR = 2e-3
FINE_TUNE_LR = 3e-4  # --from: measured on 300 held-out poems (docs/training.md#fine-tuning)
SMALL_CORPUS = 10_000  # poems: fewer train a model from scratch poorly (2,000 level off near NLL 6.7: gibberish)


def _warn_about_the_corpus(report, base, resume) -> None:
    """Warnings, on standard error, for corpora that train badly: lines without a ``title:content`` separator
    (a CSV: its titles and authors become verses) and too few poems to train from scratch."""
    from tangpoet.data.corpus import untitled_files

    for name in untitled_files(report.files):
        click.echo(
            f"warning: no line of {name} has a title:content separator (a title, then : or ：, then the poem): each"
            " whole line is read as one poem, so titles, authors or other columns become verses",
            err=True,
        )
    if base is None and not resume and report.kept < SMALL_CORPUS:
        click.echo(
            f"warning: {report.kept:,} poems are few to train a model from scratch (2,000 level off near NLL 6.7 and"
            " write gibberish); to learn their style, fine-tune the bundled model instead: add --from bundled",
            err=True,
        )


def _fit_locked(corpus, out_path, ckpt, resume, force, min_len, max_len, skip_bad_lines, options):
    from tangpoet.registry import CELLS
    from tangpoet.training.config import TrainConfig

    out = str(out_path)
    if not resume and not force:
        if ckpt.exists():
            raise TangpoetError(f"a checkpoint exists at {ckpt}: pass --resume to continue or --force to start over")
        if out_path.exists():
            raise TangpoetError(f"{out} exists: pass --force to overwrite it")
    ctx = click.get_current_context()
    typed_sources = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT, ParameterSource.PROMPT)
    typed = {k: v for k, v in options.items() if ctx.get_parameter_source(k) in typed_sources}
    if resume:  # options typed on the command line that the checkpoint would silently override are refused
        check_resume_options(ckpt, typed)
    base, extend_vocab, val_from = options.pop("base"), options.pop("extend_vocab"), options.pop("val_from")
    if extend_vocab and base is None:
        raise TangpoetError("--extend-vocab needs --from MODEL (a model trained from scratch has every character)")
    if base is not None and not resume:  # before reading the corpus: the base exists, its architecture is kept
        from tangpoet.training.finetune import check_architecture_options, resolve_base
        from tangpoet.model.info import read_config

        check_architecture_options(read_config(resolve_base(base)), typed)
    script = options.pop("script", "keep")
    if options.get("lr") is None:  # fine-tuning starts from trained weights: a smaller step (docs/training.md)
        options["lr"] = FINE_TUNE_LR if base is not None else DEFAULT_LR
    config = TrainConfig(**options)
    config.validate()
    CELLS.entry(config.cell)  # an unknown cell: did-you-mean (a known one is not loaded yet: no Keras before the corpus)
    held_out = None
    if val_from is not None:
        if val_from not in corpus:
            raise TangpoetError(f"--val-from {val_from} must be one of the CORPUS arguments")
        corpus = [c for c in corpus if c != val_from]
        held_out, held_report = _read([val_from], min_len, max_len, skip_bad_lines, script)
        click.echo(held_report.format())
    if corpus:
        poems, report = _read(corpus, min_len, max_len, skip_bad_lines, script)
        click.echo(report.format())
        if held_out is not None:
            report = _merge_reports(held_report, report)
    else:
        poems, report = [], held_report
    _warn_about_the_corpus(report, base, resume)
    from tangpoet.model.cells import get_cell
    from tangpoet.training.trainer import train

    get_cell(config.cell)  # a plugin cell that fails to load: one line, before any work
    verbose = 1 if sys.stdout.isatty() else 2  # a progress bar on a terminal, one line per epoch in a log
    result = train(
        poems, report, config, out_path, resume=resume, verbose=verbose, log=click.echo,
        val_from=held_out, base=base, extend_vocab=extend_vocab,
    )
    if not result.saved:  # Ctrl-C before this run's first epoch ended
        kept = f"; the checkpoint {ckpt} of epoch {result.checkpoint_epoch} is unchanged" if result.checkpoint_epoch else ""
        click.echo(f"interrupted before the first epoch finished: nothing was written{kept}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if result.interrupted and verbose == 1:
        click.echo()  # Ctrl-C cut the progress bar's line: the summary on a line of its own
    summary = f"saved {result.out}"
    if result.best_val_nll is not None:
        ran = f"{result.epochs_run}" if result.epochs_run >= config.epochs else f"{result.epochs_run} run, of {config.epochs} asked"
        summary += f" (epoch {result.best_epoch} of {ran}, validation NLL {result.best_val_nll:.4f} nats/char)"
    click.echo(summary)
    if result.interrupted:
        if result.stopped_early or result.epochs_run >= config.epochs:  # the Ctrl-C came while the model was saved
            click.echo("interrupted after training had ended: the save finished first", err=True)
        elif result.checkpoint_epoch:
            click.echo(f"interrupted: checkpoint {ckpt} of epoch {result.checkpoint_epoch} is kept; continue with --resume", err=True)
        else:
            click.echo("interrupted: no checkpoint was written; run the command again to train", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if result.stopped_early:
        click.echo("stopped early: validation NLL stopped improving")


def _merge_reports(first, second):
    """One corpus report for two reads (--val-from's corpus and the rest)."""
    from tangpoet.data.corpus import CorpusReport

    dropped = dict(first.dropped)
    for reason, count in second.dropped.items():
        dropped[reason] = dropped.get(reason, 0) + count
    return CorpusReport(
        files=first.files + second.files,
        read=first.read + second.read,
        kept=first.kept + second.kept,
        dropped=dropped,
        characters=first.characters + second.characters,
        script=first.script if first.script == second.script else None,
    )
