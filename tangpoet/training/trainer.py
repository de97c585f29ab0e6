"""Training: masked loss, Adam with gradient clipping, validation NLL, checkpoints, resume, early stopping.

``train`` is what ``tangpoet fit`` runs. After every epoch it writes a checkpoint ``<out>.ckpt`` atomically (model,
optimizer state and training state in one file), so an interrupted run loses at most one epoch and ``resume=True``
continues exactly where the checkpoint left off. The model written to ``out`` carries the best validation weights.
"""

from __future__ import annotations

import io
import json
import math
import os
import platform
import time
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tangpoet import __version__

from tangpoet.training import distribute, finetune, precision
from tangpoet.backend import ensure_backend
from tangpoet.data.batching import Batches
from tangpoet.data.corpus import CorpusReport, Poem
from tangpoet.errors import ModelFileError, TangpoetError
from tangpoet.data.split import corpus_fingerprint, split_poems, training_split  # noqa: F401 (split_poems: re-exported)
from tangpoet.data.vocab import PAD_ID, Vocabulary

ensure_backend()
import keras  # noqa: E402
from keras import ops  # noqa: E402

from tangpoet.model.cells import get_cell  # noqa: E402
from tangpoet.evaluate import Scorer  # noqa: E402
from tangpoet.kernels import token_nll  # noqa: E402
from tangpoet.kernels.saving import no_tensorflow_probe  # noqa: E402
from tangpoet.kernels.seeding import set_random_seed  # noqa: E402
from tangpoet.model.poem_model import PoemModel, atomic_path, build_model, load_model, save_model  # noqa: E402
from tangpoet.training.output_guard import SaveGuard  # noqa: E402
from tangpoet.training.config import ARCHITECTURE, TrainConfig, TrainResult, checkpoint_path  # noqa: E402,F401 (re-exported)
from tangpoet.training.progress import EpochProgress  # noqa: E402

# --optimizer: each with global-norm clipping (--clip-norm). RMSprop + clipping is what the original PyTorch poem
# generators train with; SGD with momentum 0.9 for completeness; Adam is the default.
# --ema M: Keras's own moving average of the weights (use_ema), updated inside every optimizer step on every backend.
OPTIMIZERS = {
    "adam": lambda lr, clip, **ema: keras.optimizers.Adam(learning_rate=lr, global_clipnorm=clip, **ema),
    "rmsprop": lambda lr, clip, **ema: keras.optimizers.RMSprop(learning_rate=lr, global_clipnorm=clip, **ema),
    "sgd": lambda lr, clip, **ema: keras.optimizers.SGD(learning_rate=lr, momentum=0.9, global_clipnorm=clip, **ema),
}

@keras.saving.register_keras_serializable(package="tangpoet")
def masked_character_nll(targets, logits):
    """Mean cross-entropy over real characters: ``<pad>`` targets (id 0) are ignored.

    The mask multiplies the per-token ``[batch, time]`` cross-entropy, not the ``[batch, time, vocab]`` logits as
    Keras' ``ignore_class`` does. Measured train steps/s with ignore_class → this (1 × 256 LSTM, vocabulary 6,000,
    batch 64): tensorflow 2.34 → 3.70, jax 2.23 → 2.60, torch 2.01 → 2.51. (``logsumexp - take_along_axis`` was
    3 % / 4 % faster on jax / torch but 17 % slower on tensorflow: jax and torch compute the per-token loss in
    ``tangpoet/kernels``, tensorflow through Keras.) Same value as Keras' masked loss (tested).
    """
    # flattened to [tokens, vocab]: the class axis is then where torch's cross_entropy wants it (no transposed copy
    # of the logits and their gradient, ~20 % of a CPU train step on torch); free on the other backends
    logits = ops.reshape(logits, (-1, ops.shape(logits)[-1]))
    targets = ops.reshape(targets, (-1,))
    nll = token_nll(targets, logits)  # torch/jax: kernels/torch_loss.py, kernels/jax_loss.py
    if nll is None:
        nll = ops.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    mask = ops.cast(ops.not_equal(targets, PAD_ID), nll.dtype)
    return distribute.mean_over_replicas(ops.sum(nll * mask), ops.sum(mask))  # total / count, over all replicas


