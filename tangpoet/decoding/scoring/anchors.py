"""Anchor poems for ``coherence``: an unrelated poem of a given shape, written by the model itself, deterministically.

The shape is the candidate's verses as lengths and marks (``"5，5。5，5。"``). The anchor is sampled from the model
(nucleus 0.9, a seed derived from the shape alone, characters only where the shape has characters, its marks where it
has marks, no character three times in a row), so it is what the model writes when nothing relates it to the
candidate: the same candidate gets the same score in every request, on every front end. Anchors are cached per model
and shape — and, written to a title (a title-aware model's ``<eos> title`` context), per title too: the
:data:`TITLED_CACHE` most recent titles of a model are kept (a server sees endless titles), so best-of-N samples its
anchors once per request rather than once per candidate.
"""

from __future__ import annotations

import weakref
import zlib
from collections import OrderedDict

import numpy as np

from tangpoet.decoding.forms import LINE_END
from tangpoet.decoding.nucleus import nucleus_draw
from tangpoet.data.vocab import BOS_ID

ANCHOR_TOP_P = 0.9
TITLED_CACHE = 256  # anchors of this many (title, shape, index) keys a model, the least recently used dropped
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model → {key: anchor}


def shape_of(text: str) -> str:
    """``"床前明月光，疑是地上霜。"`` → ``"5，5。"``: each verse's length and its mark (a cut last verse: no mark)."""
    out, count = [], 0
    for char in text:
        if char in LINE_END:
            out.append(f"{count}{char}")
            count = 0
        else:
            count += 1
    if count:
        out.append(str(count))
    return "".join(out)


def _layout(shape: str) -> list[str | None]:
    """Per position of a poem of ``shape``: its mark, or None for a character."""
    layout: list[str | None] = []
    number = ""
    for char in shape:
        if char.isdigit():
            number += char
            continue
        layout += [None] * int(number or 0) + [char]
        number = ""
    return layout + [None] * int(number or 0)


def anchor_tokens(stepper, shape: str, index: int = 0) -> tuple[int, ...]:
    """The ``index``-th anchor poem of ``shape`` for the stepper's model (ids, no ``<bos>``/``<eos>``)."""
    model = stepper.model
    context = tuple(int(t) for t in getattr(stepper, "context", ()))  # a title-aware model writing to a title
    per_model = _CACHE.get(model)
    if per_model is None:
        per_model = ({}, OrderedDict())  # untitled anchors (a few shapes: all kept), titled ones (bounded)
        try:
            _CACHE[model] = per_model
        except TypeError:  # not weak-referenceable: no cache
            pass
    if not context:
        plain = per_model[0]
        if (shape, index) not in plain:
            plain[(shape, index)] = _sample(stepper, shape, index)
        return plain[(shape, index)]
    titled, key = per_model[1], (context, shape, index)
    if key in titled:
        titled.move_to_end(key)
        return titled[key]
    titled[key] = anchor = _sample(stepper, shape, index)
    while len(titled) > TITLED_CACHE:
        titled.popitem(last=False)
    return anchor


def _sample(stepper, shape: str, index: int) -> tuple[int, ...]:
    from tangpoet.decoding.constraints.classes import TokenClasses

    vocab = stepper.vocab
    classes = TokenClasses.of(vocab)
    layout = _layout(shape)
    rng = np.random.default_rng([zlib.crc32(shape.encode("utf-8")), index, 25])
    chars = np.asarray(classes.char, dtype=bool)
    out: list[int] = []
    log_probs, state = stepper.prime(np.asarray([BOS_ID]), 1)
    for position, mark in enumerate(layout):
        if mark is not None and mark in vocab:
            token = vocab.id(mark)
        else:
            allowed = chars.copy()
            if len(out) >= 2 and out[-1] == out[-2]:
                allowed[out[-1]] = False
            row = np.where(allowed, np.asarray(log_probs[0], dtype=np.float64), -np.inf)[None, :]
            token = int(nucleus_draw(row, 1.0, ANCHOR_TOP_P, rng.random(1))[0])
        out.append(token)
        if position + 1 < len(layout):
            log_probs, state = stepper.step(np.asarray([token], dtype=np.int32), state)
    return tuple(out)
