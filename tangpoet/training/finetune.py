"""Fine-tuning: a training run that starts from a model file (``tangpoet fit --from MODEL``).

The base file gives the weights, the architecture and the vocabulary. Characters of the new corpus that the
vocabulary lacks are read as ``<unk>`` (counted: :func:`unknown_characters`), or with ``extend_vocab`` become new
rows (:func:`extend_vocabulary`). The new file records its lineage (:func:`lineage`): each earlier stage (the base
file's name and fingerprint, the corpora it was trained on, its epochs) and this one; ``tangpoet info`` shows it.

How new rows start (:func:`extend_vocabulary`): a character the base vocabulary lacks was ``<unk>`` to the base model,
so its row starts as ``<unk>``'s row — the embedding ("a rare character", the context the model already learned for
it) and the output weights — and ``<unk>``'s output bias is shared: ``<unk>`` and the ``n`` new characters each get
``<unk>``'s old bias less ``log(n + 1)``, so together they have exactly the probability ``<unk>`` had. The base
model's probability of every known character is unchanged at step 0 (tested); a random row instead would give each
new character an arbitrary share of the probability and disturb the first steps of fine-tuning.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from tangpoet.errors import TangpoetError
from tangpoet.training.resume_check import RESUMED_OPTIONS, same_value, show_option
from tangpoet.data.vocab import UNK_ID, Vocabulary

BUNDLED = "bundled"  # --from bundled: the package's own model

# TrainConfig field -> the fit option that sets it: what the base model file fixes (resume_check's names)
ARCHITECTURE_OPTIONS = {
    name: RESUMED_OPTIONS[name]
    for name in ("cell", "num_layers", "units", "embedding_dim", "dropout", "embedding_dropout", "tie_embeddings")
}


def resolve_base(spec: str | os.PathLike) -> Path:
    """The model file ``--from`` names (``"bundled"``: the package's model); one line if there is none."""
    if str(spec) == BUNDLED:
        from tangpoet.pretrained import default_model_path

        return default_model_path()
    path = Path(spec)
    if not path.is_file():
        raise TangpoetError(f"--from {spec}: no such model file (a .keras file, or 'bundled')")
    return path


def file_fingerprint(path: str | os.PathLike) -> str:
    """The first 16 hex digits of the file's SHA-256."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def check_architecture_options(base: dict[str, Any], given: dict[str, Any]) -> None:
    """Refuse, in one line naming each, the options the user typed that would change the base's architecture."""
    differing = [
        f"{show_option(name, given[name])} (the base has {show_option(name, base.get(name))})"
        for name in ARCHITECTURE_OPTIONS
        if name in given and not same_value(given[name], base.get(name))
    ]
    if differing:
        raise TangpoetError(
            "--from keeps the base model's architecture, but " + ", ".join(differing) + ": leave these options out"
        )


def unknown_characters(vocab: Vocabulary, texts: Iterable[str]) -> Counter:
    """How often each character of ``texts`` that ``vocab`` lacks occurs."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(char for char in text if char not in vocab)
    return counts


def extend_vocabulary(model, texts: Iterable[str], min_count: int = 1):
    """A copy of ``model`` whose vocabulary also holds the characters of ``texts`` it lacked (seen at least
    ``min_count`` times, most frequent first), their rows started from ``<unk>``'s (module docstring); ``model``
    itself when there are none. Returns ``(model, added)``."""
    from tangpoet.model.poem_model import build_model

    unknown = unknown_characters(model.vocab, texts)
    added = [char for char, count in unknown.most_common() if count >= min_count]
    if not added:
        return model, []
    vocab = Vocabulary(list(model.vocab.tokens) + added)
    hyper = {k: v for k, v in model.hyperparameters().items() if k != "vocab_size"}
    new = build_model(vocab, **hyper)
    new.metadata = dict(model.metadata)
    old_size, n = len(model.vocab), len(added)
    for old_layer, new_layer in zip(_layers(model), _layers(new)):
        old_weights = old_layer.get_weights()
        new_weights = []
        for weight, shape in zip(old_weights, (w.shape for w in new_layer.get_weights())):
            new_weights.append(_grow(weight, shape, old_size, n, is_bias=weight.ndim == 1 and weight.shape[0] == old_size))
        new_layer.set_weights(new_weights)
    return new, added


def _layers(model):
    return [model.embedding, *model.recurrent, model.head]


def _grow(weight: np.ndarray, shape: tuple, old_size: int, n: int, *, is_bias: bool) -> np.ndarray:
    """``weight`` grown to ``shape`` along its vocabulary axis, new entries copied from ``<unk>``'s."""
    if tuple(weight.shape) == tuple(shape):
        return weight
    axis = next(i for i, (a, b) in enumerate(zip(weight.shape, shape)) if a != b)
    if weight.shape[axis] != old_size or shape[axis] != old_size + n:
        raise TangpoetError("cannot extend the vocabulary of this model: a weight does not follow the vocabulary")
    unk = np.take(weight, [UNK_ID], axis=axis)
    rows = np.repeat(unk, n, axis=axis)
    if is_bias:  # <unk> and the new characters share <unk>'s probability
        weight = weight.copy()
        weight[UNK_ID] -= math.log(n + 1)
        rows = rows - math.log(n + 1)
    return np.concatenate([weight, rows.astype(weight.dtype)], axis=axis)


def base_stages(model, base_path: Path) -> list[dict[str, Any]]:
    """The base model's lineage: its recorded stages, or one stage read from its training metadata; the last stage
    names the base file (its name and fingerprint)."""
    metadata = getattr(model, "metadata", None) or {}
    stages = [dict(stage) for stage in metadata.get("lineage") or [] if isinstance(stage, dict)]
    if not stages:
        corpus = metadata.get("corpus") if isinstance(metadata.get("corpus"), dict) else {}
        training = metadata.get("training") if isinstance(metadata.get("training"), dict) else {}
        stages = [_stage(corpus, training, metadata.get("split"), base=None)]
    stages[-1]["file"] = base_path.name
    stages[-1]["file_fingerprint"] = file_fingerprint(base_path)
    return stages


def _stage(corpus: dict, training: dict, split, *, base) -> dict[str, Any]:
    return {
        "corpus_files": [os.path.basename(f) for f in corpus.get("files", [])],
        "corpus_poems": corpus.get("kept"),
        "corpus_fingerprint": (split or {}).get("fingerprint") if isinstance(split, dict) else None,
        "script": corpus.get("script"),
        "epochs": training.get("epochs"),
        "val_nll": training.get("val_nll"),
        "from": base,
    }


def lineage(earlier: list[dict[str, Any]], corpus: dict, training: dict, split: dict, base: dict | None) -> list:
    """Every stage up to this run: ``earlier`` (the base's, empty for a run from scratch) and this one."""
    return [*earlier, _stage(corpus, training, split, base=base)]


__all__ = [
    "BUNDLED",
    "ARCHITECTURE_OPTIONS",
    "resolve_base",
    "file_fingerprint",
    "check_architecture_options",
    "unknown_characters",
    "extend_vocabulary",
    "base_stages",
    "lineage",
]