@keras.saving.register_keras_serializable(package="tangpoet")
class MaskedCharacterNLL(keras.losses.Loss):
    """:func:`masked_character_nll` as a Keras loss (it already reduces to one number per batch)."""

    def __init__(self, name: str = "masked_character_nll", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return masked_character_nll(y_true, y_pred)


def masked_loss() -> keras.losses.Loss:
    """The training loss."""
    return MaskedCharacterNLL()


class _EpochData(keras.utils.PyDataset):
    """Feeds one epoch's :class:`Batches` plan to ``Model.fit``.

    ``train`` calls ``fit`` once per epoch and re-plans the batches itself: how often Keras calls a dataset's
    epoch hooks varies with the backend's iterator, and an exact resume needs the plan to depend on the epoch only.
    """

    def __init__(self, batches: Batches):
        super().__init__(workers=1, use_multiprocessing=False)
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int):
        return self.batches[index]


def epoch_input(batches: Batches):
    """What ``Model.fit`` gets for one epoch: a PyDataset, or on TensorFlow a dataset with variable-length specs."""
    if keras.backend.backend() == "tensorflow":
        from tangpoet.kernels.tensorflow_input import as_dataset

        return as_dataset(batches)
    return _EpochData(batches)


# ----------------------------------------------------------------------------------------------- checkpoints
def write_checkpoint(path: Path, model: PoemModel, state: dict[str, Any]) -> None:
    """One file, replaced atomically: the model, the optimizer's variables and the training state."""
    model_tmp = atomic_path(path)
    try:
        with no_tensorflow_probe():  # Keras would import TensorFlow to check its types (kernels/saving.py)
            model.save(model_tmp)
        optimizer = io.BytesIO()
        np.savez(optimizer, *[keras.ops.convert_to_numpy(v) for v in model.optimizer.variables])
        best = io.BytesIO()
        if state.get("best_weights") is not None:
            np.savez(best, *state["best_weights"])
        plain_state = {k: v for k, v in state.items() if k != "best_weights"}
        tmp = atomic_path(path, suffix=".ckpt")
        try:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
                archive.write(model_tmp, "model.keras")
                archive.writestr("optimizer.npz", optimizer.getvalue())
                archive.writestr("best_weights.npz", best.getvalue())
                archive.writestr("state.json", json.dumps(plain_state, ensure_ascii=False))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    finally:
        model_tmp.unlink(missing_ok=True)


def read_checkpoint(path: Path) -> tuple[PoemModel, list[np.ndarray], dict[str, Any]]:
    """``(model, optimizer values, state)``, every part checked as untrusted input (training/checkpoint.py)."""
    from tangpoet.training.checkpoint import read_checkpoint as read

    return read(path)


# ----------------------------------------------------------------------------------------------- training
class _EpochEnd(keras.callbacks.Callback):
    """Validation NLL, best weights, early stopping and the checkpoint, after every epoch."""

    def __init__(self, trainer: _Trainer):
        super().__init__()
        self.trainer = trainer

    def on_epoch_end(self, epoch, logs=None):
        self.trainer.end_epoch(epoch, logs if logs is not None else {})


