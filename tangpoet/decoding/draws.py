"""Drawing one token per row in proportion to ``exp(log_probs)`` (``-inf``: never), from uniforms in row order."""

from __future__ import annotations

import numpy as np


def draw(log_probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One token per row drawn in proportion to ``exp(log_probs)`` (``-inf`` never drawn); one uniform per row, in
    row order (``rng.random(rows)`` draws the same numbers as one ``rng.random()`` per row)."""
    rows = np.asarray(log_probs, dtype=np.float64)
    return draw_with(rows, rng.random(rows.shape[0]))


def draw_with(log_probs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """:func:`draw` with the uniforms given: all rows at once (a server draws for many requests' rows together).

    Row ``r`` takes the first allowed (finite) id whose cumulative weight passes ``uniforms[r]`` × the row's total,
    the weights being ``exp(log_prob - max)`` summed in id order over the allowed ids only — after top-k / top-p a few
    hundred of the thousands. Past the end (a floating-point edge): the last allowed id.
    """
    rows = np.asarray(log_probs, dtype=np.float64)
    where_row, where_id, column, sizes = left_aligned(np.isfinite(rows))
    if (sizes == 0).any():
        raise ValueError("a row with no allowed token")
    starts = np.cumsum(sizes) - sizes
    values = rows[where_row, where_id]
    top = np.maximum.reduceat(values, starts)
    # the allowed weights of each row left-aligned in one matrix, zeros after them: a cumulative sum per row adds the
    # same numbers in the same order as over the row's allowed ids alone (adding 0.0 changes no float)
    weights = np.zeros((rows.shape[0], int(sizes.max())))
    weights[where_row, column] = np.exp(values - top[where_row])
    cumulative = np.cumsum(weights, axis=1)
    target = np.asarray(uniforms, dtype=np.float64) * cumulative[np.arange(rows.shape[0]), sizes - 1]
    position = np.minimum((cumulative <= target[:, None]).sum(axis=1), sizes - 1)
    return where_id[starts + position].astype(np.int64)


def left_aligned(selected: np.ndarray):
    """Each row's selected ids (``selected``: bool ``[rows, n]``), ascending and packed to the left of a
    ``[rows, most selected]`` matrix: ``(row, id, column)`` of every selected entry, in row-major order, and each
    row's count. (``np.flatnonzero``: a 2-D ``np.nonzero`` is ~20× slower.)"""
    where_row, where_id = np.divmod(np.flatnonzero(selected), selected.shape[1])
    sizes = np.bincount(where_row, minlength=selected.shape[0])
    column = np.arange(where_id.size) - (np.cumsum(sizes) - sizes)[where_row]
    return where_row, where_id, column, sizes
