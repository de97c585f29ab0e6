"""Nucleus (top-p) sampling: the mask of a row's nucleus, and a draw from it that looks only at the row's largest values.

``nucleus_mask`` is the definition, on whole rows: rank each row (largest first, ties in id order) and keep the fewest
tokens whose probability reaches ``top_p``. ``nucleus_draw`` gives exactly the token that
``draw_with(where(nucleus_mask(rows / T), rows / T, -inf), u)`` gives, without ranking, exponentiating or masking whole
rows in float64 — those passes over the 5,657-token rows were most of a sampling step (for a server, most of its
per-character Python). With the bundled model and top-p 0.9 a nucleus is ~170 tokens at the median and ~1,400 at
most: ``np.partition`` picks each row's ``k`` largest values, only those are ranked, and the probabilities are divided
by the row's total summed in float32; the nucleus's ids then come from one comparison of the whole row with its last
kept value (so every tie is there). A row whose count is not clear from that — its ``k`` largest do not reach
``top_p``, or a count is within ``MARGIN`` of ``top_p`` (the float32 total is within ~1e-6 of the float64 one) —
tries the next ``k``; after the last, the whole-row definition decides it.
"""

from __future__ import annotations

import numpy as np

from tangpoet.decoding.draws import draw_with, left_aligned

#: How many of a row's largest values are ranked, in turn, before falling back to the whole row (on rows recorded
#: from the bundled model, 16 at a time: (512, 2048) 1.8 ms, (256, 2048) 2.5 ms, (2048,) 4.1 ms; the whole-row
#: filter and draw 3.5–4.5 ms).
NUCLEUS_TRIES = (512, 2048)
#: A count closer than this to ``top_p`` is left to the whole-row definition: the float32 total is within ~1e-6
#: (relative) of the float64 one — each term's float32 ``exp`` within ~3e-7, its argument rounded to float32 within
#: |x| × 6e-8 for the terms that weigh — so the masses compared with ``top_p`` (at most 1) are within ~1e-6 too.
MARGIN = 3e-6


def nucleus_mask(scaled: np.ndarray, top_p: float) -> np.ndarray:
    """Per row, True for the fewest most likely tokens whose probability reaches ``top_p`` (at least one).

    Exactly the tokens of ranking each row (largest first, ties in id order) and counting the probability mass above
    each one — but the count needs only the sorted *values* (``np.sort``, ~8× faster than the stable ``argsort`` of
    ids); the ids are then those above the last kept value, plus the lowest ids tied with it. All rows in one go.
    """
    ranked = np.sort(scaled, axis=1)[:, ::-1]
    count, _, _ = _count(ranked, top_p)
    last = np.take_along_axis(ranked, (count - 1)[:, None], axis=1)
    keep = scaled > last
    tied = scaled == last
    room = count[:, None] - keep.sum(axis=1, keepdims=True)  # ties in id order, like the stable ranking
    if (tied.sum(axis=1, keepdims=True) <= room).all():  # the usual case: every tied token fits
        return keep | tied
    return keep | (tied & (np.cumsum(tied, axis=1) <= room))


def _count(ranked: np.ndarray, top_p: float, total: np.ndarray | None = None):
    """For rows of values ranked largest first: how many of each row's ranking the nucleus takes (at least one), the
    probability mass up to each place, and above each place. The probabilities are ``exp(value - max)`` divided by
    ``total`` — by default the ranked values' own sum (the whole row's)."""
    finite = np.isfinite(ranked)
    probs = np.zeros(ranked.shape)
    np.exp(ranked - ranked[:, :1], out=probs, where=finite)  # exp of the finite ones only (exp(-inf) is slow)
    probs /= probs.sum(axis=1, keepdims=True) if total is None else total[:, None]
    mass = np.cumsum(probs, axis=1)
    before = mass - probs  # probability mass of the tokens ranked above each one
    return np.maximum(((before < top_p) & finite).sum(axis=1), 1), mass, before