class _Trainer:
    def __init__(self, model: PoemModel, config: TrainConfig, out: Path, val_batches: Batches | None, log):
        self.model = model
        self.config = config
        self.out = out
        self.checkpoint = checkpoint_path(out)
        self.guard = SaveGuard(self.checkpoint)  # a failed save: one line naming the intact checkpoint
        self.scorer = Scorer(model) if val_batches is not None else None
        self.val_batches = val_batches
        self.log = log
        self.state: dict[str, Any] = {
            "epoch": 0,
            "history": [],
            "best_val_nll": None,
            "best_epoch": None,
            "best_weights": None,
            "stale_epochs": 0,
            "seconds": 0.0,
        }
        self.stopped_early = False
        self.raw_weights: list[np.ndarray] | None = None  # --ema: the training weights while the average is in
        self._epoch_start = time.perf_counter()

    def end_epoch(self, epoch: int, logs: dict) -> None:
        record = {
            "epoch": epoch + 1,
            "loss": float(logs.get("loss", float("nan"))),
            "lr": self.config.learning_rate(epoch),
            "precision": precision.current(self.model),  # --resume may change it between epochs
        }
        # --ema: the averaged weights are the ones validated, kept as the best and saved; training (and the
        # checkpoint, whose optimizer state holds the average) goes on from the raw ones
        self.raw_weights = self._swap_in_average() if self.config.ema else None
        try:
            if self.scorer is not None:
                with precision.float32_compute(self.model):  # the saved model's NLL, as `tangpoet eval` gives it
                    evaluation = self.scorer(self.val_batches)
                record.update(val_nll=evaluation.nll, val_ppl=evaluation.perplexity)
                logs["val_nll"] = evaluation.nll
                logs["val_ppl"] = evaluation.perplexity
            score = record.get("val_nll", record["loss"])
            state = self.state
            if state["best_val_nll"] is None or score < state["best_val_nll"]:
                state.update(best_val_nll=score, best_epoch=epoch + 1, stale_epochs=0)
                state["best_weights"] = [np.array(w) for w in self.model.get_weights()]
            else:
                state["stale_epochs"] += 1
        finally:
            self.restore_raw_weights()
        now = time.perf_counter()
        state["seconds"] += now - self._epoch_start
        self._epoch_start = now
        record["seconds"] = state["seconds"]
        state["history"].append(record)
        state["epoch"] = epoch + 1
        with self.guard.saving(self.checkpoint, epoch=epoch + 1):  # other hosts: a throwaway copy (distribute)
            write_checkpoint(distribute.output_path(self.checkpoint), self.model, state)
        self.stopped_early = self.should_stop()

    def _swap_in_average(self) -> list[np.ndarray]:
        """Put the optimizer's moving average into the model's trainable variables (Keras's public
        ``finalize_variable_values``); return the raw values it replaced."""
        variables = self.model.trainable_variables
        raw = [keras.ops.convert_to_numpy(v) for v in variables]
        self.model.optimizer.finalize_variable_values(variables)
        for variable in variables:  # JAX: the model's variables shared the average's buffers, which a step donates
            variable.assign(keras.ops.convert_to_numpy(variable))
        return raw

    def restore_raw_weights(self) -> None:
        """Back to the raw training weights (after validation, and after ``fit``, which ends every call by putting the
        average in): the run goes on exactly as a resumed one would."""
        if self.raw_weights is not None:
            for variable, value in zip(self.model.trainable_variables, self.raw_weights):
                variable.assign(value)

    def should_stop(self) -> bool:
        """Early stopping: ``patience`` epochs in a row without a better validation NLL."""
        return bool(
            self.config.patience and self.scorer is not None and self.state["stale_epochs"] >= self.config.patience
        )


def compile_for_training(model: PoemModel, config: TrainConfig) -> None:
    """Compile ``model`` as ``train`` does: ``config.optimizer`` (``config.lr``) with global-norm clipping, a moving
    average of the weights with ``config.ema``, and the masked loss."""
    ema = {"use_ema": True, "ema_momentum": config.ema} if config.ema else {}
    model.compile(optimizer=OPTIMIZERS[config.optimizer](config.lr, config.clip_norm, **ema), loss=masked_loss())


def train(
    poems: list[Poem],
    report: CorpusReport,
    config: TrainConfig,
    out: str | os.PathLike,
    *,
    resume: bool = False,
    verbose: str | int = "auto",
    log: Callable[[str], None] = print,
    val_from: list[Poem] | None = None,
    base: str | os.PathLike | None = None,
    extend_vocab: bool = False,
) -> TrainResult:
    """Train a model on ``poems`` and write it to ``out`` (a ``.keras`` file); on all devices with
    ``config.data_parallel`` (:mod:`tangpoet.training.distribute`).

    The validation split (``config.val_split``, seeded by ``config.seed``) is drawn from ``poems``, or with
    ``val_from`` from those poems only (e.g. Tang poems when pre-training on Tang + Song: the held-out figure stays a
    Tang figure), which are then trained on too, less the held-out ones. A training poem equal to a held-out poem is
    dropped either way, so the held-out figure is held out. With ``base`` (a model file, or ``"bundled"``) training
    starts from that file's weights, architecture and vocabulary (:mod:`tangpoet.training.finetune`); ``extend_vocab`` adds
    the characters it lacks."""
    config.validate()
    placement = distribute.plan(config.data_parallel)
    with distribute.activate(placement):
        return _train(
            poems, report, config, out, placement, resume=resume, verbose=verbose, log=log,
            val_from=val_from, base=base, extend_vocab=extend_vocab,
        )


