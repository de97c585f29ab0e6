"""The sampling filters and the draw equal their plain definitions (whole-row sorts), ties and -inf included.

``top_k_mask`` / ``nucleus`` / ``draw`` avoid sorting a 5,000-token row (most of a sampling step's time); the
reference functions below are the definitions they replaced, written out the slow way.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tangpoet.decoding.sampling import TopKDecoder, TopPDecoder, draw, nucleus_mask, top_k_mask


def reference_descending(row):
    return np.argsort(-row, kind="stable")


def reference_top_k(row, k):
    return np.sort(reference_descending(row)[:k])


def reference_nucleus(row, top_p):
    order = reference_descending(row)
    finite = np.isfinite(row[order])
    probs = np.where(finite, np.exp(row[order] - row[order[0]]), 0.0)
    probs /= probs.sum()
    before = np.cumsum(probs) - probs
    keep = order[(before < top_p) & finite]
    return np.sort(keep if keep.size else order[:1])


def nucleus(row, top_p):
    """The ids ``nucleus_mask`` keeps in one row, in id order."""
    return np.flatnonzero(nucleus_mask(row[None, :], top_p)[0])


def reference_draw(row, u):
    finite = np.isfinite(row)
    weights = np.where(finite, np.exp(row - row[finite].max()), 0.0)
    cumulative = np.cumsum(weights)
    out = min(int(np.searchsorted(cumulative, u * cumulative[-1], side="right")), len(row) - 1)
    return int(np.flatnonzero(finite)[-1]) if weights[out] == 0.0 else out


@st.composite
def rows(draw_, size=st.integers(1, 400)):
    """Log-prob-like rows: a few distinct levels (many ties), some -inf, sometimes one huge peak."""
    n = draw_(size)
    levels = draw_(st.integers(1, 12))
    seed = draw_(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    row = rng.choice(rng.normal(0, draw_(st.sampled_from([0.1, 1.0, 5.0])), levels), n)
    if draw_(st.booleans()):
        row[rng.random(n) < draw_(st.floats(0, 0.99))] = -np.inf
    if not np.isfinite(row).any():
        row[rng.integers(n)] = 0.0
    if draw_(st.booleans()):
        row[rng.integers(n)] += 20.0
    return row


@settings(max_examples=300, deadline=None)
@given(rows(), st.floats(1e-6, 1.0))
def test_nucleus_is_the_whole_row_definition(row, top_p):
    assert np.array_equal(np.sort(nucleus(row, top_p)), reference_nucleus(row, top_p))


@settings(max_examples=300, deadline=None)
@given(st.lists(rows(st.just(97)), min_size=1, max_size=4), st.integers(1, 120))
def test_top_k_mask_is_the_whole_row_definition(batch, k):
    scaled = np.stack(batch)
    mask = top_k_mask(scaled, k)
    for r, row in enumerate(scaled):
        # the kept ids: the k first of the stable descending order (where -inf, which ones does not matter)
        expected = reference_top_k(row, k)
        got = np.flatnonzero(mask[r])
        finite = np.isfinite(row)
        assert np.array_equal(got[finite[got]], expected[finite[expected]])
        assert got.size == min(k, row.size)


@settings(max_examples=300, deadline=None)
@given(rows(), st.floats(0.0, 1.0, exclude_max=True))
def test_draw_is_the_whole_row_definition(row, u):
    class Fixed:
        def random(self):
            return u

    assert int(draw(row[None, :], Fixed())[0]) == reference_draw(row, u)


@pytest.mark.parametrize("top_p", [0.001, 0.25, 0.5, 0.999, 1.0])
def test_nucleus_of_a_flat_row_takes_the_lowest_ids(top_p):
    """Everything tied: the nucleus is a run of the lowest ids, as long as the ranking's."""
    row = np.zeros(1000)
    row[::7] = -np.inf
    got = nucleus(row, top_p)
    assert np.array_equal(got, reference_nucleus(row, top_p))
    assert np.array_equal(got, np.flatnonzero(np.isfinite(row))[: got.size])


@pytest.mark.parametrize("decoder", [TopPDecoder(top_p=0.9), TopKDecoder(top_k=40)])
def test_filters_keep_the_values_and_drop_the_rest(decoder):
    rng = np.random.default_rng(3)
    with np.errstate(divide="ignore"):  # some probabilities underflow to 0: -inf, like a masked token
        scaled = np.log(rng.dirichlet(np.full(5000, 0.05), size=3))
    out = decoder.filter(scaled)
    kept = np.isfinite(out)
    assert kept.any(axis=1).all() and (kept.sum(axis=1) < 5000).all()
    assert np.array_equal(out[kept], scaled[kept])


@pytest.mark.parametrize("name, options", [("sample", {"temperature": 0.7}), ("top-k", {"top_k": 5}),
                                           ("top-p", {"top_p": 0.8}), ("greedy", {})])
def test_choosing_for_many_requests_at_once_equals_choosing_for_each(name, options):
    """A server chooses for every request's rows in one call; each request keeps its own generator's draws."""
    from tangpoet.decoding import get_decoder

    decoder = get_decoder(name, **options)
    assert decoder.batch_key() is not None and decoder.batch_key() == get_decoder(name, **options).batch_key()
    data = np.random.default_rng(0)
    with np.errstate(divide="ignore"):
        processed = [np.log(data.dirichlet(np.full(300, 0.1), size=rows)) for rows in (1, 3, 2)]
    alone = [decoder.choose(p, np.random.default_rng(seed)) for seed, p in enumerate(processed)]
    together = decoder.choose_many(processed, [np.random.default_rng(seed) for seed in range(len(processed))])
    assert [list(t) for t in together] == [list(a) for a in alone]


def test_a_decoder_with_its_own_filter_chooses_alone():
    class Odd(TopPDecoder):
        def filter(self, scaled):  # not the built-in row-wise filter: the server must not batch it with others
            return scaled

    assert Odd().batch_key() is None
    assert TopPDecoder(top_p=0.5).batch_key() != TopPDecoder(top_p=0.6).batch_key()
