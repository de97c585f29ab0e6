"""Titles when writing with a title-aware model (:mod:`tangpoet.data.titles` holds the format).

* :func:`read_title` — a title typed by a user, read like a corpus title (serial numbers and marks dropped, either
  script), refused in one line when the model cannot take it;
* :func:`write_title` — ``--title auto``: the model writes the title first, from ``<eos>`` to the ``<bos>`` that
  closes it, one character at a time with the request's decoder (its :meth:`~tangpoet.decoding.base.Decoder.choose`;
  a search decoder such as beam, which has none, takes the likeliest character), ideographs only.
"""

from __future__ import annotations

import numpy as np

from tangpoet.data.titles import MAX_TITLE_LENGTH, TITLE_END_ID, TITLE_START_ID, clean_title, is_title_aware
from tangpoet.data.vocab import SPECIALS
from tangpoet.errors import DecoderOptionError, VocabularyError

AUTO = "auto"  # write(title="auto"): the model writes the title


def check_title_request(title) -> str | None:
    """``title`` as given (``None`` / ``""``: no title), refused in one line when it is not text or far too long —
    before the model is loaded."""
    if title is None or title == "":
        return None
    if not isinstance(title, str):
        raise DecoderOptionError("the title must be text")
    if len(title) > 4 * MAX_TITLE_LENGTH:
        raise DecoderOptionError(f"the title has {len(title):,} characters; a title may have at most {MAX_TITLE_LENGTH}")
    return title


def require_title_aware(model, source: str = "the model") -> None:
    """One line when ``model`` was trained without titles: it cannot read one."""
    if not is_title_aware(getattr(model, "metadata", None)):
        raise DecoderOptionError(
            f"{source} was trained without titles, so it cannot write to one: use a title-aware model "
            "(trained with `tangpoet fit --titles`) or leave out the title"
        )


def read_title(title: str, vocab, recorded_script: str | None = None) -> str:
    """The title the model is conditioned on: cleaned like a corpus title (``秋日二首 一`` → ``秋日``), a title typed in
    the other script converted (:func:`tangpoet.data.script.to_vocabulary`); one line if nothing is left, it is too
    long, or the model does not know a character."""
    from tangpoet.data import script as scripts

    cleaned, why = clean_title(title)
    if why is not None:
        if why == "too long":
            raise DecoderOptionError(f"the title {title!r} is too long: a title may have at most {MAX_TITLE_LENGTH} characters")
        raise DecoderOptionError(f"the title {title!r} has no character a title can use (Chinese characters)")
    cleaned = scripts.to_vocabulary(cleaned, vocab, recorded_script)
    unknown = vocab.unknown(cleaned)
    if unknown:
        raise VocabularyError(f"the model does not know {''.join(unknown)!r} (in title {cleaned!r})")
    return cleaned


def _title_characters(vocab) -> np.ndarray:
    allowed = np.zeros(len(vocab), dtype=bool)
    for i, token in enumerate(vocab.tokens):
        if i >= len(SPECIALS) and len(token) == 1 and ("\u3400" <= token <= "\u9fff" or "\uf900" <= token <= "\ufaff"):
            allowed[i] = True
    return allowed


def write_title(stepper, decoder, rng: np.random.Generator, *, max_length: int = MAX_TITLE_LENGTH) -> str:
    """``--title auto``: a title written by the model behind ``stepper`` (a title-aware one) with ``decoder``."""
    vocab = stepper.vocab
    allowed = _title_characters(vocab)
    from tangpoet.decoding.base import Decoder

    choose = decoder.choose
    if type(decoder).choose is Decoder.choose:  # a search decoder (it overrides the loop, not choose): the likeliest
        choose = lambda rows, _rng: np.argmax(rows, axis=-1)  # noqa: E731
    log_probs, state = stepper.prime(np.asarray([TITLE_START_ID], dtype=np.int32), 1)
    chosen: list[int] = []
    while True:
        mask = allowed.copy() if len(chosen) < max_length else np.zeros_like(allowed)
        mask[TITLE_END_ID] = bool(chosen)  # the title ends once it has a character
        row = np.where(mask, log_probs[0], -np.inf).astype(np.float32)[None, :]
        token = int(np.asarray(choose(row, rng)).reshape(-1)[0])
        if token == TITLE_END_ID:
            break
        chosen.append(token)
        log_probs, state = stepper.step(np.asarray([token], dtype=np.int32), state)
    return vocab.decode(chosen)