def _train(poems, report, config, out, placement, *, resume, verbose, log, val_from, base, extend_vocab) -> TrainResult:
    out = Path(out)
    if out.suffix != ".keras":
        raise TangpoetError(f"--out must end in .keras: {out}")
    started = time.perf_counter()
    fingerprint = corpus_fingerprint(poems if val_from is None else [*val_from, *poems])
    if resume:
        model, optimizer_values, saved = read_checkpoint(checkpoint_path(out))
        if saved.get("fingerprint") != fingerprint:
            log("warning: the corpus differs from the one the checkpoint was trained on")
        # the checkpoint's architecture, seed and split win, so the run continues as it began
        for name in ARCHITECTURE:
            setattr(config, name, model.hyperparameters()[name])
        config.seed = saved.get("seed", config.seed)
        config.val_split = saved.get("val_split", config.val_split)
        config.optimizer = saved.get("optimizer", "adam")
        config.ema = saved.get("ema", 0.0)
        config.steps_per_epoch = saved.get("steps_per_epoch", config.steps_per_epoch)
        config.titles = saved.get("titles", False)
        config.untitled_fraction = saved.get("untitled_fraction", config.untitled_fraction)
        earlier = saved.get("lineage_before", [])
        from_file = saved.get("from_file")
    else:
        model, optimizer_values, saved = None, None, None
        earlier, from_file = [], None
    set_random_seed(config.seed)  # keras.utils.set_random_seed, without importing TensorFlow on JAX / torch
    train_poems, val_poems, duplicates = training_split(poems, config.val_split, config.seed, val_from=val_from)
    if duplicates:
        log(f"dropped {duplicates} training {'poem' if duplicates == 1 else 'poems'} equal to a held-out poem")
    titled = _titled(train_poems, val_poems, config, log) if config.titles else None  # (train, val titles, report)
    if model is None and base is not None:
        model, earlier, from_file = _start_from(base, config, train_poems, extend_vocab, log, titled)
    if model is None:
        texts = [p.content for p in train_poems] + (titled[0] if titled else [])
        vocab = Vocabulary.build(texts, min_count=config.min_count)
        model = build_model(vocab, **config.architecture())
    vocab = model.vocab

    if titled:
        from tangpoet.data.titles import encode_sequence

        train_seqs = [encode_sequence(vocab, t, p.content) for t, p in zip(titled[0], train_poems)]
        val_seqs = [encode_sequence(vocab, t, p.content) for t, p in zip(titled[1], val_poems)]
    else:
        train_seqs = [vocab.encode(p.content) for p in train_poems]
        val_seqs = [vocab.encode(p.content) for p in val_poems]
    rows = placement.replicas  # data parallel: every batch splits evenly over the devices (masked filler rows)
    started = titled is not None  # validation: the NLL of the content given its title (titles.py)
    train_batches = Batches(train_seqs, config.batch_size, shuffle=True, seed=config.seed, row_multiple=rows, started=started)
    val_batches = (
        Batches(val_seqs, config.batch_size, shuffle=False, row_multiple=rows, buckets=train_batches.buckets,
                started=started, content_only=started)
        if val_seqs
        else None
    )
    epoch_batches = train_batches if config.steps_per_epoch is None else Stream(train_batches, config.steps_per_epoch)

    chosen = precision.choose(  # --precision: the layers' dtype policies, set before the step is compiled
        config.precision, keras.backend.backend(), precision.probe_shapes(model.units, model.embedding_dim, len(vocab))
    )
    precision.apply(model, chosen.precision)
    compile_for_training(model, config)
    if optimizer_values is not None:
        model.optimizer.build(model.trainable_variables)
        from tangpoet.training.checkpoint import check_optimizer_shapes

        check_optimizer_shapes(model.optimizer.variables, optimizer_values, checkpoint_path(out))
        for variable, value in zip(model.optimizer.variables, optimizer_values):
            variable.assign(value)

    trainer = _Trainer(model, config, out, placement.view(val_batches) if val_batches else None, log)
    trainer.scorer = distribute.global_scorer(trainer.scorer)  # several hosts: the NLL over all of their rows
    if saved is not None:
        trainer.state.update({k: v for k, v in saved.items() if k in trainer.state})
    trainer.state.update(
        seed=config.seed,
        val_split=config.val_split,
        fingerprint=fingerprint,
        optimizer=config.optimizer,
        ema=config.ema,
        steps_per_epoch=config.steps_per_epoch,
        titles=config.titles,
        untitled_fraction=config.untitled_fraction,
        lineage_before=earlier,
        from_file=from_file,
    )
    start_epoch = trainer.state["epoch"]
    trainer.guard.checkpoint_epoch = start_epoch or None  # resumed: the checkpoint it continues

    log(
        f"vocabulary {len(vocab)} tokens · {len(train_poems)} training poems ({train_batches.real_tokens} characters)"
        f" · {len(val_poems)} validation poems · {len(train_batches.shapes())} batch shapes, padding"
        f" {train_batches.padding():.1%} of computed tokens · backend {keras.backend.backend()}"
    )
    log(distribute.describe(placement))
    log(chosen.describe())
    if resume:
        log(f"resuming after epoch {start_epoch} from {trainer.checkpoint}")

    interrupted = False
    from tangpoet.training.interrupts import StopOnInterrupt

    stop = StopOnInterrupt()  # a real Ctrl-C ends the run even where Keras swallows it (tangpoet/interrupts.py)
    callbacks = [stop, _EpochEnd(trainer), EpochProgress(config.epochs)]  # progress last: it prints the epoch's val_nll
    try:  # the handler armed() leaves for the save (interrupts.py) lasts until the result
        try:
            with stop.armed():
                for epoch in range(start_epoch, config.epochs):
                    if trainer.should_stop():
                        break
                    epoch_batches.set_epoch(epoch)
                    model.optimizer.learning_rate.assign(config.learning_rate(epoch))
                    model.fit(
                        epoch_input(placement.view(epoch_batches)),
                        initial_epoch=epoch,
                        epochs=epoch + 1,
                        shuffle=False,  # Batches shuffles, seeded by (seed, epoch); Keras would use global state
                        verbose=verbose,
                        callbacks=callbacks,
                    )
                    trainer.restore_raw_weights()  # --ema: fit's end put the average in
        except KeyboardInterrupt:
            interrupted = True

        state = trainer.state
        if state["best_weights"] is not None:
            model.set_weights(state["best_weights"])
        model.metadata = _metadata(model, config, report, state, len(train_poems), len(val_poems), fingerprint)
        model.metadata["training"]["precision"] = chosen.precision  # the file itself loads in float32 (precision.py)
        if titled:
            from tangpoet.data.titles import model_record

            model.metadata["titles"] = model_record(titled[2])
        from tangpoet.decoding.constraints.verse import corpus_verse_chars

        verse_chars = corpus_verse_chars(p.content for p in train_poems)  # free verse's bounds when writing (`verse`)
        if verse_chars is not None:
            model.metadata["corpus"]["verse_chars"] = list(verse_chars)
        model.metadata["lineage"] = finetune.lineage(
            earlier, model.metadata["corpus"], model.metadata["training"], model.metadata["split"], from_file
        )
        wrote = not (interrupted and state["epoch"] == start_epoch)  # Ctrl-C before an epoch ended: write nothing
        if wrote:
            with trainer.guard.saving(out):  # other hosts of a multi-host run: a throwaway copy, as for the checkpoint
                save_model(model, distribute.output_path(out))
        interrupted = interrupted or stop.requested  # a first Ctrl-C during the save: it finished, then fit stops
        return TrainResult(
            out=out,
            epochs_run=state["epoch"],
            best_epoch=state["best_epoch"],
            best_val_nll=state["best_val_nll"] if val_batches is not None else None,
            history=state["history"],
            interrupted=interrupted,
            stopped_early=trainer.stopped_early,
            seconds=time.perf_counter() - started,
            train_tokens=train_batches.real_tokens,
            saved=wrote,
            checkpoint_epoch=trainer.guard.checkpoint_epoch,
        )
    finally:
        stop.restore()


