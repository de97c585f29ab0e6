"""The character vocabulary: ``<pad>``=0, ``<unk>``, ``<bos>``, ``<eos>``, then characters by descending frequency."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from tangpoet.errors import VocabularyError

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = range(4)


class Vocabulary:
    """A fixed mapping between characters and integer ids."""

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise VocabularyError(f"a vocabulary must start with {', '.join(SPECIALS)}")
        if len(set(tokens)) != len(tokens):
            raise VocabularyError("a vocabulary must not list a token twice")
        for token in tokens[len(SPECIALS) :]:
            if not isinstance(token, str) or len(token) != 1:
                raise VocabularyError(f"vocabulary entries must be single characters, got {token!r}")
        self.tokens = tokens
        self._index = {token: i for i, token in enumerate(tokens)}

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 1) -> Vocabulary:
        """Characters seen at least ``min_count`` times, most frequent first (ties in first-seen order)."""
        if min_count < 1:
            raise VocabularyError("min_count must be at least 1")
        counts = Counter()
        for text in texts:
            counts.update(text)
        # Counter.most_common keeps insertion order among equal counts, so the result is deterministic.
        chars = [char for char, count in counts.most_common() if count >= min_count]
        return cls(list(SPECIALS) + chars)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, char: str) -> bool:
        return char in self._index and self._index[char] >= len(SPECIALS)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens)"

    def id(self, char: str) -> int:
        """The id of ``char``; :class:`VocabularyError` if the model does not know it."""
        try:
            index = self._index[char]
        except KeyError:
            raise VocabularyError(f"character {char!r} is not in the model's vocabulary") from None
        if index < len(SPECIALS):
            raise VocabularyError(f"{char!r} is a special token, not a character")
        return index

    def encode(self, text: str, *, bos: bool = False, eos: bool = False, strict: bool = False) -> np.ndarray:
        """Ids of ``text``. Unknown characters become ``<unk>``, or raise with ``strict=True``."""
        if strict:
            ids = [self.id(char) for char in text]
        else:
            ids = [self._index.get(char, UNK_ID) for char in text]
        if bos:
            ids.insert(0, BOS_ID)
        if eos:
            ids.append(EOS_ID)
        return np.asarray(ids, dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``: stops at ``<eos>``, skips ``<pad>``/``<bos>``, shows ``<unk>`` as ``□``."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i in (PAD_ID, BOS_ID):
                continue
            if i == UNK_ID or not 0 <= i < len(self.tokens):
                out.append("□")
                continue
            out.append(self.tokens[i])
        return "".join(out)

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` the vocabulary does not hold, in order, without repeats."""
        return list(dict.fromkeys(char for char in text if char not in self))

    def to_config(self) -> list[str]:
        return list(self.tokens)

    @classmethod
    def from_config(cls, tokens: Sequence[str]) -> Vocabulary:
        return cls(tokens)
