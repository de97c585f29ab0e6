"""The sampling filters and the draw equal their plain definitions (whole-row sorts), ties and -inf included.

``top_k_mask`` / ``nucleus`` / ``draw`` avoid sorting a 5,000-token row (most of a sampling step's time); the
reference functions below are the definitions they replaced, written out the slow way.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tangpoet.decoding.nucleus import nucleus_draw, nucleus_mask
from tangpoet.decoding.sampling import TopKDecoder, TopPDecoder, draw, top_k_mask


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
    assert np.array_equal(nucleus(row, top_p), reference_nucleus(row, top_p))


def reference_nucleus_draw(row, temperature, top_p, u):
    """Filter the whole row to its nucleus, then draw: what ``nucleus_draw`` must give."""
    scaled = row.astype(np.float64) / temperature
    allowed = reference_nucleus(scaled, top_p)
    filtered = np.full(row.shape, -np.inf)
    filtered[allowed] = scaled[allowed]
    return reference_draw(filtered, u)


@settings(max_examples=300, deadline=None)
@given(st.lists(rows(st.integers(40, 300)), min_size=1, max_size=3), st.floats(1e-6, 1.0), st.sampled_from([1.0, 0.7, 1.3]),
       st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=3, max_size=3), st.sampled_from([(4, 16), (8,), ()]))
def test_nucleus_draw_is_filter_then_draw(batch, top_p, temperature, us, tries):
    """From each row's largest values (small ``tries`` on the tests' short rows: decided there, by the next try, or
    by the whole-row fallback), rows of different lengths' worth of -inf, ties, float32 and float64 rows."""
    width = max(len(row) for row in batch)
    stacked = np.full((len(batch), width), -np.inf)
    for r, row in enumerate(batch):
        stacked[r, : len(row)] = row
    uniforms = np.asarray(us[: len(batch)])
    for dtype in (np.float64, np.float32):
        rows_ = stacked.astype(dtype)
        got = nucleus_draw(rows_, temperature, top_p, uniforms, tries=tries)
        expected = [reference_nucleus_draw(rows_[r], temperature, top_p, uniforms[r]) for r in range(len(batch))]
        assert list(got) == expected


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0.5, 0.9, 0.95, 0.999, 1.0]), st.sampled_from([0.02, 0.2, 1.0]))
def test_nucleus_draw_on_model_sized_rows(seed, top_p, concentration):
    """Rows the size of the bundled model's vocabulary, peaked or flat (nuclei of a few to thousands of tokens), with
    the default tries: the definition's tokens, and most rows decided from their largest values."""
    rng = np.random.default_rng(seed)
    with np.errstate(divide="ignore"):
        scaled = np.log(rng.dirichlet(np.full(5657, concentration), size=6)).astype(np.float32)
    scaled[1, rng.random(5657) < 0.5] = -np.inf
    uniforms = rng.random(6)
    got = nucleus_draw(scaled, 1.0, top_p, uniforms)
    assert list(got) == [reference_nucleus_draw(scaled[r], 1.0, top_p, uniforms[r]) for r in range(6)]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 60), st.sampled_from([-1, 0, 1]))
def test_nucleus_draw_on_a_boundary_is_the_definition(seed, place, nudge):
    """``top_p`` exactly at (or one float next to) a mass the definition computes: the partial ranking's float32 total
    could decide such a count the other way, so the margin must hand these rows to the whole-row definition."""
    rng = np.random.default_rng(seed)
    with np.errstate(divide="ignore"):
        row = np.log(rng.dirichlet(np.full(300, 0.3))).astype(np.float32)
    order = np.argsort(-row.astype(np.float64), kind="stable")
    probs = np.exp(row[order].astype(np.float64) - row[order[0]])
    probs /= probs.sum()
    top_p = float((np.cumsum(probs) - probs)[place])  # the mass above the token ranked `place`
    top_p = float(np.nextafter(top_p, 2.0 if nudge > 0 else -1.0)) if nudge else top_p
    if not 0 < top_p <= 1:
        return
    for u in (0.1, 0.5, 0.9):
        got = nucleus_draw(row[None, :], 1.0, top_p, np.asarray([u]), tries=(16, 64))
        assert int(got[0]) == reference_nucleus_draw(row, 1.0, top_p, u)


def test_nucleus_draw_decides_most_rows_from_their_largest_values(monkeypatch):
    """The partial ranking is what runs (the fallback would be as slow as before): with the whole-row fallback
    disabled, rows of model-like log-probs are still drawn."""
    import tangpoet.decoding.nucleus as nucleus_module

    def refuse(*args, **kwargs):
        raise AssertionError("fell back to the whole rows")

    monkeypatch.setattr(nucleus_module, "nucleus_mask", refuse)
    rng = np.random.default_rng(1)
    with np.errstate(divide="ignore"):
        scaled = np.log(rng.dirichlet(np.full(5657, 0.05), size=8)).astype(np.float32)
    assert nucleus_draw(scaled, 1.0, 0.9, rng.random(8)).shape == (8,)


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
        def random(self, size=None):
            return u if size is None else np.full(size, u)

    assert int(draw(row[None, :], Fixed())[0]) == reference_draw(row, u)


def test_draw_takes_one_uniform_per_row_in_order():
    """Drawing for all rows at once uses the generator as one draw per row did (a seed writes the same poem)."""
    rng = np.random.default_rng(4)
    with np.errstate(divide="ignore"):
        rows_ = np.log(rng.dirichlet(np.full(500, 0.1), size=6))
    together = draw(rows_, np.random.default_rng(9))
    one_by_one, gen = [], np.random.default_rng(9)
    for row in rows_:
        one_by_one.append(reference_draw(row, gen.random()))
    assert list(together) == one_by_one


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