def _titled(train_poems, val_poems, config, log):
    """``fit --titles``: the cleaned titles of the training poems (a seeded ``untitled_fraction`` of them blanked)
    and of the validation poems, and the :class:`~tangpoet.data.titles.TitleReport`."""
    from tangpoet.data.titles import clean_titles, draw_untitled

    titles, report = clean_titles([*train_poems, *val_poems])
    train_titles, drawn = draw_untitled(titles[: len(train_poems)], config.untitled_fraction, config.seed)
    report.untitled_fraction, report.untitled_drawn = config.untitled_fraction, drawn
    log(report.format())
    return train_titles, titles[len(train_poems) :], report


def _start_from(base, config, train_poems, extend_vocab, log, titled=None):
    """The model a fine-tuning run starts from, the base's lineage, and the base file's name and fingerprint."""
    path = finetune.resolve_base(base)
    model = load_model(path)
    for name in ARCHITECTURE:  # the base's architecture wins (the CLI refuses typed options that differ)
        setattr(config, name, model.hyperparameters()[name])
    earlier = finetune.base_stages(model, path)
    texts = [p.content for p in train_poems] + (titled[0] if titled else [])
    if extend_vocab:
        model, added = finetune.extend_vocabulary(model, texts, config.min_count)
        log(f"vocabulary extended by {len(added)} characters (rows started from <unk>'s) from {path.name}")
    unknown = finetune.unknown_characters(model.vocab, texts)
    if unknown:
        total = sum(unknown.values())
        log(
            f"{total} training characters ({len(unknown)} distinct) are not in {path.name}'s vocabulary and are read as"
            " <unk>" + ("" if extend_vocab else " (--extend-vocab adds them)")
        )
    return model, earlier, {"file": path.name, "fingerprint": earlier[-1]["file_fingerprint"]}