def nucleus_draw(
    log_probs: np.ndarray, temperature: float, top_p: float, uniforms: np.ndarray, tries: tuple[int, ...] = NUCLEUS_TRIES
) -> np.ndarray:
    """One token per row from the nucleus of ``log_probs / temperature``, with ``uniforms[r]`` for row ``r``: the token
    :func:`~tangpoet.decoding.draws.draw_with` draws from the rows filtered by :func:`nucleus_mask`."""
    rows = np.asarray(log_probs)
    if rows.dtype not in (np.float32, np.float64):
        rows = rows.astype(np.float64)
    uniforms = np.asarray(uniforms, dtype=np.float64)
    n_rows, n = rows.shape
    out = np.full(n_rows, -1, dtype=np.int64)
    top = rows.max(axis=1)
    todo = np.flatnonzero(np.isfinite(top))
    tries = [k for k in tries if 2 * k < n]
    if tries and todo.size:
        # the rows' totals, sum(exp((x - max) / T)), in float32: only compared with a margin
        every = todo.size == n_rows
        shifted = ((rows if every else rows[todo]) - top[todo, None]).astype(np.float32)
        if temperature != 1:
            shifted /= np.float32(temperature)
        weights = np.zeros(shifted.shape, dtype=np.float32)
        total = np.zeros(n_rows)
        total[todo] = np.exp(shifted, out=weights, where=np.isfinite(shifted)).sum(axis=1, dtype=np.float64)
        for k in tries:
            if todo.size == 0:
                break
            part = rows if todo.size == n_rows else rows[todo]
            done, chosen = _from_largest(part, k, temperature, top_p, total[todo], uniforms[todo])
            out[todo[done]] = chosen
            todo = todo[~done]
    if todo.size:  # the definition, on whole rows
        scaled = rows[todo].astype(np.float64) / temperature
        out[todo] = draw_with(np.where(nucleus_mask(scaled, top_p), scaled, -np.inf), uniforms[todo])
    return out


def _from_largest(rows, k: int, temperature: float, top_p: float, total, uniforms):
    """For each row, from its ``k`` largest values: whether the nucleus is decided there, and the drawn token of the
    rows where it is."""
    n = rows.shape[1]
    # the k largest values, ranked (values only: np.partition and a sort of k, no ids); the ranking of the rows'
    # own values is that of the scaled float64 ones (dividing by a temperature keeps the order and the ties)
    largest = np.sort(np.partition(rows, n - k, axis=1)[:, n - k :], axis=1)[:, ::-1]
    ranked = largest.astype(np.float64) / temperature
    count, mass, before = _count(ranked, top_p, total)
    # decided: the k reach top_p and no count is near it
    done = (mass[:, -1] >= top_p + MARGIN) & (np.abs(before - top_p) > MARGIN).all(axis=1)
    if not done.any():
        return done, np.zeros(0, dtype=np.int64)
    rows, largest, count, uniforms = rows[done], largest[done], count[done], uniforms[done]
    last = largest[np.arange(rows.shape[0]), count - 1]
    # the nucleus: every id above the last kept value, and the lowest ids equal to it up to the count — in id order
    where_row, where_id, column, sizes = left_aligned(rows >= last[:, None])
    values = np.full((rows.shape[0], int(sizes.max())), -np.inf)
    values[where_row, column] = rows[where_row, where_id]
    ids = np.zeros(values.shape, dtype=np.int64)
    ids[where_row, column] = where_id
    tied = values == last[:, None]
    above = (values > last[:, None]).sum(axis=1, keepdims=True)
    member = (values > last[:, None]) | (tied & (np.cumsum(tied, axis=1) <= count[:, None] - above))
    # drawn over the members in id order with weights exp(value - max) and exact zeros between: the sums of
    # draw_with over the filtered row (adding 0.0 changes no float)
    scaled = values.astype(np.float64) / temperature
    weights = np.zeros(values.shape)
    np.exp(scaled - ranked[done][:, :1], out=weights, where=member)
    cumulative = np.cumsum(weights, axis=1)
    target = uniforms * cumulative[:, -1]
    position = (cumulative <= target[:, None]).sum(axis=1)
    # past the end (a floating-point edge): the last member
    last_member = member.shape[1] - 1 - np.argmax(member[:, ::-1], axis=1)
    position = np.minimum(position, last_member)
    return done, ids[np.arange(rows.shape[0]), position]
