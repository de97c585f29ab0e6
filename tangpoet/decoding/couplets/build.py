"""Learn what pairs with what in parallel couplets (对仗) from real 律诗: a :class:`~tangpoet.decoding.couplets.table.
PairTable`.

1. **Pairs.** Every poem of eight verses of five or seven characters (a 律诗's shape) gives its middle couplets
   (颔联 lines 3–4, 颈联 lines 5–6, which a 律诗 must make parallel): each position pairs the first line's character
   with the second's, counted both ways round.
2. **Classes.** Each character is described by whom it pairs with — its row of positive pointwise mutual information
   (PPMI) over the pair counts, reduced by a truncated SVD to ``dims`` dimensions — and the characters are grouped by
   k-means (cosine) into ``classes`` classes. Characters that pair alike (colours with colours, numbers with numbers)
   share a class, so a pair never seen is scored by how its classes pair. (Classes from the bundled model's embeddings
   are the alternative ``tools/build_pair_table.py --classes embeddings`` measures.)
3. **Score.** ``P(b | a)`` interpolates the pair's own count with the class prior (weight ``beta``); the score is
   its log-ratio to chance (see :mod:`~tangpoet.decoding.couplets.table`).

:func:`evaluate` measures a table on held-out poems: the log-likelihood of the second line's character given the
first's, and the share of positions read as paired in real middle couplets, in the first and last couplets (which
need not be parallel) and in couplets whose second line comes from another poem.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from tangpoet.decoding.couplets.table import PairTable

_MARKS = re.compile("[，。？！；]")


def verses_of(text: str) -> list[str]:
    return [v for v in _MARKS.split(text) if v]


def lvshi_verses(text: str) -> list[str] | None:
    """The eight verses of ``text`` when it has a 律诗's shape (8 verses of 5 or 7 characters, a mark after each)."""
    verses = verses_of(text)
    if len(verses) != 8 or len({len(v) for v in verses}) != 1 or len(verses[0]) not in (5, 7):
        return None
    if len(text) != 8 * (len(verses[0]) + 1):
        return None
    return verses


def couplets(texts: Iterable[str], which: str = "middle") -> list[tuple[str, str]]:
    """The couplets of the 律诗 among ``texts``: ``middle`` (lines 3–4 and 5–6) or ``outer`` (1–2 and 7–8)."""
    lines = (2, 4) if which == "middle" else (0, 6)
    out = []
    for text in texts:
        verses = lvshi_verses(text)
        if verses is not None:
            out += [(verses[i], verses[i + 1]) for i in lines]
    return out


def pair_counts(pairs: Iterable[tuple[str, str]]) -> Counter:
    """``Counter`` of ``(a, b)`` with ``a <= b``: the characters at each position of the couplets, unordered."""
    counts: Counter = Counter()
    for first, second in pairs:
        for a, b in zip(first, second):
            counts[(a, b) if a <= b else (b, a)] += 1
    return counts


def _matrix(counts: Counter, chars: str):
    from scipy import sparse

    index = {c: i for i, c in enumerate(chars)}
    a = np.asarray([index[x] for x, _ in counts], dtype=np.int64)
    b = np.asarray([index[y] for _, y in counts], dtype=np.int64)
    k = np.asarray(list(counts.values()), dtype=np.float64)
    off = a != b
    n = len(chars)
    return sparse.csr_matrix((np.concatenate([k, k[off]]), (np.concatenate([a, b[off]]), np.concatenate([b, a[off]]))),
                             shape=(n, n))


def pair_features(matrix, dims: int = 64) -> np.ndarray:
    """Per character, its PPMI row over the pair counts reduced to ``dims`` dimensions (unit length)."""
    from scipy.sparse.linalg import svds

    m = matrix.tocoo()
    rows = np.asarray(matrix.sum(axis=1)).ravel()
    total = rows.sum()
    pmi = np.log(m.data * total / (rows[m.row] * rows[m.col]))
    keep = pmi > 0
    from scipy import sparse

    ppmi = sparse.csr_matrix((pmi[keep], (m.row[keep], m.col[keep])), shape=m.shape)
    k = min(dims, min(ppmi.shape) - 2)
    u, s, _ = svds(ppmi, k=k, random_state=0)
    x = u * np.sqrt(s)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