class Stream:
    """Epochs of ``steps`` batches each from the endless stream pass 0, pass 1, … of ``batches`` (each pass re-planned
    by ``set_epoch(pass)``): epoch ``e`` is batches ``e·steps … (e+1)·steps − 1`` of the stream, a function of ``e``
    only, so ``--resume`` stays exact. ``fit --steps-per-epoch``: checkpoints, validation and the learning-rate
    decay every ``steps`` batches on a corpus whose pass takes hours."""

    def __init__(self, batches: Batches, steps: int):
        self.batches, self.steps, self.start = batches, int(steps), 0

    def set_epoch(self, epoch: int) -> None:
        self.start = int(epoch) * self.steps

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int):
        if not 0 <= index < self.steps:
            raise IndexError(index)
        passes, position = divmod(self.start + index, len(self.batches))
        if self.batches.epoch != passes:
            self.batches.set_epoch(passes)
        return self.batches[position]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


def _metadata(model, config, report, state, n_train, n_val, fingerprint) -> dict[str, Any]:
    cell = model.recurrent[0]
    spec = get_cell(config.cell)
    return {
        "tangpoet_version": __version__,
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "python": platform.python_version(),
        "cells": [
            {
                "name": config.cell,
                "distribution": getattr(spec, "distribution", None),
                "class": f"{type(cell.cell).__module__}.{type(cell.cell).__qualname__}",
            }
        ],
        "hyperparameters": {k: v for k, v in asdict(config).items()},
        "corpus": report.to_dict(),
        "split": {"train_poems": n_train, "val_poems": n_val, "seed": config.seed, "fingerprint": fingerprint},
        "training": {
            "epochs": state["epoch"],
            "best_epoch": state["best_epoch"],
            "val_nll": state["best_val_nll"] if n_val else None,
            "val_perplexity": math.exp(state["best_val_nll"]) if n_val and state["best_val_nll"] is not None else None,
            "seconds": round(state["seconds"], 1),
            "history": state["history"],
        },
    }
