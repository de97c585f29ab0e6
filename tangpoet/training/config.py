"""What a training run is asked to do (:class:`TrainConfig`), what it did (:class:`TrainResult`) and where its
checkpoint goes (:func:`checkpoint_path`).

No Keras here: ``tangpoet fit`` builds and validates its configuration, and reads and checks its corpus, before the
backend is imported (a bad argument or corpus is refused in a fraction of a second). :mod:`tangpoet.training.trainer`
re-exports every name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tangpoet.errors import TangpoetError
from tangpoet.training.precision import PRECISIONS

__all__ = ["ARCHITECTURE", "OPTIMIZER_NAMES", "TrainConfig", "TrainResult", "checkpoint_path"]

# --optimizer's choices; tangpoet.training.trainer.OPTIMIZERS builds each, with global-norm clipping (--clip-norm).
OPTIMIZER_NAMES = ("adam", "rmsprop", "sgd")

ARCHITECTURE = ("cell", "num_layers", "units", "embedding_dim", "dropout", "embedding_dropout", "tie_embeddings", "cell_options")


@dataclass
class TrainConfig:
    cell: str = "lstm"
    num_layers: int = 2
    units: int = 256
    embedding_dim: int = 128
    dropout: float = 0.0
    embedding_dropout: float = 0.0
    tie_embeddings: bool = False
    cell_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3
    lr_decay: float = 1.0  # the learning rate of epoch e (from 0) is lr * lr_decay**e
    clip_norm: float = 5.0
    val_split: float = 0.05
    min_count: int = 1
    seed: int = 0
    patience: int = 3  # epochs without a better validation NLL before stopping; 0 turns early stopping off
    data_parallel: bool = False  # split each global batch over all devices (tangpoet.training.distribute)
    optimizer: str = "adam"  # adam | rmsprop | sgd (OPTIMIZER_NAMES), always with global-norm clipping
    steps_per_epoch: int | None = None  # an epoch of this many batches from an endless stream of passes (None: a pass)
    ema: float = 0.0  # > 0: validate, keep and save the exponential moving average of the weights (this momentum/step)
    precision: str = "auto"  # auto | bf16 | fp32: what the layers compute in (tangpoet.training.precision)
    titles: bool = False  # title-aware: train on "<eos> title <bos> content" (tangpoet.data.titles)
    untitled_fraction: float = 0.3  # with titles: the share of titled training poems trained without their title

    def validate(self) -> None:
        checks = [
            (self.epochs >= 1, "--epochs must be at least 1"),
            (self.batch_size >= 1, "--batch-size must be at least 1"),
            (self.num_layers >= 1, "--layers must be at least 1"),
            (self.units >= 1, "--units must be at least 1"),
            (self.embedding_dim >= 1, "--embedding-dim must be at least 1"),
            (0.0 <= self.dropout < 1.0, "--dropout must be in [0, 1)"),
            (0.0 <= self.embedding_dropout < 1.0, "--embedding-dropout must be in [0, 1)"),
            (0.0 <= self.val_split < 1.0, "--val-split must be in [0, 1)"),
            (self.lr > 0, "--lr must be positive"),
            (0.0 < self.lr_decay <= 1.0, "--lr-decay must be in (0, 1]"),
            (self.clip_norm > 0, "--clip-norm must be positive"),
            (self.min_count >= 1, "--min-count must be at least 1"),
            (self.patience >= 0, "--patience must not be negative"),
            (self.optimizer in OPTIMIZER_NAMES, f"--optimizer must be one of {', '.join(OPTIMIZER_NAMES)}"),
            (self.steps_per_epoch is None or self.steps_per_epoch >= 1, "--steps-per-epoch must be at least 1"),
            (0.0 <= self.ema < 1.0, "--ema must be in [0, 1) (0: off)"),
            (self.precision in PRECISIONS, f"--precision must be one of {', '.join(PRECISIONS)}"),
            (0.0 <= self.untitled_fraction <= 1.0, "--untitled-fraction must be in [0, 1]"),
        ]
        for ok, message in checks:
            if not ok:
                raise TangpoetError(message)

    def learning_rate(self, epoch: int) -> float:
        """The learning rate of ``epoch`` (counted from 0): a function of the epoch only, so resume stays exact."""
        return self.lr * self.lr_decay**epoch

    def architecture(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ARCHITECTURE}


@dataclass
class TrainResult:
    out: Path
    epochs_run: int  # epochs completed in total (including before a resume)
    best_epoch: int | None
    best_val_nll: float | None
    history: list[dict[str, float]]
    interrupted: bool
    stopped_early: bool
    seconds: float
    train_tokens: int
    saved: bool = True  # False: interrupted before this run's first epoch ended, and nothing was written
    checkpoint_epoch: int | None = None  # the epoch of the checkpoint to --resume from (None: this run has none)


def checkpoint_path(out: str | os.PathLike) -> Path:
    return Path(str(out) + ".ckpt")
