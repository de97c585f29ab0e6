from __future__ import annotations

import numpy as np
import pytest

from tangpoet.batching import Batches, shift
from tangpoet.vocab import BOS_ID, EOS_ID, PAD_ID

rng = np.random.default_rng(0)
SEQUENCES = [rng.integers(4, 50, size=n).astype(np.int32) for n in rng.integers(3, 60, size=97)]


def test_shift_makes_bos_inputs_and_eos_targets():
    inputs, targets = shift(np.array([7, 8, 9]))
    assert inputs.tolist() == [BOS_ID, 7, 8, 9]
    assert targets.tolist() == [7, 8, 9, EOS_ID]


def test_every_poem_appears_once_per_epoch_with_right_padding():
    batches = Batches(SEQUENCES, 8, seed=1)
    seen = []
    for inputs, targets in batches:
        assert inputs.shape == targets.shape
        assert inputs.shape[1] % 8 == 0
        for row_in, row_t in zip(inputs, targets):
            n = int((row_t != PAD_ID).sum())
            assert (row_t[n:] == PAD_ID).all() and (row_in[n:] == PAD_ID).all()  # padding only on the right
            assert row_in[0] == BOS_ID and row_t[n - 1] == EOS_ID
            seen.append(tuple(row_t[: n - 1]))
    assert sorted(seen) == sorted(tuple(s) for s in SEQUENCES)


def test_real_token_count_matches_targets():
    batches = Batches(SEQUENCES, 8, seed=1)
    assert batches.real_tokens == sum(int((t != PAD_ID).sum()) for _, t in batches)
    assert batches.padded_tokens() == sum(t.size for _, t in batches)


def test_bucketing_computes_fewer_pad_tokens_than_random_batches():
    batches = Batches(SEQUENCES, 8, seed=1, pad_multiple=1)
    random_order = rng.permutation(len(SEQUENCES))
    unbucketed = sum(
        (max(len(SEQUENCES[i]) for i in random_order[k : k + 8]) + 1) * len(random_order[k : k + 8])
        for k in range(0, len(SEQUENCES), 8)
    )
    assert batches.padded_tokens() < unbucketed
    assert 1 - batches.real_tokens / batches.padded_tokens() < 0.1


def test_same_seed_same_plan_and_epochs_differ():
    a, b = Batches(SEQUENCES, 8, seed=3), Batches(SEQUENCES, 8, seed=3)
    assert all((x[0] == y[0]).all() for x, y in zip(a, b))
    first = [m.tolist() for m in a.batches]
    a.set_epoch(1)
    assert [m.tolist() for m in a.batches] != first
    a.set_epoch(0)
    assert [m.tolist() for m in a.batches] == first


def test_unshuffled_order_is_by_length():
    batches = Batches(SEQUENCES, 10, shuffle=False)
    lengths = [batches.lengths[m].max() for m in batches.batches]
    assert lengths == sorted(lengths)


def test_invalid_arguments():
    with pytest.raises(ValueError):
        Batches(SEQUENCES, 0)
    with pytest.raises(ValueError):
        Batches([], 4)


def test_padded_lengths_are_bucketed_coarser_for_long_poems():
    from tangpoet.batching import padded_length

    assert [padded_length(n) for n in (1, 8, 9, 120, 128)] == [8, 8, 16, 120, 128]  # multiples of 8 up to 128
    assert [padded_length(n) for n in (129, 200, 257, 3000)] == [144, 208, 288, 3072]  # 8 lengths per doubling
    assert padded_length(300, 1) == 300  # pad_multiple 1: no padding beyond the longest poem
    lengths = range(1, 3000)
    assert all(padded_length(n) >= n and padded_length(n) % 8 == 0 for n in lengths)
    assert all(padded_length(n) <= n * 1.125 + 8 for n in lengths)  # at most 1/8 longer (plus the multiple)
    assert len({padded_length(n) for n in lengths}) < len({-(-n // 8) * 8 for n in lengths}) / 2
