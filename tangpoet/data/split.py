"""The seeded train/validation split and the corpus fingerprint (no Keras: benchmarks and tools import it)."""

from __future__ import annotations

import hashlib

import numpy as np

from tangpoet.data.corpus import Poem


def split_poems(poems: list[Poem], val_split: float, seed: int) -> tuple[list[Poem], list[Poem]]:
    """A seeded random split into (train, validation); the validation share is ``val_split``."""
    if val_split <= 0 or len(poems) < 2:
        return list(poems), []
    order = np.random.default_rng(seed).permutation(len(poems))
    n_val = min(len(poems) - 1, max(1, int(round(len(poems) * val_split))))
    val_idx = set(order[:n_val].tolist())
    train = [p for i, p in enumerate(poems) if i not in val_idx]
    val = [p for i, p in enumerate(poems) if i in val_idx]
    return train, val


def corpus_fingerprint(poems: list[Poem]) -> str:
    digest = hashlib.sha256()
    for poem in poems:
        digest.update(poem.content.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()[:16]


def training_split(
    poems: list[Poem], val_split: float, seed: int, *, val_from: list[Poem] | None = None
) -> tuple[list[Poem], list[Poem], int]:
    """``(train, validation, dropped)``: the seeded split of ``poems`` — or with ``val_from`` the split of those poems,
    their training part trained on beside all of ``poems`` — less every training poem whose content equals a
    validation poem's (``dropped`` counts them), so that the held-out figure is held out."""
    if val_from is None:
        train, val = split_poems(poems, val_split, seed)
    else:
        val_train, val = split_poems(val_from, val_split, seed)
        train = [*val_train, *poems]
    held_out = {p.content for p in val}
    kept = [p for p in train if p.content not in held_out]
    return kept, val, len(train) - len(kept)
