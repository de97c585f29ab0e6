"""What a model file says about itself, read from its config without building the model or importing Keras.

``read_config`` checks that a file is a tangpoet model (clear errors for missing, damaged or foreign files);
``describe`` summarises it for ``tangpoet info``.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

from tangpoet.errors import ModelFileError


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """The model's config (architecture, vocabulary, metadata) read from the file without building the model."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ModelFileError(f"{path} is damaged or not a .keras model file ({exc})") from None
    if not isinstance(config, dict) or config.get("class_name") != "PoemModel":
        raise ModelFileError(f"{path} is a Keras file but not a tangpoet model")
    return config["config"]


def parameter_count(
    cell: str, num_layers: int, units: int, embedding_dim: int, vocab_size: int, tie_embeddings: bool = False
) -> int | None:
    """Weights of a built-in architecture (``None`` for plugin cells, whose sizes tangpoet cannot know)."""
    gates = {"rnn": 1, "lstm": 4, "gru": 3}.get(cell)
    if gates is None:
        return None
    if tie_embeddings:  # the output layer reuses the embedding matrix, through a projection if the widths differ
        head = (units * embedding_dim if units != embedding_dim else 0) + vocab_size
    else:
        head = units * vocab_size + vocab_size
    total = vocab_size * embedding_dim + head
    features = embedding_dim
    for _ in range(num_layers):
        bias = 2 * gates * units if cell == "gru" else gates * units  # Keras GRU: reset_after, two biases
        total += gates * units * (features + units) + bias
        features = units
    return total


def describe(path: str | os.PathLike) -> dict[str, Any]:
    """A summary of the model in ``path``: architecture, vocabulary, training corpus, held-out NLL, versions."""
    path = Path(path)
    config = read_config(path)
    meta = config.get("metadata") or {}
    training = meta.get("training") or {}
    vocab_size = len(config.get("vocabulary") or [])
    tied = bool(config.get("tie_embeddings", False))  # absent in files written before tying existed
    history = training.get("history") or []
    return {
        "model": str(path),
        "file_mb": round(path.stat().st_size / 1e6, 2),
        "cell": config.get("cell"),
        "cell_distribution": config.get("cell_distribution"),
        "num_layers": config.get("num_layers"),
        "units": config.get("units"),
        "embedding_dim": config.get("embedding_dim"),
        "dropout": config.get("dropout"),
        "embedding_dropout": config.get("embedding_dropout", 0.0),
        "tie_embeddings": tied,
        "vocab_size": vocab_size,
        "parameters": parameter_count(
            config.get("cell"),
            config.get("num_layers", 0),
            config.get("units", 0),
            config.get("embedding_dim", 0),
            vocab_size,
            tied,
        ),
        "corpus": meta.get("corpus"),
        "split": meta.get("split"),
        "hyperparameters": meta.get("hyperparameters"),
        "val_nll": training.get("val_nll"),
        "val_perplexity": training.get("val_perplexity"),
        "epochs": training.get("epochs"),
        "best_epoch": training.get("best_epoch"),
        "training_seconds": training.get("seconds"),
        "val_nll_per_epoch": [round(r["val_nll"], 4) for r in history if "val_nll" in r],
        "backend": meta.get("backend"),
        "tangpoet_version": meta.get("tangpoet_version"),
        "keras_version": meta.get("keras_version"),
    }


def format_info(info: dict[str, Any]) -> str:
    """``describe``'s summary as a few readable lines."""
    lines = [f"model      {info['model']} ({info['file_mb']} MB)"]
    arch = (
        f"{info['num_layers']} × {info['units']} {info['cell']}"
        + (f" (from {info['cell_distribution']})" if info.get("cell_distribution") not in (None, "tangpoet") else "")
        + f", embedding {info['embedding_dim']}"
        + (" (tied to the output layer)" if info.get("tie_embeddings") else "")
        + f", dropout {info['dropout']}"
        + (f", embedding dropout {info['embedding_dropout']}" if info.get("embedding_dropout") else "")
    )
    lines.append(f"cell       {arch}")
    params = f" · {info['parameters']:,} parameters" if info.get("parameters") else ""
    lines.append(f"vocabulary {info['vocab_size']:,} tokens{params}")
    corpus = info.get("corpus")
    if corpus:
        dropped = ", ".join(f"{n} {reason}" for reason, n in (corpus.get("dropped") or {}).items()) or "none"
        files = ", ".join(Path(f).name for f in corpus.get("files") or [])
        lines.append(
            f"corpus     {files}: read {corpus.get('read', 0):,} poems, kept {corpus.get('kept', 0):,}"
            f" ({corpus.get('characters', 0):,} characters); dropped: {dropped}"
        )
    split = info.get("split")
    if split:
        lines.append(f"split      {split.get('train_poems', 0):,} training / {split.get('val_poems', 0):,} held-out poems (seed {split.get('seed')})")
    if info.get("val_nll") is not None:
        lines.append(
            f"held-out   NLL {info['val_nll']:.4f} nats/char · perplexity {info['val_perplexity']:.1f}"
            f" · best epoch {info['best_epoch']} of {info['epochs']}"
            + (f" · {info['training_seconds'] / 60:.0f} min training" if info.get("training_seconds") else "")
        )
    if info.get("val_nll_per_epoch"):
        lines.append("curve      " + " ".join(f"{v:.2f}" for v in info["val_nll_per_epoch"]))
    hp = info.get("hyperparameters") or {}
    if hp:
        keys = ("lr", "lr_decay", "batch_size", "clip_norm", "min_count", "seed")
        lines.append("training   " + ", ".join(f"{k} {hp[k]}" for k in keys if k in hp))
    lines.append(
        f"versions   tangpoet {info.get('tangpoet_version')} · keras {info.get('keras_version')} · trained on {info.get('backend')}"
    )
    return "\n".join(lines)
