from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tangpoet.errors import VocabularyError
from tangpoet.data.vocab import BOS_ID, EOS_ID, PAD_ID, SPECIALS, UNK_ID, Vocabulary


def test_specials_come_first_with_fixed_ids():
    vocab = Vocabulary.build(["春眠"])
    assert vocab.tokens[:4] == list(SPECIALS)
    assert (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)


def test_characters_by_descending_frequency_ties_in_first_seen_order():
    vocab = Vocabulary.build(["月山月", "水山月"])
    assert vocab.tokens[4:] == ["月", "山", "水"]


def test_min_count_cuts_rare_characters():
    vocab = Vocabulary.build(["月月山"], min_count=2)
    assert "月" in vocab and "山" not in vocab
    assert vocab.encode("山月").tolist() == [UNK_ID, vocab.id("月")]


def test_encode_adds_bos_and_eos():
    vocab = Vocabulary.build(["春风"])
    ids = vocab.encode("春风", bos=True, eos=True)
    assert ids.dtype == np.int32
    assert ids.tolist() == [BOS_ID, 4, 5, EOS_ID]


def test_decode_stops_at_eos_and_skips_pad_bos():
    vocab = Vocabulary.build(["春风"])
    assert vocab.decode([BOS_ID, 4, PAD_ID, 5, EOS_ID, 4]) == "春风"
    assert vocab.decode([4, UNK_ID]) == "春□"


def test_strict_encode_names_the_unknown_character():
    vocab = Vocabulary.build(["春风"])
    with pytest.raises(VocabularyError, match="'雪'"):
        vocab.encode("春雪", strict=True)
    assert vocab.unknown("春雪雨雪") == ["雪", "雨"]


def test_special_tokens_are_not_characters():
    vocab = Vocabulary.build(["春"])
    assert "<eos>" not in vocab
    with pytest.raises(VocabularyError):
        vocab.id("<eos>")


@pytest.mark.parametrize(
    "tokens",
    [["<pad>", "<unk>", "<bos>"], list(SPECIALS) + ["春", "春"], list(SPECIALS) + ["春风"], ["春"] + list(SPECIALS)],
)
def test_malformed_vocabularies_are_rejected(tokens):
    with pytest.raises(VocabularyError):
        Vocabulary(tokens)


def test_min_count_below_one_is_rejected():
    with pytest.raises(VocabularyError):
        Vocabulary.build(["春"], min_count=0)


cjk = st.characters(min_codepoint=0x4E00, max_codepoint=0x4E80)


@given(st.lists(st.text(alphabet=cjk, min_size=1, max_size=20), min_size=1, max_size=10))
def test_round_trip_through_config_and_encoding(texts):
    vocab = Vocabulary.build(texts)
    restored = Vocabulary.from_config(vocab.to_config())
    assert restored == vocab
    for text in texts:
        assert restored.decode(restored.encode(text, bos=True, eos=True)) == text