def kmeans(x: np.ndarray, k: int, weights: np.ndarray | None = None, iterations: int = 40, seed: int = 0) -> np.ndarray:
    """Spherical k-means (rows of ``x`` unit length), k-means++ start weighted by ``weights``; the class of each row."""
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    k = min(k, n)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    centres = [x[rng.choice(n, p=w / w.sum())]]
    dist = 1 - x @ centres[0]
    for _ in range(1, k):
        p = w * np.maximum(dist, 0) ** 2
        centres.append(x[rng.choice(n, p=p / p.sum()) if p.sum() > 0 else rng.integers(n)])
        dist = np.minimum(dist, 1 - x @ centres[-1])
    c = np.stack(centres)
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(iterations):
        new = np.argmax(x @ c.T, axis=1)
        if _ and (new == labels).all():
            break
        labels = new
        for j in range(k):
            members = labels == j
            if members.any():
                v = (x[members] * w[members, None]).sum(axis=0)
                c[j] = v / max(np.linalg.norm(v), 1e-9)
    # classes numbered by size, the largest first
    sizes = np.bincount(labels, weights=w, minlength=k)
    order = np.argsort(-sizes, kind="stable")
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    return rank[labels]


def build_table(train: Sequence[str], *, classes: int = 96, dims: int = 64, beta: float = 4.0,
                threshold: float = 0.5, min_pair: int = 1, features: dict[str, np.ndarray] | None = None,
                seed: int = 0) -> PairTable:
    """A :class:`PairTable` from the middle couplets of the 律诗 among ``train`` (poem contents).

    ``features``: char → vector to cluster instead of the pairing statistics (e.g. a model's embeddings);
    ``min_pair``: pairs seen fewer times are left to the class prior (a smaller file)."""
    counts = pair_counts(couplets(train, "middle"))
    chars = "".join(sorted({c for pair in counts for c in pair}))
    matrix = _matrix(counts, chars)
    totals = np.asarray(matrix.sum(axis=1)).ravel()
    if features is None:
        x = pair_features(matrix, dims)
    else:
        dim = len(next(iter(features.values())))
        x = np.stack([np.asarray(features.get(c, np.zeros(dim)), dtype=np.float64) for c in chars])
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)
    labels = kmeans(x, classes, weights=np.sqrt(totals), seed=seed)
    k = int(labels.max()) + 1
    onehot = np.zeros((len(chars), k))
    onehot[np.arange(len(chars)), labels] = 1
    class_pairs = onehot.T @ (matrix @ onehot)
    index = {c: i for i, c in enumerate(chars)}
    kept = [(index[a], index[b], n) for (a, b), n in counts.items() if n >= min_pair]
    pairs = np.asarray(kept, dtype=np.int64).reshape(-1, 3)
    return PairTable(chars, labels, class_pairs, totals, pairs, beta, threshold,
                     {"poems": len(train), "couplets": sum(1 for _ in couplets(train, "middle")), "classes": k,
                      "dims": dims, "min_pair": min_pair, "classes_from": "pairs" if features is None else "features"})


def shuffled(pairs: Sequence[tuple[str, str]], shift: int = 1) -> list[tuple[str, str]]:
    """Each couplet's first line with the second line of another couplet of the same length."""
    by_len: dict[int, list[int]] = {}
    for i, (first, _) in enumerate(pairs):
        by_len.setdefault(len(first), []).append(i)
    out = []
    for members in by_len.values():
        for j, i in enumerate(members):
            out.append((pairs[i][0], pairs[members[(j + shift) % len(members)]][1]))
    return out


def paired_share(table: PairTable, pairs: Sequence[tuple[str, str]]) -> float:
    """The share of positions of ``pairs`` (couplets) that ``table`` reads as paired."""
    hits = total = 0
    for first, second in pairs:
        for a, b in zip(first, second):
            total += 1
            hits += table.paired(a, b)
    return hits / max(total, 1)


def evaluate(table: PairTable, heldout: Sequence[str]) -> dict:
    """On held-out poems: ``loglik`` (mean log P(b | a) over middle-couplet positions both characters of which the
    table knows, nats), ``coverage`` (their share), and the paired share of real middle couplets, of first/last
    couplets and of middle couplets with the second line from another poem."""
    middle, outer = couplets(heldout, "middle"), couplets(heldout, "outer")
    lls, total = [], 0
    for first, second in middle:
        for a, b in zip(first, second):
            total += 1
            i, j = table.index.get(a), table.index.get(b)
            if i is None or j is None:
                continue
            lls.append(float(table.log_probs(i)[j]))
    return {
        "couplets": len(middle),
        "loglik": float(np.mean(lls)) if lls else float("nan"),
        "coverage": len(lls) / max(total, 1),
        "middle": paired_share(table, middle),
        "outer": paired_share(table, outer),
        "shuffled": paired_share(table, shuffled(middle)),
    }
