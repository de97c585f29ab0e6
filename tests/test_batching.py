from __future__ import annotations

import numpy as np
import pytest

from tangpoet.data.batching import Batches, shift
from tangpoet.data.vocab import BOS_ID, EOS_ID, PAD_ID

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
        assert inputs.shape[1] in batches.buckets and len(inputs) == 8  # every batch: a bucket length, full rows
        for row_in, row_t in zip(inputs, targets):
            n = int((row_t != PAD_ID).sum())
            if n == 0:  # a filler row of the partial batch: nothing but padding
                assert (row_in == PAD_ID).all()
                continue
            assert (row_t[n:] == PAD_ID).all() and (row_in[n:] == PAD_ID).all()  # padding only on the right
            assert row_in[0] == BOS_ID and row_t[n - 1] == EOS_ID
            seen.append(tuple(row_t[: n - 1]))
    assert sorted(seen) == sorted(tuple(s) for s in SEQUENCES)


def test_real_token_count_matches_targets():
    batches = Batches(SEQUENCES, 8, seed=1)
    assert batches.real_tokens == sum(int((t != PAD_ID).sum()) for _, t in batches)
    assert batches.padded_tokens() == sum(t.size for _, t in batches)


def test_bucketing_computes_fewer_pad_tokens_than_random_batches():
    batches = Batches(SEQUENCES, 8, seed=1, max_buckets=len(SEQUENCES))
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
    assert batches.batch_lengths == sorted(batches.batch_lengths)


def test_invalid_arguments():
    with pytest.raises(ValueError):
        Batches(SEQUENCES, 0)
    with pytest.raises(ValueError):
        Batches([], 4)


def test_padded_lengths_are_bucketed_coarser_for_long_poems():
    from tangpoet.data.batching import padded_length

    assert [padded_length(n) for n in (1, 8, 9, 120, 128)] == [8, 8, 16, 120, 128]  # multiples of 8 up to 128
    assert [padded_length(n) for n in (129, 200, 257, 3000)] == [144, 208, 288, 3072]  # 8 lengths per doubling
    assert padded_length(300, 1) == 300  # pad_multiple 1: no padding beyond the longest poem
    lengths = range(1, 3000)
    assert all(padded_length(n) >= n and padded_length(n) % 8 == 0 for n in lengths)
    assert all(padded_length(n) <= n * 1.125 + 8 for n in lengths)  # at most 1/8 longer (plus the multiple)
    assert len({padded_length(n) for n in lengths}) < len({-(-n // 8) * 8 for n in lengths}) / 2


def _corpus_like(n: int, seed: int = 0) -> list[np.ndarray]:
    """Lengths like a poem corpus: most at the forms' lengths (24, 32, 48, 64 with punctuation), a long tail."""
    r = np.random.default_rng(seed)
    forms = r.choice([24, 32, 48, 64], size=n, p=[0.3, 0.25, 0.15, 0.3])
    tail = r.integers(10, 200, size=n)
    lengths = np.where(r.random(n) < 0.8, forms, tail)
    return [np.full(k, 5, dtype=np.int32) for k in lengths]


@pytest.mark.parametrize("n, batch_size", [(3, 8), (97, 8), (1000, 64), (4000, 64)])
def test_an_epoch_has_at_most_max_buckets_shapes_every_epoch(n, batch_size):
    from tangpoet.data.batching import MAX_BUCKETS

    batches = Batches(_corpus_like(n), batch_size, seed=2)
    for epoch in range(3):
        batches.set_epoch(epoch)
        shapes = {x.shape for x, _ in batches}
        assert shapes == set(batches.shapes()) and len(shapes) <= MAX_BUCKETS
        assert all(rows == min(batch_size, n) for rows, _ in shapes)  # the partial batch too: filler rows


def test_padding_is_small_where_lengths_cluster():
    batches = Batches(_corpus_like(20_000), 64, seed=0)
    assert batches.padding() < 0.06  # a random tail of 20 % spread over 10..200; ~13 % before buckets were chosen
    clustered = Batches([np.full(k, 5) for k in [24] * 640 + [32] * 640 + [64] * 640], 64, seed=0)
    assert clustered.padding() == 0  # three lengths, whole batches: no pad token at all


def test_buckets_minimise_padding_exactly():
    from itertools import combinations

    from tangpoet.data.batching import choose_buckets

    lengths = [3, 3, 4, 7, 7, 7, 9, 12, 12, 20]
    best = min(
        (sum(min(b for b in (*chosen, 20) if b >= n) - n for n in lengths), sorted({*chosen, 20}))
        for chosen in combinations(sorted(set(lengths)), 2)
    )
    chosen = choose_buckets(lengths, 3)
    assert chosen[-1] == 20 and len(chosen) <= 3
    assert sum(min(b for b in chosen if b >= n) - n for n in lengths) == best[0]


def test_every_poem_is_seen_once_per_epoch_and_plans_are_seeded():
    sequences = _corpus_like(500, seed=3)
    a, b = Batches(sequences, 16, seed=4), Batches(sequences, 16, seed=4)
    for epoch in range(3):
        a.set_epoch(epoch), b.set_epoch(epoch)
        members = np.concatenate(a.batches)
        assert sorted(members.tolist()) == list(range(500))
        assert [m.tolist() for m in a.batches] == [m.tolist() for m in b.batches]
    other = Batches(sequences, 16, seed=5)
    other.set_epoch(2)
    assert [m.tolist() for m in other.batches] != [m.tolist() for m in a.batches]


def test_validation_batches_take_the_training_buckets():
    train = Batches(_corpus_like(300), 16, seed=0)
    val = Batches(_corpus_like(40, seed=9) + [np.full(300, 5)], 16, shuffle=False, buckets=train.buckets)
    from tangpoet.data.batching import padded_length

    # a poem longer than every bucket (301 tokens): a bucket of its own, rounded as before buckets were chosen
    assert set(val.batch_lengths) <= set(train.buckets) | {padded_length(301)} and padded_length(301) in val.batch_lengths
