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
    # row by row, ids ascending (flatnonzero: a 2-D np.nonzero is ~20× slower)
    where_row, where_id = np.divmod(np.flatnonzero(np.isfinite(rows)), rows.shape[1])
    sizes = np.bincount(where_row, minlength=rows.shape[0])
    if (sizes == 0).any():
        raise ValueError("a row with no allowed token")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    values = rows[where_row, where_id]
    top = np.maximum.reduceat(values, starts)
    # the allowed weights of each row left-aligned in one matrix, zeros after them: a cumulative sum per row adds the
    # same numbers in the same order as over the row's allowed ids alone (adding 0.0 changes no float)
    column = np.arange(values.size) - starts[where_row]
    weights = np.zeros((rows.shape[0], int(sizes.max())))
    weights[where_row, column] = np.exp(values - top[where_row])
    cumulative = np.cumsum(weights, axis=1)
    target = np.asarray(uniforms, dtype=np.float64) * cumulative[np.arange(rows.shape[0]), sizes - 1]
    position = np.minimum((cumulative <= target[:, None]).sum(axis=1), sizes - 1)
    return where_id[starts + position].astype(np.int64)
