"""``write()``: the library call behind ``tangpoet write``.

Everything that can be checked is checked before any decoding starts, cheapest first: the decoder name and its
options, the form name, the text of ``begin`` / ``acrostic`` (valid UTF-8), then — with the model's vocabulary —
unknown characters, an acrostic that does not match the form, a begin text the form forbids, a max length too short.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

import numpy as np

from tangpoet.decoding import get_decoder
from tangpoet.decoding.base import Candidate
from tangpoet.decoding.forms import LINE_END, get_form
from tangpoet.errors import DecoderOptionError

__all__ = ["Candidate", "resolve_seed", "split_lines", "write"]


def resolve_seed(seed: int | None) -> int:
    """``seed`` itself, or a fresh random one (so it can be reported and the poem written again)."""
    return secrets.randbelow(2**31) if seed is None else int(seed)


def split_lines(text: str) -> list[str]:
    """One entry per verse: ``text`` split after each of ``，。？！；`` (the mark stays with its line)."""
    lines, current = [], []
    for char in text:
        current.append(char)
        if char in LINE_END:
            lines.append("".join(current))
            current = []
    if current:
        lines.append("".join(current))
    return lines


def write(
    model,
    *,
    begin: str = "",
    acrostic: str = "",
    form: str | None = None,
    decoder: str = "greedy",
    num: int = 1,
    max_len: int | None = None,
    seed: int | None = 0,
    no_repeat: bool = True,
    no_repeat_ngram: int = 0,
    **decoder_options: Any,
) -> list[Candidate]:
    """Write up to ``num`` poems with ``model`` (a PoemModel or a path to a model file), best first.

    ``decoder`` names a registered decoder (``greedy``, ``sample``, ``top-k``, ``top-p``, ``beam``, or a plugin's);
    ``decoder_options`` are its options (``temperature``, ``top_k``, ``top_p``, ``beam_width``,
    ``length_penalty``); ``None`` values are ignored. The same ``seed`` on the same backend writes the same poems.
    """
    from tangpoet.decoding.constraints import build_constraints, check_text

    strategy = get_decoder(decoder, **decoder_options)
    if not isinstance(num, int) or num < 1:
        raise DecoderOptionError(f"the number of poems must be at least 1, got {num!r}")
    strategy.validate(num)
    if form:
        get_form(form)
    check_text("begin", begin or "")
    check_text("acrostic", acrostic or "")
    if isinstance(model, (str, os.PathLike)):
        from tangpoet.model import load_model

        model = load_model(model)
    constraints = build_constraints(
        model.vocab,
        begin=begin or "",
        acrostic=acrostic or "",
        form=form,
        max_len=max_len,
        no_repeat=no_repeat,
        no_repeat_ngram=no_repeat_ngram,
    )
    from tangpoet.decoding.stepper import StepDecoder

    rng = np.random.default_rng(resolve_seed(seed))
    return strategy.decode(StepDecoder.of(model), constraints.prompt, constraints.chain, constraints.max_len, rng, num=num)
