"""Tiny models and an independent form checker shared by the decoding tests (not a test module)."""

from __future__ import annotations

import functools
import os
import secrets

import numpy as np

from tangpoet.decoding.forms import Form, get_form
from tangpoet.model.poem_model import build_model
from tangpoet.data.vocab import Vocabulary

TEXTS = (
    "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
    "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
    "月落乌啼霜满天，江枫渔火对愁眠。姑苏城外寒山寺，夜半钟声到客船！",
    "春夏秋冬东南西北？",
)
# Characters every tiny model knows (for acrostics and begins).
KNOWN = "春夏秋冬山月花风明夜江天白日"


PROPERTY_SEED = "TANGPOET_PROPERTY_SEED"


def property_seed() -> int | None:
    """The property tests' seed: None (unset: derandomized, the same examples every run), the number given, or for
    ``random`` a fresh one — drawn once and written back to the environment, so the report header, every test and
    any subprocess use (and print) the same one."""
    value = os.environ.get(PROPERTY_SEED, "").strip().lower()
    if not value:
        return None
    if value == "random":
        value = str(secrets.randbelow(2**32))
        os.environ[PROPERTY_SEED] = value
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{PROPERTY_SEED} must be a whole number or 'random', got {value!r}") from None


@functools.lru_cache(maxsize=None)
def vocab() -> Vocabulary:
    return Vocabulary.build(TEXTS)


def randomize(model, seed: int, scale: float = 0.6) -> None:
    """New random weights from numpy (the same on every backend; no recompilation: weights are not constants)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, scale, w.shape).astype(np.float32) for w in model.get_weights()])


@functools.lru_cache(maxsize=None)
def tiny_model(cell: str = "lstm", num_layers: int = 2, units: int = 8, seed: int = 0, tie_embeddings: bool = False):
    """A random-weight model (cached: one per argument tuple per session, so compiled steps are reused)."""
    model = build_model(
        vocab(), cell=cell, num_layers=num_layers, units=units, embedding_dim=6, tie_embeddings=tie_embeddings
    )
    randomize(model, seed)
    return model


def split(text: str) -> list[str]:
    lines, current = [], ""
    for char in text:
        current += char
        if char in "，。？！；":
            lines.append(current)
            current = ""
    return lines + ([current] if current else [])


def check_poem(text: str, *, form: str | Form | None = None, acrostic: str = "", begin: str = "") -> None:
    """Assert ``text`` obeys the request; written without tangpoet's constraint code."""
    assert text.startswith(begin), (text, begin)
    assert "□" not in text, text
    lines = split(text)
    if form is not None:
        form = get_form(form)
        assert len(lines) == form.lines, (text, form)
        for i, line in enumerate(lines):
            assert len(line) == form.chars + 1, (text, i, line)
            assert line[-1] == ("，" if i % 2 == 0 else "。"), (text, i, line)
            assert not any(c in "，。？！；" for c in line[:-1]), (text, line)
    if acrostic:
        assert len(lines) == len(acrostic), (text, acrostic)
        assert [line[0] for line in lines] == list(acrostic), (text, acrostic)
        if form is None:
            width = len(lines[0]) - 1
            assert width in (5, 7), text
            for i, line in enumerate(lines):
                assert len(line) == width + 1, (text, line)
                last = i == len(lines) - 1
                assert line[-1] == ("。" if i % 2 == 1 or last else "，"), (text, i, line)
    for a, b, c in zip(text, text[1:], text[2:]):
        assert not (a == b == c), f"{a} three times in a row in {text}"
